"""Every demo role: what its navigation offers, what it may open, and pages that fit a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Visit
from tests.e2e.server import PHONE

PAGES = {
    "Watch floor": "/watch",
    "Inbox": "/inbox",
    "Tracking": "/track",
    "Ledger": "/ledger",
    "Administration": "/admin",
    "Audit": "/audit",
    "Calls": "/calls",
    "Translations": "/translations",
    "Interpreting": "/interpreting",
    "Find": "/find",
    "Account": "/account",
    "Write": "/compose",
}
OFFERED = {
    "admin": {"Ledger", "Administration", "Audit"},
    "watch1": {"Watch floor", "Calls", "Translations"},
    "principal": {"Inbox", "Calls"},
    "staff": {"Inbox", "Calls"},
    "auditor": {"Watch floor", "Ledger", "Calls", "Audit"},
    "sender-ie": {"Tracking", "Write"},
    "protocol": {"Calls"},
    "translator": {"Translations"},
    "interpreter": {"Interpreting"},
}
# Whoever may see messages finds them (each only those it may see).
for _username in ("admin", "watch1", "principal", "staff", "auditor", "sender-ie", "translator"):
    OFFERED[_username] = OFFERED[_username] | {"Find"}
# Operations staff are offered their passkeys ("Your passkeys", for any signed-in user).
for _username in ("admin", "watch1", "auditor", "protocol", "translator", "interpreter"):
    OFFERED[_username] = OFFERED[_username] | {"Passkeys"}
# Everyone has an account page: their offices' ids and their API tokens.
for _username in OFFERED:
    OFFERED[_username] = OFFERED[_username] | {"Account"}


@pytest.mark.parametrize("username", sorted(OFFERED))
def test_each_role_is_offered_its_pages_and_refused_the_others(visit: Visit, username: str) -> None:
    page = visit(username).page
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    offered = set(nav.get_by_role("link").all_inner_texts())
    assert offered == OFFERED[username]
    for name, path in PAGES.items():
        response = page.goto(path)
        assert response is not None
        assert response.status == (200 if name in offered else 403), (name, response.status)


def test_a_visitor_is_sent_to_log_in_and_back(visit: Visit) -> None:
    page = visit(None).page
    page.goto("/track")
    expect(page).to_have_url("/login?next=/track")
    log_in_page = page.get_by_label("User name")
    expect(log_in_page).to_be_focused()
    page.get_by_label("User name").fill("sender-fr")
    page.get_by_label("Password").fill("pouch-demo-2026")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url("/track")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tracking")
    # The keyboard's first stop skips the navigation.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("watch1", "/watch"),
        ("principal", "/inbox"),
        ("sender-ie", "/track"),
        ("auditor", "/ledger"),
        ("admin", "/admin"),
    ],
)
def test_pages_fit_a_phone(visit: Visit, username: str, path: str) -> None:
    page = visit(username, viewport=PHONE).page
    page.goto(path)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
    first = page.locator("main a[href^='/'], main summary").first
    if first.count():
        first.focus()
        outline = first.evaluate("e => getComputedStyle(e).outlineStyle")
        assert outline != "none", "keyboard focus must show"
