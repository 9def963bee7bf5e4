"""A sender office's program for tests, and the submission path piece by piece
as ``Intake`` runs it (for tests that interleave their own steps)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import PouchError
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.credentials import Credentials, SenderToken
from pouch.intake.flows import Intake, submission_of
from pouch.intake.signatures import (
    SignatureVerdict,
    generate_sender_key,
    sign_request,
    verify_request,
)
from pouch.messages import acceptance
from pouch.messages.schemas import MessageIn
from tests.factories import World

URL = "http://testserver/api/messages"
KEY_ID = "ie-2026"


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

    def submit(
        self, payload: dict[str, Any], *, extra: dict[str, str] | None = None
    ) -> httpx.Response:
        body = json.dumps(payload).encode()
        return self.client.post(URL, content=body, headers=self.headers(body, extra=extra))


def register_sender(
    client: TestClient, database: Database, clock: ManualClock, world: World
) -> Sender:
    """The world's sender office with a key registered (``ie-2026``) and its sender's token."""
    seed, public = generate_sender_key(KEY_ID)
    with database.transaction() as session:
        intake_service.register_key(
            session,
            office_id=world.offices["ie-taoiseach"].id,
            key_id=KEY_ID,
            public_key=public,
            now=clock.now(),
        )
    return Sender(client, world.tokens[Role.SENDER], KEY_ID, seed)


def payload(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid submission from the world's sender office to the principal's."""
    return {
        "sender_office_id": world.offices["ie-taoiseach"].id,
        "addressee_office_id": world.offices["president-elect"].id,
        "subject": "Congratulations",
        "body": "A Uachtaráin tofa, …",
        "precedence": "PRIORITY",
        **overrides,
    }


def problem_detail(response: httpx.Response, status: int, slug: str) -> str:
    """The detail of a problem response, which must have this status and type."""
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{slug}"
    detail: str = response.json()["detail"]
    return detail


def intake_of(client: TestClient) -> Intake:
    intake: Intake = client.app.state.intake  # type: ignore[attr-defined]
    return intake


def checked_verdict(
    database: Database, clock: ManualClock, headers: dict[str, str], body: bytes
) -> SignatureVerdict:
    """The signature checked as the endpoint checks it, its nonce not yet spent."""
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


def sender_token(database: Database, world: World, clock: ManualClock) -> SenderToken:
    """The world's sender token, checked as the endpoint checks it."""
    return Credentials().token(database, secret=world.tokens[Role.SENDER], now=clock.now())


def prepared(body: bytes, client: TestClient) -> acceptance.Prepared:
    """The submission as the endpoint prepares it before its unit of work."""
    submission = submission_of(MessageIn.model_validate_json(body))
    return acceptance.prepare(submission, intake_of(client).limits)


def signed_submission(
    token: SenderToken, verdict: SignatureVerdict, body: bytes, client: TestClient
) -> intake_service.SignedSubmission:
    """What the endpoint queues for the group commit once token and signature are checked."""
    return intake_service.SignedSubmission(
        token_id=token.token_id,
        user_id=token.actor.user_id,
        verdict=verdict,
        prepared=prepared(body, client),
        idempotency_key=None,
        request_hash=hashlib.sha256(body).hexdigest(),
    )


def accept_signed(
    session: Session,
    submitted: list[intake_service.SignedSubmission],
    client: TestClient,
    clock: ManualClock,
) -> list[acceptance.Accepted | PouchError]:
    """``accept_signed`` as the app's group commit calls it."""
    intake = intake_of(client)
    return intake_service.accept_signed(
        session, submitted, now=clock.now(), timetable=intake.timetable, limits=intake.limits
    )
