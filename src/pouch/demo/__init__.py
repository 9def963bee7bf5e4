"""The demo scenario: a transition week, loaded by ``pouch demo`` and ``make run``.

Each capability adds its part here. Loading is idempotent: running it twice
leaves the same scenario.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.directory import transfer
from pouch.identity import service as identity_service
from pouch.identity.models import Role, User
from pouch.settings import Settings

DEMO_PASSWORD = "pouch-demo-2026"  # noqa: S105 - published on purpose; the demo is not for production

#: (username, display name, [(role, office slug)]) for every role of design.md.
DEMO_USERS: list[tuple[str, str, list[tuple[Role, str]]]] = [
    ("admin", "Alex Admin", [(Role.ADMINISTRATOR, "ops"), (Role.ADMINISTRATOR, "president-elect")]),
    ("watch1", "Wanda Watch", [(Role.WATCH_OFFICER, "ops")]),
    ("watch2", "Walter Watch", [(Role.WATCH_OFFICER, "ops")]),
    ("principal", "Jordan Avery", [(Role.PRINCIPAL, "president-elect")]),
    ("staff", "Sam Staff", [(Role.PRINCIPAL_STAFF, "president-elect")]),
    ("protocol", "Priya Protocol", [(Role.PROTOCOL_OFFICER, "ops")]),
    ("translator", "Tomás Translator", [(Role.TRANSLATOR, "ops")]),
    ("interpreter", "Ines Interpreter", [(Role.INTERPRETER, "ops")]),
    ("auditor", "Aurelia Auditor", [(Role.AUDITOR, "ops")]),
    ("sender-ie", "Siobhán (Dublin)", [(Role.SENDER, "ie-taoiseach")]),
    ("sender-fr", "Sylvie (Paris)", [(Role.SENDER, "fr-elysee")]),
]


def load(session: Session, *, settings: Settings, now: datetime) -> str:
    """Load the scenario; returns a one-paragraph summary for the console."""
    text = (Path(__file__).parent / "directory.yaml").read_text(encoding="utf-8")
    counts = transfer.import_directory(session, text=text, now=now)
    password = (
        settings.admin_password.get_secret_value()
        if settings.admin_password is not None
        else DEMO_PASSWORD
    )
    created = 0
    for username, display_name, grants in DEMO_USERS:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = identity_service.create_user(
                session,
                username=username,
                display_name=display_name,
                password=password,
                email=f"{username}@demo.pouch.invalid",
                now=now,
            )
            created += 1
        for role, slug in grants:
            office = directory_service.get_office_by_slug(session, slug)
            identity_service.grant_role(
                session, user_id=user.id, office_id=office.id, role=role, now=now
            )
    return (
        f"demo loaded: {counts['offices_created']} offices and {counts['people_created']} people "
        f"created, {counts['offices_updated']} offices updated; {created} users created. "
        f"Log in as admin, watch1, principal, sender-ie … with the demo password."
    )
