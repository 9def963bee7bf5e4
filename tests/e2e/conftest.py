"""End to end: a real `pouch serve` on the demo, driven by Debian's Chromium.

One server and one browser for the session; each test opens its own browser
contexts (one per person) and closes them. Logins are done once per user and
their cookies reused. The test process writes to the server's SQLite file
only through Pouch's services: to inject a message, or to run the deadline
worker at a chosen time, since a browser cannot move the server's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select

from pouch.clock import SystemClock
from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.identity import service as identity_service
from pouch.messages import acceptance, worker
from pouch.messages import service as message_service
from pouch.messages.models import Hold, Message
from pouch.messages.rules import Precedence, Timetable
from tests.conftest import empty_database
from tests.e2e.server import LAPTOP, Server, launch, log_in, running


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("e2e")) as served:
        yield served


@contextmanager
def served_demo(
    backend: str,
    database_urls: dict[str, str | None],
    data_dir: Path,
    **options: Any,
) -> Iterator[Server]:
    """The demo served on a database of its own on ``backend``, for the modules that
    walk an attack on both backends (the session's ``server`` is SQLite)."""
    with (
        empty_database(backend, database_urls, data_dir) as url,
        running(data_dir, database_url=url, **options) as served,
    ):
        yield served


@pytest.fixture(scope="session")
def served_db(server: Server) -> Iterator[Database]:
    database = Database.from_url(server.database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@dataclass
class Visitor:
    """A person at a browser: the page, and what the page did that it should not have."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Whether the person answers OK to the page's questions (``confirm``).
    confirms: bool = False

    def csrf(self) -> str:
        return str(self.page.locator("input[name=csrf_token]").first.get_attribute("value"))


Visit = Callable[..., Visitor]


@pytest.fixture(scope="session")
def login_states() -> dict[tuple[str, str], Any]:
    """Each user's logged-in browser state, by server: modules with servers of their own
    (test_admin's on PostgreSQL) log in there too, and a login kept for one server
    would be a stranger's cookie to another."""
    return {}


@pytest.fixture
def visit(
    browser: Browser, server: Server, login_states: dict[tuple[str, str], Any]
) -> Iterator[Visit]:
    """``visit("watch1")`` is watch1 logged in at a laptop; ``visit(None)`` is anonymous."""
    contexts = []
    visitors: list[Visitor] = []

    def open_as(
        username: str | None,
        *,
        viewport: dict[str, int] = LAPTOP,
        timezone: str = "Asia/Tokyo",
        javascript: bool = True,
    ) -> Visitor:
        context = browser.new_context(
            base_url=server.base_url,
            viewport=viewport,  # type: ignore[arg-type]
            timezone_id=timezone,
            locale="en-US",
            java_script_enabled=javascript,
            accept_downloads=True,
            storage_state=login_states.get((server.base_url, username)) if username else None,
        )
        contexts.append(context)
        page = context.new_page()
        visitor = Visitor(page)
        visitors.append(visitor)

        def on_dialog(dialog: Any) -> None:
            visitor.dialogs.append(dialog.message)
            if visitor.confirms:
                dialog.accept()
            else:
                dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: visitor.errors.append(str(error)))
        if username is not None and (server.base_url, username) not in login_states:
            log_in(page, username)
            login_states[server.base_url, username] = context.storage_state()
        return visitor

    yield open_as
    for context in contexts:
        context.close()
    for visitor in visitors:
        assert visitor.errors == [], f"JavaScript errors: {visitor.errors}"


# -- the server's database, through Pouch's services ----------------------------------


def submit(
    server: Server,
    database: Database,
    *,
    subject: str,
    body: str = "Text of the letter.",
    sender: str = "ie-taoiseach",
    to: str = "president-elect",
    body_format: str = "text",
    precedence: Precedence = Precedence.ROUTINE,
    language: str | None = "en",
    attachments: tuple[acceptance.AttachmentData, ...] = (),
) -> str:
    """Accept a message as intake would; returns its public id."""
    settings = server.settings()
    with database.transaction() as session:
        accepted = acceptance.accept(
            session,
            submission=acceptance.Submission(
                sender_office_id=directory_service.get_office_by_slug(session, sender).id,
                addressee_office_id=directory_service.get_office_by_slug(session, to).id,
                subject=subject,
                body=body,
                body_format=body_format,
                language=language,
                precedence=precedence,
                security_label=None,
                attachments=attachments,
            ),
            submitted_by_user_id=None,
            signature=None,
            idempotency_key=None,
            request_hash=None,
            now=SystemClock().now(),
            timetable=Timetable.from_settings(settings),
            limits=acceptance.Limits(settings.max_attachment_bytes, settings.max_attachments),
        )
        return accepted.message.public_id


def route(database: Database, public_id: str, *, by: str = "watch2") -> None:
    with database.transaction() as session:
        officer = identity_service.get_user_by_username(session, by)
        message_service.route(
            session, public_id=public_id, actor_user_id=officer.id, now=SystemClock().now()
        )


def load_message(database: Database, public_id: str) -> Message:
    with database.transaction(write=False) as session:
        return message_service.get_message(session, public_id)


def holds_of(database: Database, public_id: str) -> list[Hold]:
    with database.transaction(write=False) as session:
        found = message_service.get_message(session, public_id)
        return list(session.scalars(select(Hold).where(Hold.message_id == found.id)))


def run_worker(database: Database, *, at: datetime) -> worker.Done:
    """The deadline worker, run at ``at``: how a test makes a hold expire without waiting."""
    with database.transaction() as session:
        return worker.run_due(session, now=at)


def wait_published(server: Server, index: int) -> None:
    """Until a checkpoint covers ``index``: the integrator runs in the background."""
    deadline = time.monotonic() + 15
    while httpx.get(f"{server.base_url}/api/log").json()["size"] <= index:
        assert time.monotonic() < deadline, f"log entry {index} not published in 15 s"
        time.sleep(0.1)


@pytest.fixture(scope="session")
def docs_vectors() -> list[dict[str, Any]]:
    import json

    text = (Path(__file__).parents[2] / "docs" / "log-format.md").read_text(encoding="utf-8")
    block = text.split("<!-- vectors -->", 1)[1].split("<!-- /vectors -->", 1)[0]
    vectors: list[dict[str, Any]] = json.loads(block.strip().removeprefix("```json").rstrip("`"))
    return vectors


def session_cookies(visit: Visit, username: str) -> dict[str, str]:
    """The cookies of ``username``'s logged-in browser, for a plain HTTP client."""
    state = visit(username).page.context.storage_state()
    return {c["name"]: c["value"] for c in state["cookies"]}
