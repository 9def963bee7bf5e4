"""The ledger page: the checkpoint, the log's growth, and its verification."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import Visit
from tests.e2e.server import Server


def test_the_auditor_sees_the_checkpoint_growth_and_a_log_that_verifies(
    visit: Visit, server: Server
) -> None:
    page = visit("auditor").page
    page.goto("/ledger")
    expect(page.get_by_test_id("ledger-verdict")).to_contain_text("Consistent")
    expect(page.locator(".checklist li.ok")).to_have_count(3)
    note = page.locator("pre.checkpoint-note").inner_text()
    served = httpx.get(f"{server.base_url}/log/checkpoint").text
    assert note.strip() == served.strip()
    size = int(served.split("\n")[1])
    expect(page.get_by_test_id("ledger-size")).to_have_text(f"{size} entries")
    # The growth chart is an inline SVG with an accessible name and the numbers behind it.
    chart = page.get_by_role("img", name="Log size")
    expect(chart).to_be_visible()
    assert chart.locator("path.line").get_attribute("d")
    page.get_by_text("The numbers, hour by hour").click()
    expect(page.locator("table.data tbody tr").last).to_be_visible()

    page.get_by_role("link", name="Verify every entry now").click()
    expect(page.get_by_test_id("full-verdict")).to_contain_text("The whole log verifies")
    expect(page.locator(".checklist").last).to_contain_text("entries rehashed")

    page.get_by_role("link", name="/log/checkpoint").click()
    assert page.locator("body").inner_text().startswith("localhost/pouch\n")


def test_the_ledger_page_is_for_auditors_and_administrators(visit: Visit) -> None:
    assert visit("admin").page.goto("/ledger").status == 200  # type: ignore[union-attr]
    for username in ("watch1", "principal", "sender-ie"):
        response = visit(username).page.goto("/ledger")
        assert response is not None and response.status == 403, username
