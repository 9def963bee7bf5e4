"""Passkeys through the API, on both backends: enrolment on the record, login, revocation,
and officers' signed decisions (required per POUCH_SIGNED_DECISIONS), each checked
offline by the pure verifier and refused when altered."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from pouch.app import create_app
from pouch.cli import app as cli_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.events import EventKind
from pouch.identity import passkeys
from pouch.identity.decision_check import (
    DecisionInvalid,
    b64url,
    canonical,
    record_hash,
    verify_bundle,
)
from pouch.identity.models import Role
from pouch.identity.passkey_models import DecisionAssertion, Passkey
from pouch.ledger.store import LedgerOpening
from pouch.messages import service as message_service
from pouch.settings import Settings
from tests.factories import PASSWORD, World, make_office, make_token, make_user
from tests.identity.authenticator import SoftAuthenticator
from tests.identity.helpers import csrf_of
from tests.messages.helpers import submit

ORIGIN = "http://127.0.0.1:8000"  # the settings fixture's public_url
RP_ID = "127.0.0.1"

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(
    settings: Settings, database: Database, clock: ManualClock
) -> Iterator[ClientFactory]:
    opened: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        app = create_app(
            settings.model_copy(update=overrides), database=database, clock=clock, background=False
        )
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        opened.append(client)
        return client

    yield build
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def second_officer(database: Database, clock: ManualClock, world: World) -> dict[str, str]:
    with database.transaction() as session:
        user = make_user(session, clock, "watch-two", [(Role.WATCH_OFFICER, world.offices["ops"])])
        token = make_token(session, clock, user, Role.WATCH_OFFICER, world.offices["ops"])
    return {"Authorization": f"Bearer {token}"}


def enrol(client: TestClient, headers: dict[str, str]) -> SoftAuthenticator:
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)
    options = client.post("/api/passkey-options", headers=headers)
    assert options.status_code == 200, options.text
    assert options.json()["rp"]["id"] == RP_ID
    assert options.json()["authenticatorSelection"]["userVerification"] == "required"
    answer = client.post(
        "/api/passkeys",
        json={"credential": authenticator.create(options.json()), "name": "laptop"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["credential_id"] == authenticator.id
    return authenticator


def signed(
    client: TestClient,
    headers: dict[str, str],
    authenticator: SoftAuthenticator,
    decision: dict[str, Any],
) -> dict[str, Any]:
    issued = client.post("/api/decision-challenges", json=decision, headers=headers)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["sign"] is True
    assert body["options"]["allowCredentials"][0]["id"] == authenticator.id
    return authenticator.get(body["challenge"])


def logged_details(database: Database, public_id: str, kind: EventKind) -> dict[str, Any]:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        events = [e for e in message_service.events_of(session, message) if e.kind == kind]
        assert events, f"no {kind} event"
        return dict(events[-1].details)


def test_enrolment_is_on_the_record_with_the_public_key(
    app_client: TestClient, world: World, database: Database
) -> None:
    officer = world.auth(Role.WATCH_OFFICER)
    authenticator = enrol(app_client, officer)
    listed = app_client.get("/api/passkeys", headers=officer).json()
    assert [p["name"] for p in listed] == ["laptop"]
    index = listed[0]["ledger_index"]
    opening = app_client.get(f"/api/log/openings/{index}", headers=officer).json()
    event = opening["event"]
    assert event["kind"] == "passkey.registered"
    assert event["user"] == world.users[Role.WATCH_OFFICER].id
    assert event["credential"] == authenticator.id
    assert event["rp_id"] == RP_ID and event["origin"] == ORIGIN
    with database.transaction(write=False) as session:
        stored = session.scalar(select(Passkey))
        assert stored is not None
        assert event["public_key"] == b64url(stored.public_key)
    # The same authenticator cannot be enrolled twice, nor by answering an old challenge.
    options = app_client.post("/api/passkey-options", headers=officer).json()
    assert options["excludeCredentials"][0]["id"] == authenticator.id


def test_a_registration_for_another_origin_or_an_unknown_challenge_is_refused(
    app_client: TestClient, world: World
) -> None:
    officer = world.auth(Role.WATCH_OFFICER)
    authenticator = SoftAuthenticator(origin="https://evil.example", rp_id=RP_ID)
    options = app_client.post("/api/passkey-options", headers=officer).json()
    answer = app_client.post(
        "/api/passkeys", json={"credential": authenticator.create(options)}, headers=officer
    )
    assert answer.status_code == 400
    assert "origin" in answer.json()["detail"]
    forged = copy.deepcopy(options)
    forged["challenge"] = b64url(b"not issued by pouch" * 2)
    answer = app_client.post(
        "/api/passkeys",
        json={"credential": SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID).create(forged)},
        headers=officer,
    )
    assert answer.status_code == 401
    assert app_client.get("/api/passkeys", headers=officer).json() == []


def test_signed_hold_approved_by_a_second_signing_officer_is_verifiable_offline(
    app_client: TestClient,
    world: World,
    database: Database,
    clock: ManualClock,
    second_officer: dict[str, str],
    tmp_path: Any,
) -> None:
    first = world.auth(Role.WATCH_OFFICER)
    first_key = enrol(app_client, first)
    second_key = enrol(app_client, second_officer)
    public_id = submit(database, clock, world).message.public_id

    # Unsigned, the officer who has a passkey is refused (when-enrolled, the default).
    refused = app_client.post(
        f"/api/messages/{public_id}/holds",
        json={"reason": "Check the annex", "duration_minutes": 30},
        headers=first,
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/decision-not-signed")

    fields = {"reason": "Check the annex", "minutes": 30}
    assertion = signed(
        app_client,
        first,
        first_key,
        {"action": "hold.request", "message": public_id, "fields": fields},
    )
    # The assertion signs this reason: another reason is refused.
    other = app_client.post(
        f"/api/messages/{public_id}/holds",
        json={"reason": "Something else", "duration_minutes": 30, "assertion": assertion},
        headers=first,
    )
    assert other.status_code == 403
    asked = app_client.post(
        f"/api/messages/{public_id}/holds",
        json={"reason": "Check the annex", "duration_minutes": 30, "assertion": assertion},
        headers=first,
    )
    assert asked.status_code == 201, asked.text
    hold_id = asked.json()["id"]
    requested = logged_details(database, public_id, EventKind.HOLD_REQUESTED)

    # Replaying the same assertion for a second decision is refused (one-time challenge).
    again = app_client.post(
        f"/api/messages/{public_id}/holds/{hold_id}/withdraw",
        json={"assertion": assertion},
        headers=first,
    )
    assert again.status_code == 403

    # The second officer approves with their own key; the first officer's key cannot.
    approval = {"action": "hold.approve", "message": public_id, "hold": hold_id}
    stolen = signed(app_client, second_officer, second_key, approval)
    stolen["id"] = stolen["rawId"] = first_key.id
    assert (
        app_client.post(
            f"/api/messages/{public_id}/holds/{hold_id}/approve",
            json={"assertion": stolen},
            headers=second_officer,
        ).status_code
        == 403
    )
    approved = app_client.post(
        f"/api/messages/{public_id}/holds/{hold_id}/approve",
        json={"assertion": signed(app_client, second_officer, second_key, approval)},
        headers=second_officer,
    )
    assert approved.status_code == 200, approved.text
    approval_details = logged_details(database, public_id, EventKind.HOLD_APPROVED)

    with database.transaction(write=False) as session:
        kept = {a.sha256: a for a in session.scalars(select(DecisionAssertion))}
    assert set(kept) == {requested["assertion"], approval_details["assertion"]}
    assert (
        kept[requested["assertion"]].record["action"]
        == canonical(json.loads(kept[requested["assertion"]].action)).decode()
    )

    # The sender office is entitled to the decision's event, so to its bundle.
    sender = world.auth(Role.SENDER)
    bundle = app_client.get(f"/api/decisions/{requested['assertion']}", headers=sender).json()
    verified = verify_bundle(bundle)
    assert verified.officer == world.users[Role.WATCH_OFFICER].id
    assert verified.action["fields"] == fields
    assert record_hash(bundle["assertion"]) == requested["assertion"]
    second_bundle = app_client.get(
        f"/api/decisions/{approval_details['assertion']}", headers=sender
    ).json()
    assert verify_bundle(second_bundle).action["hold"] == hold_id

    # Altered, it no longer verifies: another reason, another message, another key.
    def altered(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        copied = copy.deepcopy(bundle)
        change(copied)
        return copied

    def other_reason(b: dict[str, Any]) -> None:
        action = json.loads(b["assertion"]["action"])
        action["fields"]["reason"] = "Nothing to see"
        b["assertion"]["action"] = canonical(action).decode()
        b["decision"]["event"]["assertion"] = record_hash(b["assertion"])

    def other_message(b: dict[str, Any]) -> None:
        b["decision"]["event"]["message"] = "M-SOMETHING-ELSE"

    def other_key(b: dict[str, Any]) -> None:
        b["registration"] = second_bundle["registration"]

    def forged_signature(b: dict[str, Any]) -> None:
        b["assertion"]["signature"] = second_bundle["assertion"]["signature"]
        b["decision"]["event"]["assertion"] = record_hash(b["assertion"])

    for change, why in [
        (other_reason, "challenge"),
        (other_message, "message"),
        (other_key, "credential"),
        (forged_signature, "signature"),
    ]:
        with pytest.raises(DecisionInvalid, match=why):
            verify_bundle(altered(change))
    # The other key with its own credential id still fails on the signature.
    swapped = altered(other_key)
    swapped["assertion"]["credential"] = second_bundle["assertion"]["credential"]
    swapped["decision"]["event"]["assertion"] = record_hash(swapped["assertion"])
    swapped["registration"]["event"]["user"] = world.users[Role.WATCH_OFFICER].id
    with pytest.raises(DecisionInvalid, match="signature"):
        verify_bundle(swapped)

    # The command line checks the same bundle offline.
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(bundle))
    bad.write_text(json.dumps(altered(other_reason)))
    runner = CliRunner()
    result = runner.invoke(cli_app, ["decision", "verify", str(good)])
    assert result.exit_code == 0, result.output
    assert f"hold.request of message {public_id}" in result.output
    result = runner.invoke(cli_app, ["decision", "verify", str(bad)])
    assert result.exit_code == 1
    assert "NOT VERIFIED" in result.output


def test_a_decision_bundle_is_for_those_entitled_to_its_event(
    app_client: TestClient, world: World, database: Database, clock: ManualClock
) -> None:
    officer = world.auth(Role.WATCH_OFFICER)
    key = enrol(app_client, officer)
    public_id = submit(database, clock, world).message.public_id
    routed = app_client.post(
        f"/api/messages/{public_id}/route",
        json={
            "assertion": signed(app_client, officer, key, {"action": "route", "message": public_id})
        },
        headers=officer,
    )
    assert routed.status_code == 200, routed.text
    digest = logged_details(database, public_id, EventKind.DELIVERED)["assertion"]
    with database.transaction() as session:
        stranger_office = make_office(session, clock, "fr-elysee", OfficeKind.FOREIGN, "FR")
        stranger = make_user(session, clock, "elysee", [(Role.SENDER, stranger_office)])
        token = make_token(session, clock, stranger, Role.SENDER, stranger_office)
    refused = app_client.get(
        f"/api/decisions/{digest}", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 403
    principal = world.auth(Role.PRINCIPAL)
    bundle = app_client.get(f"/api/decisions/{digest}", headers=principal)
    assert bundle.status_code == 200
    assert verify_bundle(bundle.json()).action["action"] == "route"
    assert app_client.get(f"/api/decisions/{'0' * 64}", headers=principal).status_code == 404


@pytest.mark.parametrize("policy", ["off", "when-enrolled", "required"])
def test_when_a_decision_must_be_signed(
    policy: str,
    make_client: ClientFactory,
    world: World,
    database: Database,
    clock: ManualClock,
    second_officer: dict[str, str],
) -> None:
    client = make_client(signed_decisions=policy)
    enrolled = world.auth(Role.WATCH_OFFICER)
    enrol(client, enrolled)
    unenrolled = second_officer
    outcomes = {}
    for who, headers in [("enrolled", enrolled), ("unenrolled", unenrolled)]:
        public_id = submit(database, clock, world).message.public_id
        answer = client.post(f"/api/messages/{public_id}/route", headers=headers)
        outcomes[who] = answer.status_code
        challenge = client.post(
            "/api/decision-challenges",
            json={"action": "route", "message": public_id},
            headers=headers,
        ).json()
        assert challenge["sign"] is (policy != "off" and who == "enrolled")
    expected = {
        "off": {"enrolled": 200, "unenrolled": 200},
        "when-enrolled": {"enrolled": 403, "unenrolled": 200},
        "required": {"enrolled": 403, "unenrolled": 403},
    }[policy]
    assert outcomes == expected


def test_quarantine_and_release_are_signed_too(
    app_client: TestClient,
    world: World,
    database: Database,
    clock: ManualClock,
    second_officer: dict[str, str],
) -> None:
    from pouch.messages.acceptance import AttachmentData

    first = world.auth(Role.WATCH_OFFICER)
    first_key = enrol(app_client, first)
    second_key = enrol(app_client, second_officer)
    accepted = submit(
        database,
        clock,
        world,
        attachments=(
            AttachmentData(filename="a.txt", declared_type="text/plain", content=b"annex"),
        ),
    )
    public_id = accepted.message.public_id
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        attachment_id = message.attachments[0].id
    decision = {
        "action": "attachment.quarantine",
        "message": public_id,
        "fields": {"attachment": attachment_id, "reason": "Macro inside"},
    }
    answer = app_client.post(
        f"/api/messages/{public_id}/attachments/{attachment_id}/quarantine",
        json={
            "reason": "Macro inside",
            "assertion": signed(app_client, first, first_key, decision),
        },
        headers=first,
    )
    assert answer.status_code == 200, answer.text
    assert logged_details(database, public_id, EventKind.ATTACHMENT_QUARANTINED)["assertion"]

    fields = {"reason": "Verify", "minutes": 30}
    hold = app_client.post(
        f"/api/messages/{public_id}/holds",
        json={
            "reason": "Verify",
            "duration_minutes": 30,
            "assertion": signed(
                app_client,
                first,
                first_key,
                {"action": "hold.request", "message": public_id, "fields": fields},
            ),
        },
        headers=first,
    ).json()
    for who, key, action in [
        (second_officer, second_key, "approve"),
        (first, first_key, "release"),
    ]:
        decision = {"action": f"hold.{action}", "message": public_id, "hold": hold["id"]}
        done = app_client.post(
            f"/api/messages/{public_id}/holds/{hold['id']}/{action}",
            json={"assertion": signed(app_client, who, key, decision)},
            headers=who,
        )
        assert done.status_code == 200, done.text
    released = logged_details(database, public_id, EventKind.HOLD_RELEASED)
    bundle = app_client.get(f"/api/decisions/{released['assertion']}", headers=first).json()
    assert verify_bundle(bundle).action["action"] == "hold.release"


def _login_page(client: TestClient) -> str:
    return csrf_of(client.get("/login").text)


def test_login_with_a_passkey_and_the_password_setting(
    make_client: ClientFactory, world: World, database: Database
) -> None:
    client = make_client(operations_password_login=False)
    officer = world.users[Role.WATCH_OFFICER]
    # Without a passkey the officer still logs in with the password (to enrol one).
    form = {"username": officer.username, "password": PASSWORD}
    first = client.post(
        "/login", data={**form, "csrf_token": _login_page(client)}, follow_redirects=False
    )
    assert first.status_code == 303
    key = enrol(client, world.auth(Role.WATCH_OFFICER))
    client.cookies.clear()
    refused = client.post(
        "/login", data={**form, "csrf_token": _login_page(client)}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert "passkey" in refused.text
    # A principal (not operations staff) keeps the password.
    principal = world.users[Role.PRINCIPAL]
    kept = client.post(
        "/login",
        data={
            "username": principal.username,
            "password": PASSWORD,
            "csrf_token": _login_page(client),
        },
        follow_redirects=False,
    )
    assert kept.status_code == 303
    client.cookies.clear()

    csrf = _login_page(client)
    options = client.post("/api/login/passkey/options").json()
    assert options["userVerification"] == "required"
    # Without the login form's token, refused.
    assert (
        client.post(
            "/login/passkey", json={"credential": key.get(options["challenge"]), "next": "/watch"}
        ).status_code
        == 403
    )
    options = client.post("/api/login/passkey/options").json()
    answer = client.post(
        "/login/passkey",
        json={"credential": key.get(options["challenge"]), "next": "/watch"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"next": "/watch", "user": officer.username}
    assert client.get("/api/me").json()["username"] == officer.username
    # A challenge answers once.
    client.cookies.clear()
    csrf = _login_page(client)
    replay = client.post(
        "/login/passkey",
        json={"credential": key.get(options["challenge"])},
        headers={"X-CSRF-Token": csrf},
    )
    assert replay.status_code == 401


def test_a_revoked_passkey_neither_logs_in_nor_signs(
    app_client: TestClient, world: World, database: Database, clock: ManualClock
) -> None:
    officer = world.auth(Role.WATCH_OFFICER)
    key = enrol(app_client, officer)
    passkey_id = app_client.get("/api/passkeys", headers=officer).json()[0]["id"]
    revoked = app_client.delete(f"/api/passkeys/{passkey_id}", headers=officer)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert app_client.delete(f"/api/passkeys/{passkey_id}", headers=officer).status_code == 409
    with database.transaction(write=False) as session:
        kinds = [json.loads(o.event)["kind"] for o in session.scalars(select(LedgerOpening))]
    assert kinds.count("passkey.revoked") == 1
    # No passkey left: decisions go unsigned again (when-enrolled), and login fails.
    public_id = submit(database, clock, world).message.public_id
    assert app_client.post(f"/api/messages/{public_id}/route", headers=officer).status_code == 200
    csrf = _login_page(app_client)
    options = app_client.post("/api/login/passkey/options").json()
    answer = app_client.post(
        "/login/passkey",
        json={"credential": key.get(options["challenge"])},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 401
    # Nobody revokes another's passkey.
    other = world.auth(Role.ADMINISTRATOR)
    assert app_client.delete(f"/api/passkeys/{passkey_id}", headers=other).status_code == 404


def test_relying_party_comes_from_the_public_url() -> None:
    rp = passkeys.relying_party("https://Pouch.MFA.example:8443/base/")
    assert (rp.id, rp.origin, rp.local) == (
        "pouch.mfa.example",
        "https://pouch.mfa.example:8443",
        False,
    )
    assert passkeys.relying_party("http://localhost:8000").local


def test_the_demo_authenticator_is_for_localhost_and_the_demo_officers_only(
    make_client: ClientFactory, settings: Settings, database: Database, clock: ManualClock
) -> None:
    from pouch import demo
    from pouch.identity import demo_keys

    with database.transaction() as session:
        ops = make_office(session, clock, "ops", OfficeKind.OPERATIONS, "US")
        for username in demo.DEMO_SIGNERS:
            make_user(session, clock, username, [(Role.WATCH_OFFICER, ops)])
    remote = settings.model_copy(
        update={"demo_authenticator": True, "public_url": "https://pouch.mfa.example"}
    )
    with database.transaction() as session:
        note = demo._enrol_passkeys(session, settings=remote, now=clock.now())
    assert "refused" in note
    assert demo_keys.load(settings.data_dir, "watch1") is None
    local = settings.model_copy(update={"demo_authenticator": True})
    with database.transaction() as session:
        assert "2 enrolled now" in demo._enrol_passkeys(session, settings=local, now=clock.now())
    with database.transaction() as session:
        # Loading the demo again enrols nobody twice.
        assert "0 enrolled now" in demo._enrol_passkeys(session, settings=local, now=clock.now())
        assert len(passkeys.active_passkeys(session, session.scalar(select(Passkey.user_id)))) == 1
    kept = demo_keys.load(settings.data_dir, "watch1")
    assert kept is not None
    assert (settings.data_dir / "demo-passkeys" / "watch1.json").stat().st_mode & 0o077 == 0

    for client, served in [(make_client(demo_authenticator=True), True), (make_client(), False)]:
        form = client.get("/login")
        client.post(
            "/login",
            data={"username": "watch1", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        )
        answer = client.get("/demo/authenticator")
        assert answer.status_code == (200 if served else 404)
        if served:
            assert answer.json()["credential_id"] == kept["credential_id"]
            assert answer.json()["rp_id"] == RP_ID


def test_the_watch_pages_take_the_assertion_as_a_form_field(
    app_client: TestClient, world: World, database: Database, clock: ManualClock
) -> None:
    officer = world.auth(Role.WATCH_OFFICER)
    key = enrol(app_client, officer)
    public_id = submit(database, clock, world).message.public_id
    form = app_client.get("/login")
    app_client.post(
        "/login",
        data={
            "username": world.users[Role.WATCH_OFFICER].username,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
        },
    )
    csrf = csrf_of(app_client.get(f"/watch/{public_id}").text)
    page = app_client.get(f"/watch/{public_id}").text
    assert f'data-decision="route" data-message="{public_id}"' in page
    assert "passkeys.js" in page
    unsigned = app_client.post(
        f"/watch/{public_id}/route", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert unsigned.status_code == 403
    garbled = app_client.post(
        f"/watch/{public_id}/route",
        data={"csrf_token": csrf, "assertion": "{not json"},
        follow_redirects=False,
    )
    assert garbled.status_code == 400
    challenge = app_client.post(
        "/api/decision-challenges",
        json={"action": "route", "message": public_id},
        headers={"X-CSRF-Token": csrf},
    ).json()
    routed = app_client.post(
        f"/watch/{public_id}/route",
        data={"csrf_token": csrf, "assertion": json.dumps(key.get(challenge["challenge"]))},
        follow_redirects=False,
    )
    assert routed.status_code == 303, routed.text
    assert logged_details(database, public_id, EventKind.DELIVERED)["assertion"]


def test_stale_challenges_are_swept_and_refused(
    app_client: TestClient, world: World, database: Database, clock: ManualClock
) -> None:
    from datetime import timedelta

    from pouch.identity.passkey_models import PasskeyChallenge

    officer = world.auth(Role.WATCH_OFFICER)
    key = enrol(app_client, officer)
    public_id = submit(database, clock, world).message.public_id
    issued = app_client.post(
        "/api/decision-challenges", json={"action": "route", "message": public_id}, headers=officer
    ).json()
    clock.advance(passkeys.CHALLENGE_LIFETIME + timedelta(seconds=1))
    late = app_client.post(
        f"/api/messages/{public_id}/route",
        json={"assertion": key.get(issued["challenge"])},
        headers=officer,
    )
    assert late.status_code == 403
    assert "expired" in late.json()["detail"]
    app_client.post("/api/login/passkey/options")
    with database.transaction(write=False) as session:
        left = list(session.scalars(select(PasskeyChallenge)))
    assert [c.purpose for c in left] == ["login"]
