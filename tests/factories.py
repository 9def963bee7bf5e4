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


def build_world(database: Database, clock: Clock) -> World:
    world = World()
    with database.transaction() as session:
        world.offices["ops"] = make_office(session, clock, "ops", OfficeKind.OPERATIONS, "US")
        world.offices["president-elect"] = make_office(
            session, clock, "president-elect", OfficeKind.PRINCIPAL, "US"
        )
        world.offices["ie-taoiseach"] = make_office(
            session, clock, "ie-taoiseach", OfficeKind.FOREIGN, "IE"
        )
        for role in Role:
            office = world.offices[HOME_OFFICE[role]]
            user = make_user(session, clock, role.value.replace("_", "-"), [(role, office)])
            world.users[role] = user
            world.tokens[role] = make_token(session, clock, user, role, office)
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
