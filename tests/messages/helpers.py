"""Submitting and driving messages through the services, as the API does, and a
signing sender office through HTTP (``Sender``, the ``sender`` fixture)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import PouchError
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.credentials import SenderToken
from pouch.intake.signatures import SignatureVerdict, generate_sender_key, sign_request
from pouch.messages import service as message_service
from pouch.messages.models import Message
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence, Timetable
from tests.factories import World

LIMITS = message_service.Limits(max_attachment_bytes=1024 * 1024, max_attachments=5)
URL = "http://testserver/api/messages"


def submit(
    database: Database,
    clock: ManualClock,
    world: World,
    *,
    subject: str = "Congratulations on your election",
    body: str = "Dear President-elect, …",
    precedence: Precedence = Precedence.ROUTINE,
    body_format: str = "text",
    attachments: tuple[message_service.AttachmentData, ...] = (),
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> message_service.Accepted:
    with database.transaction() as session:
        return message_service.accept(
            session,
            submission=message_service.Submission(
                sender_office_id=world.offices["ie-taoiseach"].id,
                addressee_office_id=world.offices["president-elect"].id,
                subject=subject,
                body=body,
                body_format=body_format,
                language="en",
                precedence=precedence,
                security_label=None,
                attachments=attachments,
            ),
            submitted_by_user_id=world.users[Role.SENDER].id,
            signature=None,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
            limits=LIMITS,
        )


def load(database: Database, public_id: str) -> Message:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        message_service.events_of(session, message)
        return message


def kinds(database: Database, public_id: str) -> list[str]:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        return [e.kind for e in message_service.events_of(session, message)]


def at(clock: ManualClock) -> datetime:
    return clock.now()


def count_messages(database: Database) -> int:
    """How many messages are stored."""
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def problem_detail(response: Any, status: int, slug: str) -> str:
    """The detail of a problem response, once its status and type are the ones expected."""
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{slug}"
    detail: str = response.json()["detail"]
    return detail


# -- a sender office's program over HTTP ----------------------------------------------


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
    """The Irish office's sender, its key registered (import it as a fixture)."""
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
    """A submission's JSON body from the Irish office to the president-elect."""
    return {
        "sender_office_id": world.offices["ie-taoiseach"].id,
        "addressee_office_id": world.offices["president-elect"].id,
        "subject": "Congratulations",
        "body": "A Uachtaráin tofa, …",
        "precedence": "PRIORITY",
        **overrides,
    }


def checked_verdict(
    database: Database, clock: ManualClock, headers: dict[str, str], body: bytes
) -> SignatureVerdict:
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
) -> list[message_service.Accepted | PouchError]:
    """``accept_signed`` as the app's group commit calls it."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    return intake_service.accept_signed(
        session,
        submitted,
        now=clock.now(),
        timetable=Timetable.from_settings(settings),
        limits=message_service.Limits(settings.max_attachment_bytes, settings.max_attachments),
    )


def sender_token(database: Database, world: World, clock: ManualClock) -> SenderToken:
    """The Irish sender's token, as the endpoint finds it valid."""
    from pouch.intake.credentials import Credentials

    return Credentials().token(database, secret=world.tokens[Role.SENDER], now=clock.now())


def prepared(body: bytes, client: TestClient) -> message_service.Prepared:
    """The submission as the endpoint prepares it before its unit of work."""
    from pouch.intake.api import _submission
    from pouch.messages.schemas import MessageIn

    settings = client.app.state.settings  # type: ignore[attr-defined]
    limits = message_service.Limits(settings.max_attachment_bytes, settings.max_attachments)
    return message_service.prepare(_submission(MessageIn.model_validate_json(body)), limits)
