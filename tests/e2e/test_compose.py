"""A sender office serves itself in Chromium: it makes a signing key in the browser
(WebCrypto Ed25519, never extractable), an administrator approves it, and a message
written on the compose page is signed there and accepted by the same intake as any
program's, with the signature's evidence stored beside it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from pouch.db import Database
from pouch.messages.rules import Precedence
from tests.e2e.conftest import Visit, load_message
from tests.e2e.server import Server


def test_a_sender_makes_a_key_has_it_approved_and_sends_a_signed_message(
    visit: Visit, server: Server, served_db: Database
) -> None:
    sender = visit("sender-ie")
    page = sender.page
    page.goto("/account")
    signing = page.locator("#signing")
    signing.get_by_label("Name of the new key").fill("ie-browser-e2e")
    signing.get_by_role("button", name=re.compile("^Make a key in this browser")).click()
    expect(page.get_by_role("status")).to_contain_text("once an administrator approves it")
    waiting = page.locator("#signing li[data-key='ie-browser-e2e']")
    expect(waiting).to_contain_text("waiting for an administrator")
    expect(waiting.locator("[data-key-here]")).to_be_visible()  # the private half stays here
    # Not approved yet: nothing to sign with.
    page.goto("/compose")
    expect(page.locator("[data-no-key-here]")).to_be_visible()

    admin = visit("admin").page
    admin.goto("/admin")
    asked = admin.locator("#power li.card", has_text="register signing key ie-browser-e2e")
    asked.get_by_role("button", name=re.compile("^Approve")).click()
    expect(admin.get_by_role("status")).to_be_visible()

    page.goto("/compose")
    expect(page.locator("[data-no-key-here]")).to_be_hidden()
    page.get_by_label("Subject").fill("Signed in the browser: thanks for the call")
    page.get_by_label("Text").fill("Dear President-elect,\n\nThank you for the call this morning.")
    page.get_by_label("Precedence").select_option(Precedence.PRIORITY.value)
    page.get_by_label("Sign with").select_option("ie-browser-e2e")
    page.get_by_role("button", name="Sign and send").click()
    outcome = page.locator("[data-compose-outcome]")
    expect(outcome).to_have_attribute("data-outcome", "sent", timeout=15_000)
    public_id = re.search(r"Accepted as (m-[0-9a-z]+)", outcome.inner_text())
    assert public_id is not None, outcome.inner_text()
    message = load_message(served_db, public_id.group(1))
    assert message.subject == "Signed in the browser: thanks for the call"
    assert message.precedence == Precedence.PRIORITY
    assert message.signature is not None and message.signature["key_id"] == "ie-browser-e2e"
    assert set(message.signature["covered_components"]) >= {
        "@method",
        "@target-uri",
        "authorization",
    }
    assert sender.errors == []
    outcome.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Signed in the browser")


def test_the_compose_page_is_the_senders_and_its_token_theirs_only(
    visit: Visit, server: Server
) -> None:
    assert visit("principal").page.goto("/compose").status == 403  # type: ignore[union-attr]
    page = visit("sender-ie").page
    page.goto("/compose")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    other = page.request.post(
        "/compose/token", form={"office_id": "1"}, headers={"X-CSRF-Token": str(csrf)}
    )
    assert other.status == 400 and "office you send for" in other.text()
    forged = page.request.post("/compose/token", form={"office_id": "1"})
    assert forged.status == 403
