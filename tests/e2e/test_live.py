"""The watch floor live, in Chromium: a new FLASH message appears at once with a
notification (once allowed) and a count in the title; a lost connection says so and
recovers by itself; a reconnecting browser misses no step (Last-Event-ID)."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import expect
from sqlalchemy import select

from pouch.db import Database
from pouch.messages.models import Message, MessageEvent
from pouch.messages.rules import Precedence
from tests.e2e.conftest import Visit, route, session_cookies, submit
from tests.e2e.server import Server

#: Every notification the page makes, recorded (the browser shows none headless).
RECORD_NOTIFICATIONS = """
window.__notifications = [];
const Native = window.Notification;
if (Native) {
  window.Notification = class extends Native {
    constructor(title, options) { super(title, options); window.__notifications.push(title); }
  };
}
"""


def test_a_flash_message_reaches_the_floor_at_once_with_an_alert(
    visit: Visit, server: Server, served_db: Database
) -> None:
    watch = visit("watch1")
    page = watch.page
    page.context.grant_permissions(["notifications"], origin=server.base_url)
    page.add_init_script(RECORD_NOTIFICATIONS)
    page.goto("/watch")
    live = page.locator('[data-live-source="/watch/stream"]')
    expect(live).to_have_attribute("data-live-state", "open")
    # Allowed already: the page does not offer to ask again.
    expect(page.locator("[data-live-notify]")).to_be_hidden()
    title = page.title()

    subject = "Flash: the President of Ghana asks to call within the hour"
    public_id = submit(server, served_db, subject=subject, precedence=Precedence.FLASH)
    # Sooner than the queue's own poll (5 s): the feed brought it.
    expect(page.locator(f"#msg-{public_id}")).to_be_visible(timeout=4_000)
    expect(page).to_have_title(f"(1) {title}")
    assert page.evaluate("window.__notifications") == [f"FLASH: {subject}"]
    # A routine letter refreshes the queue but raises no alert.
    routine = submit(server, served_db, subject="Routine: thanks for the flowers")
    expect(page.locator(f"#msg-{routine}")).to_be_visible(timeout=4_000)
    assert page.evaluate("window.__notifications") == [f"FLASH: {subject}"]
    # The officer's next touch clears the count.
    page.locator("h1").click()
    expect(page).to_have_title(title)


def test_a_lost_connection_is_said_and_recovers_by_itself(visit: Visit) -> None:
    page = visit("watch1").page
    # The server cannot be reached: every attempt to open the feed fails.
    page.route("**/watch/stream", lambda route: route.abort("connectionrefused"))
    page.goto("/watch")
    live = page.locator('[data-live-source="/watch/stream"]')
    banner = page.get_by_role("alert").filter(has_text="Connection to Pouch lost")
    expect(banner).to_be_visible(timeout=10_000)
    expect(live).to_have_attribute("data-live-state", "lost")
    # Reachable again: the browser reconnects by itself and the banner goes.
    page.unroute("**/watch/stream")
    expect(live).to_have_attribute("data-live-state", "open", timeout=15_000)
    expect(banner).to_be_hidden()


def _events(response: httpx.Response, wanted: int) -> list[dict[str, str]]:
    """The first ``wanted`` events of an SSE stream (pings skipped)."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in current:
                events.append(current)
                if len(events) == wanted:
                    break
            current = {}
            continue
        field, _, value = line.partition(":")
        current[field] = value.removeprefix(" ")
    return events


def _first_step(database: Database, public_id: str) -> int:
    """The id of the message's first step: the feed's ``Last-Event-ID`` before it."""
    with database.transaction(write=False) as session:
        found = session.scalar(
            select(MessageEvent.id)
            .join(Message, Message.id == MessageEvent.message_id)
            .where(Message.public_id == public_id)
            .order_by(MessageEvent.id)
        )
    assert found is not None
    return int(found)


def test_a_browser_that_reconnects_misses_no_step(
    visit: Visit, server: Server, served_db: Database
) -> None:
    cookies = session_cookies(visit, "watch1")
    public_id = submit(server, served_db, subject="Sent while the browser was away")
    accepted = _first_step(served_db, public_id)
    with (
        httpx.Client(base_url=server.base_url, cookies=cookies, timeout=10) as client,
        client.stream(
            "GET", "/watch/stream", headers={"Last-Event-ID": str(accepted - 1)}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        first = _events(response, 1)[0]
    assert first["id"] == str(accepted)
    assert first["event"] == "step"
    step = json.loads(first["data"])
    assert (step["message"], step["kind"], step["alert"]) == (public_id, "accepted", False)


def test_only_the_floor_s_readers_may_follow_it(visit: Visit, server: Server) -> None:
    anonymous = httpx.get(f"{server.base_url}/watch/stream", follow_redirects=False)
    assert anonymous.status_code == 303
    assert re.match(r"/login", anonymous.headers["location"])
    cookies = session_cookies(visit, "principal")
    refused = httpx.get(f"{server.base_url}/watch/stream", cookies=cookies)
    assert refused.status_code == 403


def test_the_inbox_shows_a_delivered_letter_at_once(
    visit: Visit, server: Server, served_db: Database
) -> None:
    page = visit("principal").page
    page.goto("/inbox")
    live = page.locator('[data-live-source^="/inbox/stream"]')
    expect(live).to_have_attribute("data-live-state", "open")
    title = page.title()
    public_id = submit(server, served_db, subject="Live: a letter from Dublin for the inbox")
    route(served_db, public_id)
    # The inbox has no poll of its own: only the feed can bring it.
    card = page.locator("#inbox-messages").get_by_role("link", name="Live: a letter from Dublin")
    expect(card).to_be_visible(timeout=4_000)
    expect(page).to_have_title(f"(1) {title}")


def test_tracking_shows_each_step_of_the_sender_s_message_at_once(
    visit: Visit, server: Server, served_db: Database
) -> None:
    page = visit("sender-ie").page
    page.goto("/track")
    expect(page.locator("[data-live-source]")).to_have_attribute("data-live-state", "open")
    subject = "Live: tracked from acceptance to delivery"
    public_id = submit(server, served_db, subject=subject)
    card = page.locator("#track-list li.card").filter(has_text=subject)
    expect(card).to_be_visible(timeout=4_000)
    route(served_db, public_id)
    expect(card.locator("li.done[data-step='delivered']")).to_have_count(1, timeout=4_000)


def test_an_office_s_feed_carries_only_its_messages_and_none_of_their_text(
    visit: Visit, server: Server, served_db: Database
) -> None:
    elsewhere = submit(server, served_db, subject="For Paris, not for this inbox", to="fr-elysee")
    ours = submit(server, served_db, subject="For the president-elect")
    first = _first_step(served_db, elsewhere)
    with served_db.transaction(write=False) as session:
        office = session.scalar(
            select(Message.addressee_office_id).where(Message.public_id == ours)
        )
    assert office is not None
    cookies = session_cookies(visit, "principal")
    with (
        httpx.Client(base_url=server.base_url, cookies=cookies, timeout=10) as client,
        client.stream(
            "GET", f"/inbox/stream?office={office}", headers={"Last-Event-ID": str(first - 1)}
        ) as response,
    ):
        assert response.status_code == 200
        event = _events(response, 1)[0]
    assert json.loads(event["data"]) == {"kind": "accepted", "message": ours}
    # Another office's inbox, and tracking, are not the principal's to follow.
    other = httpx.get(f"{server.base_url}/inbox/stream?office={office + 1}", cookies=cookies)
    assert other.status_code == 403
    assert httpx.get(f"{server.base_url}/track/stream", cookies=cookies).status_code == 403
