"""The message path through HTTP: signed submission, status, holds, inbox, replies, office check."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key, sign_request
from pouch.ledger.events import Opening
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.ledger.service import Ledger
from pouch.messages import worker
from pouch.messages.models import Message
from tests.factories import World, make_token, make_user

URL = "http://testserver/api/messages"


class Sender:
    """A foreign office's program: token plus signing key."""

    def __init__(self, client: TestClient, token: str, key_id: str, seed: bytes) -> None:
        self.client, self.token, self.key_id, self.seed = client, token, key_id, seed
        self.clock: ManualClock = client.app.state.clock  # type: ignore[attr-defined]

    def headers(
        self, body: bytes, *, url: str = URL, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            **(extra or {}),
        }
        signed = sign_request(
            method="POST",
            url=url,
            headers=headers,
            body=body,
            key_id=self.key_id,
            private_key=self.seed,
            created=self.clock.now(),
        )
        return {**headers, **signed}

    def submit(self, payload: dict[str, Any], *, extra: dict[str, str] | None = None) -> Any:
        body = json.dumps(payload).encode()
        return self.client.post(URL, content=body, headers=self.headers(body, extra=extra))


@pytest.fixture
def sender(app_client: TestClient, database: Database, clock: ManualClock, world: World) -> Sender:
    seed, public = generate_sender_key("ie-2026")
    with database.transaction() as session:
        intake_service.register_key(
            session,
            office_id=world.offices["ie-taoiseach"].id,
            key_id="ie-2026",
            public_key=public,
            now=clock.now(),
        )
    return Sender(app_client, world.tokens[Role.SENDER], "ie-2026", seed)


def payload(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "sender_office_id": world.offices["ie-taoiseach"].id,
        "addressee_office_id": world.offices["president-elect"].id,
        "subject": "Congratulations",
        "body": "A Uachtaráin tofa, …",
        "precedence": "PRIORITY",
        **overrides,
    }


