"""The principal finds a call's briefing packet in the inbox's calls, opens it in the
browser and downloads its PDF."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from pouch.briefings.models import CallRecord, Packet
from pouch.calls.models import CallRequest, CallStatus
from pouch.db import Database
from tests.e2e.conftest import Visit


def test_the_principal_opens_the_packet_and_downloads_the_pdf(
    visit: Visit, served_db: Database, tmp_path: Path
) -> None:
    with served_db.transaction(write=False) as session:
        call = session.scalar(
            select(CallRequest.public_id)
            .join(CallRecord, CallRecord.request_id == CallRequest.id)
            .join(Packet, Packet.record_id == CallRecord.id)
            .order_by(Packet.id)
        )
    assert call is not None, "the demo has a call with a cleared packet"
    page = visit("principal").page
    page.goto("/inbox")
    calls = page.get_by_test_id("inbox-calls")
    row = calls.get_by_role("row").filter(has=page.locator(f'a[href="/briefings/{call}"]'))
    expect(row).to_contain_text("issued")
    row.get_by_role("link", name="issued").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Call with")
    expect(page.get_by_test_id("briefing-clearance")).to_have_text("cleared")
    expect(page.get_by_test_id("talking-points")).to_contain_text("working visit")
    logged = page.get_by_test_id("packet-sha256").inner_text()
    with page.expect_download() as download:
        page.get_by_test_id("packet-pdf").click()
    target = tmp_path / "packet.pdf"
    download.value.save_as(target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == logged


def test_the_desk_runs_a_call_and_its_briefing_is_cleared_in_the_browser(
    visit: Visit, served_db: Database
) -> None:
    """A scheduled call nobody has touched: the desk designates a notetaker and a
    clearing officer and confirms the call; staff write and submit the briefing; the
    clearing officer returns it once (inline comments), then clears it, and the packet
    is issued."""
    with served_db.transaction(write=False) as session:
        touched = select(CallRecord.request_id)
        call = session.scalar(
            select(CallRequest.public_id)
            .where(CallRequest.status == CallStatus.SCHEDULED, CallRequest.id.not_in(touched))
            .order_by(CallRequest.id)
        )
    assert call is not None, "the demo has a scheduled call with no run yet"
    desk = visit("watch1").page
    desk.goto(f"/briefings/{call}")
    expect(desk.get_by_test_id("call-state")).to_have_text("scheduled")
    for username, kind in (("staff", "notetaker"), ("protocol", "clearing")):
        desk.get_by_label("User name").fill(username)
        desk.get_by_label("as").select_option(kind)
        desk.get_by_role("button", name="Designate").click()
    expect(desk.get_by_test_id("participants")).to_contain_text("notetaker")
    expect(desk.get_by_test_id("participants")).to_contain_text("clearing")
    desk.get_by_label("Move to").select_option("confirmed")
    desk.get_by_role("button", name="Record").click()
    expect(desk.get_by_test_id("call-state")).to_have_text("confirmed")
    expect(desk.get_by_test_id("call-steps")).to_contain_text("confirmed")

    staff = visit("staff").page
    staff.goto(f"/briefings/{call}")
    staff.get_by_label("Talking points, one a line").fill(
        "Thank the leader for the early call\nPropose a working visit in the spring"
    )
    staff.get_by_label("Background").fill("Relations are warm; trade is growing.")
    staff.get_by_role("button", name="Save a new version").first.click()
    staff.get_by_role("button", name="Submit the briefing for clearance").click()
    expect(staff.get_by_test_id("briefing-clearance")).to_have_text("submitted")

    clearing = visit("protocol").page
    clearing.goto(f"/briefings/{call}")
    clearing.get_by_label("Comments").first.fill("Add the trade figures")
    clearing.get_by_role("button", name="Return the briefing").click()
    expect(clearing.get_by_test_id("briefing-clearance")).to_have_text("returned")
    expect(clearing.locator("#call-packet")).to_contain_text("Add the trade figures")

    staff.reload()
    staff.get_by_label("Background").fill("Relations are warm; trade grew 12 % last year.")
    staff.get_by_role("button", name="Save a new version").first.click()
    staff.get_by_role("button", name="Submit the briefing for clearance").click()
    clearing.reload()
    clearing.get_by_role("button", name="Clear the briefing").click()
    expect(clearing.get_by_test_id("briefing-clearance")).to_have_text("cleared")
    expect(clearing.get_by_test_id("packet-pdf")).to_be_visible()
    expect(clearing.get_by_test_id("packet-sha256")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
