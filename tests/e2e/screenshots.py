"""`make screenshots`: each page of the demo at laptop and phone width, into docs/screenshots/.

Runs its own server on the demo scenario (see tests/e2e/server.py), sets a
scene or two through Pouch's services (a hold waiting for a second officer, a
verified receipt), and photographs each page as its main user sees it.

    uv run python -m tests.e2e.screenshots [output directory]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select

from pouch.briefings.models import CallRecord, Packet
from pouch.calls.models import CallRequest
from pouch.clock import SystemClock
from pouch.db import Database
from pouch.identity import service as identity_service
from pouch.messages import holds
from pouch.messages import service as message_service
from pouch.messages.models import MessageState
from pouch.messages.rules import Timetable
from tests.e2e.server import LAPTOP, PHONE, Server, launch, log_in, running

OUTPUT = Path(__file__).parents[2] / "docs" / "screenshots"


def _set_scene(server: Server) -> dict[str, str]:
    """A hold request waiting for a second officer, and the ids the shots need."""
    database = Database.from_url(server.database_url)
    try:
        with database.transaction() as session:
            queue = message_service.queue(session)
            waiting = next(m for m in queue if m.state == MessageState.ACCEPTED)
            officer = identity_service.get_user_by_username(session, "watch1")
            holds.request_hold(
                session,
                public_id=waiting.public_id,
                officer_id=officer.id,
                reason="Confirm the signatory with the embassy",
                duration=timedelta(minutes=45),
                now=SystemClock().now(),
                timetable=Timetable.from_settings(server.settings()),
            )
            rows = message_service.inbox(
                session, office_id=waiting.addressee_office_id, user_id=officer.id
            )
            delivered = next(m for m, _ in rows if m.state == MessageState.DELIVERED)
            tracked = next(
                m
                for m, _ in rows
                if m.state == MessageState.ACKNOWLEDGED and m.subject == "Invitation to Dublin"
            )
            # The demo's call with a cleared briefing packet (pouch.demo.briefings).
            prepared = session.scalar(
                select(CallRequest.public_id)
                .join(CallRecord, CallRecord.request_id == CallRequest.id)
                .join(Packet, Packet.record_id == CallRecord.id)
                .order_by(Packet.id)
            )
            assert prepared is not None
            return {
                "inbox_message": delivered.public_id,
                "track_message": tracked.public_id,
                "briefing_call": prepared,
            }
    finally:
        database.dispose()


def _verify(page: Page) -> None:
    page.locator("ol.steps li", has_text="Accepted").get_by_role(
        "button", name="Verify here"
    ).first.click()
    page.locator("#verify-result[data-outcome=verified]").wait_for()


def _shots(ids: dict[str, str]) -> list[tuple[str, str | None, str, Callable[[Page], None]]]:
    def nothing(_: Page) -> None:
        return None

    return [
        ("login", None, "/login", nothing),
        ("watch-floor", "watch2", "/watch", nothing),
        ("inbox", "principal", "/inbox", nothing),
        ("inbox-message", "staff", f"/inbox/{ids['inbox_message']}", nothing),
        ("tracking", "sender-ie", "/track", nothing),
        ("receipt-verified", "sender-ie", f"/track/{ids['track_message']}", _verify),
        ("ledger", "auditor", "/ledger", nothing),
        ("admin", "admin", "/admin", nothing),
        ("calls", "watch1", "/calls", nothing),
        ("briefing", "principal", f"/briefings/{ids['briefing_call']}", nothing),
        ("precedence", "protocol", "/calls/precedence", nothing),
        ("translations", "translator", "/translations", nothing),
        ("interpreting", "interpreter", "/interpreting", nothing),
        ("find", "watch1", "/find?q=congratulations&sort=newest", nothing),
        ("account", "sender-ie", "/account", nothing),
    ]


def photograph(browser: Browser, server: Server, output: Path) -> list[Path]:
    ids = _set_scene(server)
    states: dict[str, Any] = {}
    written = []
    for name, username, path, prepare in _shots(ids):
        for device, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
            context = browser.new_context(
                base_url=server.base_url,
                viewport=viewport,  # type: ignore[arg-type]
                timezone_id="Europe/Paris",
                locale="en-GB",
                storage_state=states.get(username) if username else None,
            )
            try:
                page = context.new_page()
                if username is not None and username not in states:
                    log_in(page, username)
                    states[username] = context.storage_state()
                page.goto(path)
                prepare(page)
                target = output / f"{name}-{device}.png"
                page.screenshot(path=target)
                written.append(target)
            finally:
                context.close()
    return written


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    output.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running(Path(tmp)) as server,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        try:
            for path in photograph(browser, server, output):
                print(path)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
