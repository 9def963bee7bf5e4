"""The principal finds a call's briefing packet in the inbox's calls, opens it in the
browser and downloads its PDF."""

from __future__ import annotations

import hashlib
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from pouch.briefings.models import CallRecord, Packet
from pouch.calls.models import CallRequest
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
