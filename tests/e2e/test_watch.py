"""The watch floor: the queue, routing, and holds that need two officers and expire."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Locator, Page, expect

from pouch.db import Database
from pouch.messages.models import HoldStatus, MessageState
from pouch.messages.rules import Precedence
from tests.e2e.conftest import Visit, holds_of, load_message, run_worker, submit
from tests.e2e.server import Server


def card(page: Page, public_id: str) -> Locator:
    return page.locator(f"#msg-{public_id}")


def test_queue_puts_the_most_urgent_first_and_counts_down(
    visit: Visit, server: Server, served_db: Database
) -> None:
    routine = submit(server, served_db, subject="Routine note on fisheries")
    flash = submit(server, served_db, subject="Flash: call tonight", precedence=Precedence.FLASH)
    watch = visit("watch1")
    page = watch.page
    page.goto("/watch")
    expect(page.get_by_role("heading", name="Watch floor", level=1)).to_be_visible()
    rows = page.locator("ol.queue > li.card").evaluate_all(
        """cards => cards.map(c => [c.id, c.querySelector('.prec').textContent,
            c.querySelector('.countdown').dataset.deadline])"""
    )
    ids = [row[0] for row in rows]
    assert ids.index(f"msg-{flash}") < ids.index(f"msg-{routine}")
    # Precedence first, then the nearest deadline.
    ranks = [(Precedence(prec).rank, deadline) for _, prec, deadline in rows]
    assert ranks == sorted(ranks)
    # The countdown ticks in the page between the server's refreshes.
    countdown = card(page, flash).locator(".countdown").first
    first = countdown.inner_text()
    assert re.fullmatch(r"\d+ min \d\d s left", first), first
    expect(countdown).not_to_have_text(first, timeout=3000)
    # Every UTC time also shows in the viewer's zone (Tokyo here).
    local = card(page, flash).locator("time + .local-time").first
    expect(local).to_contain_text("GMT+9")
    # htmx refreshes the queue: a message accepted now shows up without a reload.
    late = submit(server, served_db, subject="Arrived while the page was open")
    expect(card(page, late)).to_be_visible(timeout=12_000)


def test_route_delivers_from_the_queue(visit: Visit, server: Server, served_db: Database) -> None:
    public_id = submit(server, served_db, subject="Please route me")
    page = visit("watch1").page
    page.goto("/watch")
    card(page, public_id).get_by_role("button", name=re.compile("^Route")).click()
    expect(page.get_by_role("status")).to_contain_text("Routed")
    expect(card(page, public_id)).to_have_count(0)
    assert load_message(served_db, public_id).state == MessageState.DELIVERED
    inbox = visit("principal").page
    inbox.goto("/inbox")
    item = inbox.locator("li.card", has_text="Please route me")
    expect(item).to_contain_text("Unread")


def test_a_hold_needs_two_officers_is_visible_everywhere_and_expires(
    visit: Visit, server: Server, served_db: Database
) -> None:
    subject = "A letter to hold for checking"
    public_id = submit(server, served_db, subject=subject)

    # watch1 asks for a hold.
    first = visit("watch1")
    page = first.page
    page.goto("/watch")
    item = card(page, public_id)
    item.locator("summary").click()
    item.get_by_label("Reason").fill("Verify the signature with the embassy")
    item.get_by_label(re.compile("^Minutes")).fill("2")
    item.get_by_role("button", name="Request hold").click()
    expect(page.get_by_role("status")).to_contain_text("Hold requested")
    (hold,) = holds_of(served_db, public_id)
    assert hold.status == HoldStatus.REQUESTED
    # ... is not offered the approval, and is refused when trying anyway.
    pending = page.locator(f"#pending-{hold.id}")
    expect(pending).to_contain_text("You asked for this hold")
    expect(pending.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    refused = page.request.post(
        f"/watch/{public_id}/holds/{hold.id}/approve", form={"csrf_token": first.csrf()}
    )
    assert refused.status == 403
    assert "second officer" in refused.text()
    assert holds_of(served_db, public_id)[0].status == HoldStatus.REQUESTED

    # watch2 approves it.
    second = visit("watch2").page
    second.goto("/watch")
    second.locator(f"#pending-{hold.id}").get_by_role(
        "button", name=re.compile("^Approve hold")
    ).click()
    expect(second.get_by_role("status")).to_contain_text("Hold approved")
    held = card(second, public_id)
    expect(held).to_have_class(re.compile("is-held"))
    expect(held.locator(".flag-held")).to_have_text(re.compile("Held"))
    (hold,) = holds_of(served_db, public_id)
    assert hold.status == HoldStatus.ACTIVE and hold.until is not None
    until = hold.until.strftime("%Y-%m-%d %H:%M UTC")

    # The sender sees it held, with by whom and until when.
    track = visit("sender-ie").page
    track.goto(f"/track/{public_id}")
    notice = track.locator(".held-notice")
    expect(notice).to_contain_text("Held since")
    expect(notice).to_contain_text("by Operations Center")
    expect(notice).to_contain_text(f"until {until}")
    expect(track.locator("ol.steps")).to_contain_text("Held")

    # The principal's inbox shows it held, not its text.
    inbox = visit("principal").page
    inbox.goto("/inbox")
    entry = inbox.locator("li.card", has_text=subject)
    expect(entry.locator(".flag-held")).to_be_visible()
    expect(entry.locator(".held-notice")).to_contain_text(f"until {until}")
    inbox.goto(f"/inbox/{public_id}")
    expect(inbox.locator(".held-notice")).to_contain_text("Held since")
    expect(inbox.locator(".body")).to_have_count(0)

    # Expiry delivers it: the worker runs just after the hold's end.
    done = run_worker(served_db, at=hold.until + timedelta(seconds=1))
    assert done.expired >= 1
    assert load_message(served_db, public_id).state == MessageState.DELIVERED
    track.reload()
    expect(track.locator(".held-notice")).to_have_count(0)
    expect(track.locator("ol.steps")).to_contain_text("Hold expired")
    expect(track.locator("ol.path li.done", has_text="Delivered")).to_be_visible()
    inbox.goto("/inbox")
    entry = inbox.locator("li.card", has_text=subject)
    expect(entry).to_contain_text("Unread")
    expect(entry.locator(".flag-held")).to_have_count(0)
    page.goto("/watch")
    expect(card(page, public_id)).to_have_count(0)


def test_an_auditor_watches_read_only(visit: Visit, server: Server, served_db: Database) -> None:
    public_id = submit(server, served_db, subject="Seen by the auditor")
    auditor = visit("auditor")
    page = auditor.page
    page.goto("/watch")
    expect(page.get_by_text("Read-only")).to_be_visible()
    item = card(page, public_id)
    expect(item).to_be_visible()
    expect(item.get_by_role("button")).to_have_count(0)
    refused = page.request.post(f"/watch/{public_id}/route", form={"csrf_token": auditor.csrf()})
    assert refused.status == 403
    assert load_message(served_db, public_id).state == MessageState.ACCEPTED


def test_the_floor_works_without_javascript(
    visit: Visit, server: Server, served_db: Database
) -> None:
    public_id = submit(server, served_db, subject="Routed with scripts off")
    page = visit("watch2", javascript=False).page
    page.goto("/watch")
    item = card(page, public_id)
    expect(item.locator(".countdown")).to_have_text(re.compile(r"left$"))
    item.get_by_role("button", name=re.compile("^Route")).click()
    expect(page.get_by_role("status")).to_contain_text("Routed")
    assert load_message(served_db, public_id).state == MessageState.DELIVERED


def test_a_hold_request_can_be_withdrawn_and_a_hold_released(
    visit: Visit, server: Server, served_db: Database
) -> None:
    public_id = submit(server, served_db, subject="Hold, then think again")
    page = visit("watch1").page
    page.goto(f"/watch/{public_id}")
    page.locator("summary", has_text="Request hold").click()
    page.get_by_label("Reason").fill("Wait for the interpreter's note")
    page.get_by_role("button", name="Request hold").click()
    expect(page.get_by_role("status")).to_contain_text("Hold requested")
    expect(page).to_have_url(re.compile(f"/watch/{public_id}"))
    page.get_by_role("button", name="Withdraw hold request").click()
    expect(page.get_by_role("status")).to_contain_text("Hold request withdrawn")
    assert [h.status for h in holds_of(served_db, public_id)] == [HoldStatus.WITHDRAWN]

    page.locator("summary", has_text="Request hold").click()
    page.get_by_label("Reason").fill("Second thoughts after all")
    page.get_by_role("button", name="Request hold").click()
    # The request is recorded before the second officer looks for it.
    expect(page.get_by_role("status")).to_contain_text("Hold requested")
    other = visit("watch2").page
    other.goto(f"/watch/{public_id}")
    other.get_by_role("button", name="Approve hold").click()
    expect(other.get_by_role("status")).to_contain_text("Hold approved")
    page.reload()
    page.get_by_role("button", name="Release hold").click()
    expect(page.get_by_role("status")).to_contain_text("Hold released")
    assert load_message(served_db, public_id).state == MessageState.DELIVERED
    steps = page.locator("ol.steps")
    for step in ("Hold request withdrawn", "Held", "Hold released", "Delivered"):
        expect(steps).to_contain_text(step)
