"""Signed submission over HTTP: the receipt, retries, refusals of every kind,
each naming its field or reason, and nothing written for what is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key
from pouch.ledger.events import Opening
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.ledger.service import Ledger
from pouch.messages.models import Message
from tests.factories import World
from tests.intake.helpers import (
    URL,
    Sender,
    accept_signed,
    checked_verdict,
    payload,
    problem_detail,
    sender_token,
    signed_submission,
)
from tests.messages.helpers import count_messages


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
    assert count_messages(database) == 1


def test_unsigned_and_badly_signed_are_refused(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    body = json.dumps(payload(world)).encode()
    token = {"Authorization": f"Bearer {sender.token}", "Content-Type": "application/json"}
    assert "Signature" in problem_detail(
        app_client.post(URL, content=body, headers=token), 401, "invalid-signature"
    )
    signed = sender.headers(body)
    tampered = body.replace(b"Congratulations", b"Condolences!!!!")
    assert "Content-Digest" in problem_detail(
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
    assert "belongs to another office" in problem_detail(
        impostor.submit(payload(world)), 401, "invalid-signature"
    )
    # A replayed request: same signature and nonce.
    ok_headers = sender.headers(body)
    assert app_client.post(URL, content=body, headers=ok_headers).status_code == 201
    assert "nonce" in problem_detail(
        app_client.post(URL, content=body, headers=ok_headers), 401, "invalid-signature"
    )
    # A revoked key.
    with database.transaction() as session:
        intake_service.revoke_key(
            session, office_id=world.offices["ie-taoiseach"].id, key_id="ie-2026", now=clock.now()
        )
    assert "revoked" in problem_detail(sender.submit(payload(world)), 401, "invalid-signature")
    assert count_messages(database) == 1


def test_token_of_another_role_or_office(
    app_client: TestClient, sender: Sender, world: World
) -> None:
    watch = Sender(app_client, world.tokens[Role.WATCH_OFFICER], sender.key_id, sender.seed)
    assert "does not let you send" in problem_detail(
        watch.submit(payload(world)), 403, "permission-denied"
    )
    no_token = Sender(app_client, "pouch_forged", sender.key_id, sender.seed)
    problem_detail(no_token.submit(payload(world)), 401, "invalid-credentials")


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
    problem_detail(response, status, slug)
    assert field in {e["field"] for e in response.json()["errors"]}
    assert count_messages(database) == 0


def test_oversized_attachment(sender: Sender, world: World, database: Database) -> None:
    big = base64.b64encode(bytes(6 * 1024 * 1024)).decode()
    response = sender.submit(
        payload(world, attachments=[{"filename": "big.bin", "content_base64": big}])
    )
    problem_detail(response, 413, "payload-too-large")
    assert count_messages(database) == 0


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
    assert count_messages(database) == 0
