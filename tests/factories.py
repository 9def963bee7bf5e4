"""Builders for test data, written through the real services."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.directory.schemas import OfficeIn
from pouch.identity import service as identity_service
from pouch.identity.models import Role, User

PASSWORD = "correct horse battery staple"

#: Where each role naturally lives.
HOME_OFFICE = {
    Role.ADMINISTRATOR: "ops",
    Role.WATCH_OFFICER: "ops",
    Role.PROTOCOL_OFFICER: "ops",
    Role.TRANSLATOR: "ops",
    Role.INTERPRETER: "ops",
    Role.AUDITOR: "ops",
    Role.PRINCIPAL: "president-elect",
    Role.PRINCIPAL_STAFF: "president-elect",
    Role.SENDER: "ie-taoiseach",
}


def make_office(
    session: Session, clock: Clock, slug: str, kind: OfficeKind, country: str
) -> Office:
    return directory_service.create_office(
        session,
        data=OfficeIn(slug=slug, name=f"Office {slug}", kind=kind, country_code=country),
        now=clock.now(),
    )


def make_user(
    session: Session, clock: Clock, username: str, grants: list[tuple[Role, Office]]
) -> User:
    user = identity_service.create_user(
        session,
        username=username,
        display_name=username.title(),
        password=PASSWORD,
        email=None,
        now=clock.now(),
    )
    for role, office in grants:
        identity_service.grant_role(
            session, user_id=user.id, office_id=office.id, role=role, now=clock.now()
        )
    return user


def make_token(session: Session, clock: Clock, user: User, role: Role, office: Office) -> str:
    secret, _ = identity_service.issue_token(
        session,
        user_id=user.id,
        office_id=office.id,
        role=role,
        name="test",
        now=clock.now(),
        lifetime=timedelta(days=30),
    )
    return secret


@dataclass
class World:
    """Three offices and, for every role, a user holding it at home with a token."""

    offices: dict[str, Office] = field(default_factory=dict)
    users: dict[Role, User] = field(default_factory=dict)
    tokens: dict[Role, str] = field(default_factory=dict)

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


#: The world's offices: slug, kind, country.
WORLD_OFFICES = [
    ("ops", OfficeKind.OPERATIONS, "US"),
    ("president-elect", OfficeKind.PRINCIPAL, "US"),
    ("ie-taoiseach", OfficeKind.FOREIGN, "IE"),
]


def world_username(role: Role) -> str:
    return role.value.replace("_", "-")


def build_world(database: Database, clock: Clock) -> World:
    world = World()
    with database.transaction() as session:
        for slug, kind, country in WORLD_OFFICES:
            world.offices[slug] = make_office(session, clock, slug, kind, country)
        for role in Role:
            office = world.offices[HOME_OFFICE[role]]
            user = make_user(session, clock, world_username(role), [(role, office)])
            world.users[role] = user
            world.tokens[role] = make_token(session, clock, user, role, office)
    return world


def load_world(database: Database, tokens: dict[Role, str]) -> World:
    """The world ``build_world`` made and committed earlier in ``database``, whose tokens'
    secrets were ``tokens``: read again, as objects of this test's own."""
    world = World(tokens=dict(tokens))
    with database.transaction(write=False) as session:
        for slug, _, _ in WORLD_OFFICES:
            world.offices[slug] = directory_service.get_office_by_slug(session, slug)
        for role in Role:
            world.users[role] = identity_service.get_user_by_username(session, world_username(role))
    return world


def log_in_form(client: TestClient, username: str) -> str:
    """Log in through the login form as a person would; returns the session's
    anti-forgery token, for the page forms that follow."""
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    page = client.get("/").text
    mine = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert mine is not None, "the login failed"
    return mine.group(1)
