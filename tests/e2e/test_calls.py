"""The call desk in the browser: the schedule as a timeline, and the order of precedence."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from pouch.calls import requests as request_service
from pouch.clock import SystemClock
from pouch.db import Database
from pouch.identity import service as identity_service
from tests.e2e.conftest import Visit, session_cookies
from tests.e2e.server import Server


def test_the_watch_officer_sees_the_schedule_as_a_timeline(visit: Visit) -> None:
    page = visit("watch1").page
    page.goto("/calls")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Calls")
    gantt = page.get_by_test_id("gantt")
    expect(gantt).to_be_visible()
    # Each call is drawn with a tooltip that gives the leader's own local time.
    assert gantt.locator("title").count() > 1
    expect(page.get_by_test_id("left-out")).to_contain_text("Amharic")
    expect(page.get_by_role("heading", name="Call sheet")).to_be_visible()


def test_the_protocol_officer_saves_a_new_order_of_precedence(visit: Visit) -> None:
    page = visit("protocol").page
    page.goto("/calls/precedence")
    expect(page.get_by_role("heading", level=1)).to_have_text("Order of precedence")
    page.get_by_text("Edit as a file (YAML)").click()
    ranking = page.get_by_label("Ranking (YAML)")
    text = ranking.input_value()
    assert text.strip(), "the current ranking is shown for editing"
    versions = page.locator("table.data tbody tr")
    before = versions.count()
    page.get_by_label("Why it changes").fill("Reviewed after the state visit")
    page.get_by_role("button", name="Save as a new version").click()
    page.goto("/calls/precedence")
    expect(page.locator("table.data tbody tr")).to_have_count(before + 1)
    expect(page.locator("table.data")).to_contain_text("Reviewed after the state visit")
    page.get_by_text("Edit as a file (YAML)").click()
    # A ranking that does not parse is refused as an error, kept for correcting, never
    # shown in the style of a success.
    page.get_by_label("Ranking (YAML)").fill("ranking: [unclosed")
    page.get_by_label("Why it changes").fill("A typo")
    page.get_by_role("button", name="Save as a new version").click()
    refused = page.get_by_test_id("precedence-error")
    expect(refused).to_be_visible()
    alert = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--alert')")
    shown = refused.evaluate("e => getComputedStyle(e).color")
    swatch = page.evaluate(
        """(c) => {
            const e = document.createElement('span');
            e.style.color = c;
            document.body.append(e);
            const v = getComputedStyle(e).color;
            e.remove();
            return v;
        }""",
        alert.strip(),
    )
    assert shown == swatch, (shown, swatch)
    expect(page.get_by_label("Ranking (YAML)")).to_have_value("ranking: [unclosed")
    expect(page.locator("table.data tbody tr")).to_have_count(before + 1)


def test_the_principal_reads_the_schedule_but_cannot_edit_the_precedence(visit: Visit) -> None:
    page = visit("principal").page
    assert page.goto("/calls").status == 200  # type: ignore[union-attr]
    assert page.goto("/calls/precedence").status == 403  # type: ignore[union-attr]


def test_the_protocol_officer_reorders_leaders_with_up_and_down(visit: Visit) -> None:
    page = visit("protocol").page
    page.goto("/calls/precedence")
    rows = page.locator(".ranking-row")
    names = rows.locator(".ranking-name")
    first, second = names.nth(0).inner_text(), names.nth(1).inner_text()
    # Down: the first leader changes place with the second, and the move is announced.
    page.get_by_role("button", name=f"Move {first} down").click()
    expect(names.nth(0)).to_have_text(second)
    expect(names.nth(1)).to_have_text(first)
    expect(page.locator("[data-ranking-status]")).to_have_text(f"{first}: tier 1, 2 in the tier.")
    expect(rows.nth(1).get_by_label("Order")).to_have_value("2")
    # The last of the first tier, moved down, joins the second tier at its head.
    tier_one = rows.filter(has=page.locator("[data-rank-tier][value='1']"))
    last = tier_one.last.locator(".ranking-name").inner_text()
    page.get_by_role("button", name=f"Move {last} down").click()
    moved = rows.filter(has_text=last)
    expect(moved.get_by_label("Tier")).to_have_value("2")
    page.get_by_label("Why the order changes").fill("Reordered with the arrows")
    page.get_by_role("button", name="Save the order as a new version").click()
    expect(page.get_by_role("status")).to_contain_text("The new order of precedence is in force")
    page.goto("/calls/precedence")
    expect(names.nth(0)).to_have_text(second)
    expect(names.nth(1)).to_have_text(first)
    expect(rows.filter(has_text=last).get_by_label("Tier")).to_have_value("2")
    expect(page.locator("table.data")).to_contain_text("Reordered with the arrows")


def test_the_call_sheet_follows_a_confirmation_made_elsewhere(
    visit: Visit, server: Server, served_db: Database
) -> None:
    page = visit("watch1").page
    page.goto("/calls")
    expect(page.locator("[data-live-source]")).to_have_attribute("data-live-state", "open")
    confirm = page.locator("form[action^='/calls/c-'][action$='/confirm']").first
    action = confirm.get_attribute("action")
    assert action is not None, "the demo has calls to confirm"
    public_id = action.split("/")[2]
    with served_db.transaction() as session:
        officer = identity_service.get_user_by_username(session, "watch2")
        request_service.confirm_call(
            session, public_id=public_id, by_user_id=officer.id, now=SystemClock().now()
        )
    # No reload: the feed says the desk changed, and the page reads itself again.
    expect(page.locator(f"form[action='{action}']")).to_have_count(0, timeout=8_000)
    expect(page.locator("[data-live-source]")).to_have_attribute("data-live-refreshed", "1")


def test_only_the_desk_and_the_principal_follow_the_calls(visit: Visit, server: Server) -> None:
    anonymous = httpx.get(f"{server.base_url}/calls/stream", follow_redirects=False)
    assert anonymous.status_code == 303
    cookies = session_cookies(visit, "sender-ie")
    assert httpx.get(f"{server.base_url}/calls/stream", cookies=cookies).status_code == 403
