"""Passkeys in Chromium, with a virtual authenticator (DevTools protocol, WebAuthn domain):
a watch officer enrols one, logs in with it and requests a hold confirmed by it; a second
officer approves with their own; the event logs the assertion's hash, and the offline
verifier accepts the decision and refuses it altered.

A server of its own, known as localhost (WebAuthn takes a domain, not an address), so
that the officers enrolled here do not sign in the other tests' server. It runs as
`make run` does, with the demo's software authenticator for watch1 and watch2: the
officers enrolled with the virtual authenticator are new ones. One on SQLite and one on
PostgreSQL: an officer's signature is issue 15's answer to acting as someone else.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from pouch.clock import SystemClock
from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.events import EventKind
from pouch.identity import service as identity_service
from pouch.identity.decision_check import (
    DecisionInvalid,
    canonical,
    record_hash,
    verify_bundle,
)
from pouch.identity.models import Role
from pouch.messages import service as message_service
from pouch.messages.models import HoldStatus
from tests.conftest import BACKENDS
from tests.e2e.conftest import holds_of, served_demo, submit
from tests.e2e.server import DEMO_PASSWORD, LAPTOP, Server, log_in


@pytest.fixture(scope="module", params=BACKENDS)
def local_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    database_urls: dict[str, str | None],
) -> Iterator[Server]:
    with served_demo(
        request.param,
        database_urls,
        tmp_path_factory.mktemp("e2e-passkeys"),
        host_name="localhost",
        settings={"POUCH_DEMO_AUTHENTICATOR": "true"},
    ) as served:
        yield served


@pytest.fixture(scope="module")
def local_db(local_server: Server) -> Iterator[Database]:
    database = Database.from_url(local_server.database_url)
    with database.transaction() as session:
        ops = directory_service.get_office_by_slug(session, "ops")
        for username in ("watch-a", "watch-b"):
            user = identity_service.create_user(
                session,
                username=username,
                display_name=username.title(),
                password=DEMO_PASSWORD,
                email=None,
                now=SystemClock().now(),
            )
            identity_service.grant_role(
                session,
                user_id=user.id,
                office_id=ops.id,
                role=Role.WATCH_OFFICER,
                now=SystemClock().now(),
            )
    yield database
    database.dispose()


class Officer:
    """A person at Chromium with a platform authenticator that verifies them."""

    def __init__(self, browser: Browser, server: Server) -> None:
        self.context: BrowserContext = browser.new_context(
            base_url=server.base_url,
            viewport=LAPTOP,
            locale="en-US",  # type: ignore[arg-type]
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        cdp = self.context.new_cdp_session(self.page)
        cdp.send("WebAuthn.enable")
        self.authenticator = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )["authenticatorId"]
        self.cdp = cdp

    def credentials(self) -> list[dict[str, Any]]:
        answer = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator})
        return list(answer["credentials"])

    def enrol(self, name: str) -> None:
        self.page.goto("/passkeys")
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_role("button", name="Add a passkey").click()
        expect(self.page.get_by_role("status").first).to_contain_text("Passkey added")
        expect(self.page.get_by_role("cell", name=name, exact=True)).to_be_visible()
        assert len(self.credentials()) == 1

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"JavaScript errors: {self.errors}"


def logged(database: Database, public_id: str, kind: EventKind) -> dict[str, Any]:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        found = [e for e in message_service.events_of(session, message) if e.kind == kind]
        assert found, f"no {kind}"
        return dict(found[-1].details)


def test_officers_enrol_log_in_and_sign_a_hold_with_their_passkeys(
    browser: Browser, local_server: Server, local_db: Database
) -> None:
    first = Officer(browser, local_server)
    second = Officer(browser, local_server)
    try:
        # Enrol: logged in with the password, "Your passkeys", Add.
        log_in(first.page, "watch-a")
        first.enrol("Wanda's laptop")
        # Log out, then in again with the passkey alone.
        first.page.get_by_role("button", name="Log out").click()
        first.page.wait_for_url(re.compile(r"/login"))
        first.page.get_by_role("button", name="Log in with a passkey").click()
        first.page.wait_for_url(re.compile(r"/$"))
        expect(first.page.locator(".who")).to_have_text("watch-a")

        # Request a hold: the page has the authenticator sign the decision.
        public_id = submit(local_server, local_db, subject="Annex to verify before delivery")
        first.page.goto(f"/watch/{public_id}")
        first.page.get_by_text("Request hold").first.click()
        first.page.get_by_label("Reason").fill("Check the annex with the desk")
        first.page.get_by_label(re.compile("^Minutes")).fill("30")
        first.page.get_by_role("button", name="Request hold").click()
        expect(first.page.get_by_role("status").first).to_contain_text("Hold requested")
        requested = logged(local_db, public_id, EventKind.HOLD_REQUESTED)
        assert re.fullmatch(r"[0-9a-f]{64}", requested["assertion"])

        # A second officer, with a passkey of their own, approves.
        log_in(second.page, "watch-b")
        second.enrol("Walter's laptop")
        second.page.goto(f"/watch/{public_id}")
        second.page.get_by_role("button", name="Approve hold").click()
        expect(second.page.get_by_role("status").first).to_contain_text("Hold approved")
        assert [h.status for h in holds_of(local_db, public_id)] == [HoldStatus.ACTIVE]
        approved = logged(local_db, public_id, EventKind.HOLD_APPROVED)

        # Anyone entitled to the events gets the bundles; the verifier accepts them.
        bundle = second.page.request.get(f"/api/decisions/{requested['assertion']}").json()
        other = second.page.request.get(f"/api/decisions/{approved['assertion']}").json()
        verified = verify_bundle(bundle)
        assert verified.action["fields"] == {
            "reason": "Check the annex with the desk",
            "minutes": 30,
        }
        assert verify_bundle(other).action["action"] == "hold.approve"
        assert bundle["registration"]["event"]["origin"] == local_server.base_url
        assert bundle["registration"]["event"]["rp_id"] == "localhost"

        # Altered, refused: another reason, another message, another officer's key.
        reason = copy.deepcopy(bundle)
        action = json.loads(reason["assertion"]["action"])
        action["fields"]["reason"] = "Routine"
        reason["assertion"]["action"] = canonical(action).decode()
        reason["decision"]["event"]["assertion"] = record_hash(reason["assertion"])
        message = copy.deepcopy(bundle)
        message["decision"]["event"]["message"] = "someone-else"
        key = copy.deepcopy(bundle)
        key["registration"] = other["registration"]
        key["registration"]["event"]["user"] = bundle["registration"]["event"]["user"]
        key["assertion"]["credential"] = other["assertion"]["credential"]
        key["decision"]["event"]["assertion"] = record_hash(key["assertion"])
        for altered, why in [(reason, "challenge"), (message, "message"), (key, "signature")]:
            with pytest.raises(DecisionInvalid, match=why):
                verify_bundle(altered)
    finally:
        first.close()
        second.close()


def test_the_demo_authenticator_signs_for_the_demo_officers_in_any_browser(
    browser: Browser, local_server: Server, local_db: Database
) -> None:
    """`make run`: watch1 has no authenticator of its own here; the page signs with the
    software key `pouch demo` enrolled, and the decision verifies like any other."""
    officer = Officer(browser, local_server)
    officer.cdp.send("WebAuthn.disable")  # no authenticator at all in this browser
    try:
        log_in(officer.page, "watch1")
        public_id = submit(local_server, local_db, subject="Route me, demo officer")
        officer.page.goto(f"/watch/{public_id}")
        officer.page.get_by_role("button", name="Route now").click()
        expect(officer.page.get_by_role("status").first).to_contain_text("Routed")
        routed = logged(local_db, public_id, EventKind.DELIVERED)
        bundle = officer.page.request.get(f"/api/decisions/{routed['assertion']}").json()
        verified = verify_bundle(bundle)
        assert verified.action["action"] == "route"
        assert bundle["registration"]["event"]["name"] == "demo software key"
    finally:
        officer.close()