def _count(database: Database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def test_signed_submission_gets_a_receipt(
    app_client: TestClient, sender: Sender, world: World, database: Database
) -> None:
    response = sender.submit(payload(world))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["office_sequence"] == 1 and body["state"] == "accepted"
    assert response.headers["location"] == f"/api/messages/{body['id']}"
    opening = Opening.from_json(body["receipt"]["opening"])
    assert opening.event["kind"] == "accepted" and opening.event["message"] == body["id"]
    assert body["receipt"]["receipt"] is None  # not yet integrated
    ledger: Ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    ledger.integrate_now()
    later = app_client.get(
        body["receipt"]["receipt_url"].removeprefix("http://127.0.0.1:8000"),
        headers=world.auth(Role.SENDER),
    ).json()
    verify_receipt(
        later["receipt"].encode(), opening.entry(), log=Ed25519Verifier.from_vkey(ledger.vkey)
    )
    with database.transaction(write=False) as session:
        stored = session.scalars(select(Message)).one()
        assert stored.signature is not None and stored.signature["key_id"] == "ie-2026"


def test_idempotent_retry(sender: Sender, world: World, database: Database) -> None:
    first = sender.submit(payload(world), extra={"Idempotency-Key": "abc-1"})
    again = sender.submit(payload(world), extra={"Idempotency-Key": "abc-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = sender.submit(payload(world, subject="Other"), extra={"Idempotency-Key": "abc-1"})
    assert other.status_code == 409
    assert _count(database) == 1


def _problem(response: Any, status: int, slug: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{slug}"
    detail: str = response.json()["detail"]
    return detail


def test_unsigned_and_badly_signed_are_refused(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    body = json.dumps(payload(world)).encode()
    token = {"Authorization": f"Bearer {sender.token}", "Content-Type": "application/json"}
    assert "Signature" in _problem(
        app_client.post(URL, content=body, headers=token), 401, "invalid-signature"
    )
    signed = sender.headers(body)
    tampered = body.replace(b"Congratulations", b"Condolences!!!!")
    assert "Content-Digest" in _problem(
        app_client.post(URL, content=tampered, headers=signed), 401, "invalid-signature"
    )
    # Another office's key.
    seed, public = generate_sender_key("fr-1")
    from pouch.directory.models import OfficeKind
    from tests.factories import make_office

    with database.transaction() as session:
        france = make_office(session, clock, "fr-elysee", OfficeKind.FOREIGN, "FR")
        intake_service.register_key(
            session, office_id=france.id, key_id="fr-1", public_key=public, now=clock.now()
        )
    impostor = Sender(app_client, sender.token, "fr-1", seed)
    assert "belongs to another office" in _problem(
        impostor.submit(payload(world)), 401, "invalid-signature"
    )
    # A replayed request: same signature and nonce.
    ok_headers = sender.headers(body)
    assert app_client.post(URL, content=body, headers=ok_headers).status_code == 201
    assert "nonce" in _problem(
        app_client.post(URL, content=body, headers=ok_headers), 401, "invalid-signature"
    )
    # A revoked key.
    with database.transaction() as session:
        intake_service.revoke_key(
            session, office_id=world.offices["ie-taoiseach"].id, key_id="ie-2026", now=clock.now()
        )
    assert "revoked" in _problem(sender.submit(payload(world)), 401, "invalid-signature")
    assert _count(database) == 1


def test_token_of_another_role_or_office(
    app_client: TestClient, sender: Sender, world: World
) -> None:
    watch = Sender(app_client, world.tokens[Role.WATCH_OFFICER], sender.key_id, sender.seed)
    assert "does not let you send" in _problem(
        watch.submit(payload(world)), 403, "permission-denied"
    )
    no_token = Sender(app_client, "pouch_forged", sender.key_id, sender.seed)
    _problem(no_token.submit(payload(world)), 401, "invalid-credentials")


@pytest.mark.parametrize(
    ("overrides", "field", "slug", "status"),
    [
        ({"subject": "Hi\u202egnp.exe"}, "body.subject", "invalid-request", 400),
        ({"subject": "Tab\x07bell"}, "body.subject", "invalid-request", 400),
        ({"addressee_office_id": 999999}, "body.addressee_office_id", "invalid-request", 400),
        ({"precedence": "URGENT"}, "body.precedence", "invalid-request", 400),
        ({"security_label": "<script>"}, "body.security_label", "invalid-request", 400),
        ({"unknown": 1}, "body.unknown", "invalid-request", 400),
        (
            {"attachments": [{"filename": "a.pdf", "content_base64": "!!!"}]},
            "body.attachments.0.content_base64",
            "invalid-request",
            400,
        ),
        (
            {"attachments": [{"filename": "../../etc/passwd", "content_base64": "AA=="}]},
            "body.attachments.0.filename",
            "invalid-request",
            400,
        ),
    ],
)
def test_bad_submissions_name_the_field(
    sender: Sender,
    world: World,
    database: Database,
    overrides: dict[str, Any],
    field: str,
    slug: str,
    status: int,
) -> None:
    response = sender.submit(payload(world, **overrides))
    _problem(response, status, slug)
    assert field in {e["field"] for e in response.json()["errors"]}
    assert _count(database) == 0


def test_oversized_attachment(sender: Sender, world: World, database: Database) -> None:
    big = base64.b64encode(bytes(6 * 1024 * 1024)).decode()
    response = sender.submit(
        payload(world, attachments=[{"filename": "big.bin", "content_base64": big}])
    )
    _problem(response, 413, "payload-too-large")
    assert _count(database) == 0


def test_script_in_html_body_is_inert(app_client: TestClient, sender: Sender, world: World) -> None:
    html = (
        '<p>Dear friend<script>alert(1)</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)">link</a></p>'
    )
    created = sender.submit(payload(world, body=html, body_format="html")).json()
    message = app_client.get(
        f"/api/messages/{created['id']}", headers=world.auth(Role.WATCH_OFFICER)
    ).json()
    assert "script" not in message["body_html"] and "onerror" not in message["body_html"]
    assert "javascript" not in message["body_html"]


def test_the_whole_path_with_a_hold(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    created = sender.submit(payload(world)).json()
    mid = created["id"]
    watch = world.auth(Role.WATCH_OFFICER)
    queue = app_client.get("/api/queue", headers=watch).json()
    assert [m["id"] for m in queue] == [mid]
    hold = app_client.post(
        f"/api/messages/{mid}/holds",
        json={"reason": "verify", "duration_minutes": 60},
        headers=watch,
    )
    assert hold.status_code == 201, hold.text
    hold_id = hold.json()["id"]
    refused = app_client.post(f"/api/messages/{mid}/holds/{hold_id}/approve", headers=watch)
    assert _problem(refused, 403, "permission-denied").startswith(
        "a hold must be approved by a second officer"
    )
    with database.transaction() as session:
        second = make_user(
            session, clock, "watch-two", [(Role.WATCH_OFFICER, world.offices["ops"])]
        )
        second_token = make_token(session, clock, second, Role.WATCH_OFFICER, world.offices["ops"])
    approved = app_client.post(
        f"/api/messages/{mid}/holds/{hold_id}/approve",
        headers={"Authorization": f"Bearer {second_token}"},
    )
    assert approved.json()["status"] == "active"
    status = app_client.get(f"/api/messages/{mid}/status", headers=world.auth(Role.SENDER)).json()
    assert status["message"]["held"].startswith(
        "held since 2026-11-05T14:00:00.000Z, by Office ops, until"
    )
    inbox = app_client.get(
        f"/api/offices/{world.offices['president-elect'].id}/inbox",
        headers=world.auth(Role.PRINCIPAL),
    ).json()
    assert inbox[0]["state"] == "held" and inbox[0]["held"] == status["message"]["held"]
    # Held means not delivered: the addressee sees that it exists, not what it says.
    assert inbox[0]["body_text"] == "" and status["message"]["body_text"] != ""
    # The principal cannot read it yet; expiry delivers it.
    principal = world.auth(Role.PRINCIPAL)
    assert app_client.post(f"/api/messages/{mid}/read", headers=principal).status_code == 409
    clock.advance(timedelta(hours=1))
    with database.transaction() as session:
        worker.run_due(session, now=clock.now())
    assert app_client.post(f"/api/messages/{mid}/read", headers=principal).status_code == 200
    assert (
        app_client.post(f"/api/messages/{mid}/acknowledge", headers=principal).json()["state"]
        == "acknowledged"
    )
    reply = app_client.post(
        f"/api/messages/{mid}/replies", json={"body": "Go raibh maith agat."}, headers=principal
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["receipt"]["opening"]["event"]["in_reply_to"] == mid
    kinds = [
        e["kind"]
        for e in app_client.get(
            f"/api/messages/{mid}/status", headers=world.auth(Role.SENDER)
        ).json()["events"]
    ]
    assert kinds == [
        "accepted",
        "hold.requested",
        "hold.approved",
        "hold.expired",
        "delivered",
        "read",
        "acknowledged",
    ]
    # The sender cannot see others' messages, nor read or acknowledge its own.
    assert (
        app_client.post(
            f"/api/messages/{mid}/acknowledge", headers=world.auth(Role.SENDER)
        ).status_code
        == 403
    )


def test_office_check_finds_gaps(
    app_client: TestClient, sender: Sender, world: World, database: Database
) -> None:
    from pouch.messages.check import check_office

    for _ in range(4):
        assert sender.submit(payload(world)).status_code == 201
    ledger: Ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    ledger.integrate_now()
    office = world.offices["president-elect"].id
    verifier = Ed25519Verifier.from_vkey(ledger.vkey)
    report = check_office(
        "http://testserver",
        office_id=office,
        token=world.tokens[Role.PRINCIPAL],
        log_key=verifier,
        client=app_client,
    )
    assert (report.verified, report.highest, report.gaps) == (4, 4, [])
    # Someone at the ministry hides message 2 and 3 from the office's listing.
    with database.transaction() as session:
        for message in session.scalars(select(Message).where(Message.office_sequence.in_([2, 3]))):
            message.addressee_office_id = world.offices["ops"].id
    report = check_office(
        "http://testserver",
        office_id=office,
        token=world.tokens[Role.PRINCIPAL],
        log_key=verifier,
        client=app_client,
    )
    assert report.gaps == [(2, 3)]


def test_a_replay_racing_its_original_is_refused_not_a_500(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    # Both copies passed the nonce check before either was stored: the nonce's key
    # in the database refuses the second when its acceptance is written.
    from pouch.errors import InvalidSignature
    from pouch.intake.models import SignatureNonce

    body = json.dumps(payload(world)).encode()
    verdict = checked_verdict(database, clock, sender.headers(body), body)
    with database.transaction() as session:
        session.add(
            SignatureNonce(key_id=verdict.key_id, nonce=verdict.nonce, expires_at=verdict.expires)
        )
    submitted = signed_submission(sender_token(database, world, clock), verdict, body, app_client)
    with (
        pytest.raises(InvalidSignature, match="nonce already used"),
        database.transaction() as session,
    ):
        accept_signed(session, [submitted], app_client, clock)
    assert _count(database) == 0


def checked_verdict(database: Database, clock: Any, headers: dict[str, str], body: bytes) -> Any:
    """The signature checked as the endpoint checks it, its nonce not yet spent."""
    from pouch.intake.signatures import verify_request

    with database.transaction(write=False) as session:
        return verify_request(
            method="POST",
            url=URL,
            headers=headers,
            body=body,
            resolve_key=lambda key_id: intake_service.resolve_key(session, key_id),
            now=clock.now(),
            nonce_is_fresh=lambda *_: True,
        )


def signed_submission(token: Any, verdict: Any, body: bytes, client: TestClient) -> Any:
    """What the endpoint queues for the group commit once token and signature are checked."""
    return intake_service.SignedSubmission(
        token_id=token.token_id,
        user_id=token.actor.user_id,
        verdict=verdict,
        prepared=prepared(body, client),
        idempotency_key=None,
        request_hash=hashlib.sha256(body).hexdigest(),
    )


def accept_signed(session: Any, submitted: list[Any], client: TestClient, clock: Any) -> list[Any]:
    """``accept_signed`` as the app's group commit calls it."""
    from pouch.messages import acceptance
    from pouch.messages.rules import Timetable

    settings = client.app.state.settings  # type: ignore[attr-defined]
    return intake_service.accept_signed(
        session,
        submitted,
        now=clock.now(),
        timetable=Timetable.from_settings(settings),
        limits=acceptance.Limits(settings.max_attachment_bytes, settings.max_attachments),
    )


def sender_token(database: Database, world: World, clock: ManualClock) -> Any:
    from pouch.intake.credentials import Credentials

    return Credentials().token(database, secret=world.tokens[Role.SENDER], now=clock.now())


def prepared(body: bytes, client: TestClient) -> Any:
    """The submission as the endpoint prepares it before its unit of work."""
    from pouch.intake.api import _submission
    from pouch.messages import acceptance
    from pouch.messages.schemas import MessageIn

    settings = client.app.state.settings  # type: ignore[attr-defined]
    limits = acceptance.Limits(settings.max_attachment_bytes, settings.max_attachments)
    return acceptance.prepare(_submission(MessageIn.model_validate_json(body)), limits)
