"""HTTP submission: ``POST /api/messages``, signed by the sender office.

A submission must carry both the sender's API token (a ``sender`` of the
sender office) and an RFC 9421 signature, covering the token, the method,
the target URI and the body's Content-Digest, by a key registered to that
office. The verification verdict is stored with the message as evidence.

No database transaction is held open while the request waits: credentials
and key are read in a short read-only transaction, then the acceptance
itself joins the next group commit, and the 201 is sent only after that
commit (invariant 1).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.errors import (
    FieldError,
    InvalidCredentials,
    InvalidInput,
    InvalidSignature,
    NotAuthenticated,
    PermissionDenied,
    invalid_input,
)
from pouch.groupcommit import Batched, GroupCommitter
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.credentials import Credentials, SenderToken
from pouch.intake.schemas import SenderKeyIn, SenderKeyOut
from pouch.intake.signatures import (
    RegisteredKey,
    SignatureRejected,
    SignatureVerdict,
    verify_request,
)
from pouch.ledger.service import Ledger
from pouch.messages import acceptance, receipts
from pouch.messages.models import Message
from pouch.messages.schemas import AcceptedOut, MessageIn, ReceiptOut
from pouch.settings import Settings
from pouch.web.deps import AppClock, Authorize, DbSession, OfficeAdmin

router = APIRouter(prefix="/api", tags=["intake"])

Actor = identity_service.Actor
AnyUser = Annotated[Actor, Depends(Authorize(where="any"))]


class _NotRemembered(Exception):
    """The token or key is not in memory: read it from the database."""


def _bearer(authorization: str | None) -> str:
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotAuthenticated("send the sender's API token as 'Authorization: Bearer <token>'")
    return secret.strip()


def _verify(
    parts: dict[str, Any],
    *,
    resolve_key: Callable[[str], RegisteredKey | None],
    credentials: Credentials,
    settings: Settings,
    now: datetime,
) -> SignatureVerdict:
    try:
        return verify_request(
            method=parts["method"],
            url=parts["url"],
            headers=parts["headers"],
            body=parts["body"],
            resolve_key=resolve_key,
            now=now,
            max_age=settings.signature_max_age,
            nonce_is_fresh=credentials.spend_nonce,
        )
    except SignatureRejected as error:
        raise InvalidSignature(str(error.reason)) from None


def _authenticate_from_memory(
    parts: dict[str, Any], *, credentials: Credentials, settings: Settings, now: datetime
) -> tuple[SenderToken, SignatureVerdict]:
    """Token and signature checked against what the sender used before, in memory.

    :raises _NotRemembered: the token or the key must be read first.
    """
    token = credentials.known_token(_bearer(parts["authorization"]), now=now)
    if token is None:
        raise _NotRemembered

    def known_key(key_id: str) -> RegisteredKey:
        key = credentials.known_key(key_id)
        if key is None:
            raise _NotRemembered
        return key

    return token, _verify(
        parts, resolve_key=known_key, credentials=credentials, settings=settings, now=now
    )


def _authenticate(
    database: Database,
    parts: dict[str, Any],
    *,
    credentials: Credentials,
    settings: Settings,
    now: datetime,
) -> tuple[SenderToken, SignatureVerdict]:
    """Token and signature, their rows read in short read-only transactions."""
    token = credentials.token(database, secret=_bearer(parts["authorization"]), now=now)
    with database.transaction(write=False) as session:
        verdict = _verify(
            parts,
            resolve_key=lambda key_id: credentials.key(session, key_id),
            credentials=credentials,
            settings=settings,
            now=now,
        )
    return token, verdict


def _submission(data: MessageIn) -> acceptance.Submission:
    """The submission with its attachments decoded; a bad one is refused by its field."""
    attachments = []
    for i, attachment in enumerate(data.attachments):
        try:
            content = attachment.content()
        except ValueError as error:
            raise InvalidInput(
                str(error),
                field_errors=[FieldError(f"body.attachments.{i}.content_base64", str(error))],
            ) from None
        attachments.append(
            acceptance.AttachmentData(attachment.filename, attachment.content_type, content)
        )
    return acceptance.Submission(
        sender_office_id=data.sender_office_id,
        addressee_office_id=data.addressee_office_id,
        subject=data.subject,
        body=data.body,
        body_format=data.body_format,
        language=data.language,
        precedence=data.precedence,
        security_label=data.security_label,
        attachments=tuple(attachments),
    )


def _acceptances(app: Any) -> Batched[intake_service.SignedSubmission, Any]:
    """The app's one batched unit of the group commit for submissions: every
    submission landing in a batch is accepted by one call (``accept_signed``),
    with only what needs the database.

    Each item is answered with its acceptance (the message, whose attributes
    stay loaded after the commit, with the opening of its event), or, for a
    replay, the finished response body, read in the transaction.
    """
    batched: Batched[intake_service.SignedSubmission, Any] | None = getattr(
        app.state, "acceptances", None
    )
    if batched is not None:
        return batched

    def run(session: Session, submissions: list[intake_service.SignedSubmission]) -> list[Any]:
        settings: Settings = app.state.settings
        clock: Clock = app.state.clock
        ledger: Ledger = app.state.ledger
        base_url = settings.public_url.rstrip("/")
        limits = acceptance.Limits(settings.max_attachment_bytes, settings.max_attachments)
        outcomes = intake_service.accept_signed(
            session, submissions, now=clock.now(), timetable=app.state.timetable, limits=limits
        )
        return [
            _accepted_out(
                outcome.message,
                receipts.receipt_for(
                    session,
                    outcome.message,
                    outcome.ledger_index,
                    ledger=ledger,
                    base_url=base_url,
                ),
            )
            if isinstance(outcome, acceptance.Accepted) and outcome.opening is None
            else outcome
            for outcome in outcomes
        ]

    batched = Batched(run)
    app.state.acceptances = batched
    return batched


def _accepted_out(message: Message, receipt: ReceiptOut) -> dict[str, Any]:
    return AcceptedOut.of(message, receipt).model_dump(mode="json")


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=AcceptedOut,
    responses={200: {"description": "A retry with the same Idempotency-Key: the same message."}},
)
async def submit_message(
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Submit a message (sender offices). Needs the API token and an RFC 9421 signature."""
    settings: Settings = request.app.state.settings
    clock: Clock = request.app.state.clock
    database: Database = request.app.state.database
    remembered: Credentials = request.app.state.credentials
    body = await request.body()
    parts = {
        "method": request.method,
        "url": str(request.url),
        "headers": list(request.headers.items()),
        "body": body,
        "authorization": request.headers.get("authorization"),
    }
    now = clock.now()
    try:
        # A sender seen before is checked without a database read; a new one
        # is read in a worker thread, not on the event loop.
        token, verdict = _authenticate_from_memory(
            parts, credentials=remembered, settings=settings, now=now
        )
    except _NotRemembered:
        token, verdict = await run_in_threadpool(
            _authenticate, database, parts, credentials=remembered, settings=settings, now=now
        )
    actor = token.actor
    try:
        data = MessageIn.model_validate_json(body)
    except ValidationError as error:
        raise invalid_input(error.errors(), prefix=("body",)) from None
    if not actor.holds(Role.SENDER, data.sender_office_id):
        raise PermissionDenied(
            f"your token does not let you send for office {data.sender_office_id}",
            field_errors=[FieldError("body.sender_office_id", "not your office")],
        )
    if verdict.office_id != data.sender_office_id:
        raise InvalidSignature(
            f"the signing key {verdict.key_id!r} belongs to another office, "
            f"not to office {data.sender_office_id}"
        )
    limits = acceptance.Limits(settings.max_attachment_bytes, settings.max_attachments)
    # Sanitizing and hashing happen here, outside the group commit's write lock.
    prepared = acceptance.prepare(_submission(data), limits)
    base_url = settings.public_url.rstrip("/")
    submitted = intake_service.SignedSubmission(
        token_id=token.token_id,
        user_id=actor.user_id,
        verdict=verdict,
        prepared=prepared,
        idempotency_key=idempotency_key,
        request_hash=hashlib.sha256(body).hexdigest(),
    )
    committer: GroupCommitter = request.app.state.committer
    future = committer.submit_item(_acceptances(request.app), submitted)
    try:
        result = await asyncio.wrap_future(future)
    except InvalidCredentials:
        remembered.forget(secret=_bearer(request.headers.get("authorization")))
        raise
    except InvalidSignature:
        remembered.forget(key_id=verdict.key_id)
        raise
    if isinstance(result, acceptance.Accepted):
        assert result.opening is not None, "a new acceptance has its opening"
        receipt = receipts.pending_receipt(result.message, result.opening, base_url=base_url)
        answer, code = _accepted_out(result.message, receipt), status.HTTP_201_CREATED
    else:
        answer, code = result, status.HTTP_200_OK
    return JSONResponse(
        answer, status_code=code, headers={"Location": f"/api/messages/{answer['id']}"}
    )


@router.get("/offices/{office_id}/keys", response_model=list[SenderKeyOut])
def list_keys(office_id: int, session: DbSession, _: OfficeAdmin) -> list[SenderKeyOut]:
    """The office's signing keys (administrators of the office or of Pouch)."""
    return [
        SenderKeyOut.model_validate(k)
        for k in intake_service.list_keys(session, office_id=office_id)
    ]


@router.post("/offices/{office_id}/keys", response_model=SenderKeyOut, status_code=201)
def register_key(
    office_id: int, data: SenderKeyIn, session: DbSession, clock: AppClock, _: OfficeAdmin
) -> SenderKeyOut:
    """Register a public key the office will sign submissions with."""
    key = intake_service.register_key(
        session,
        office_id=office_id,
        key_id=data.key_id,
        public_key=data.raw_public_key(),
        now=clock.now(),
    )
    return SenderKeyOut.model_validate(key)


@router.delete("/offices/{office_id}/keys/{key_id}", response_model=SenderKeyOut)
def revoke_key(
    office_id: int, key_id: str, session: DbSession, clock: AppClock, _: OfficeAdmin
) -> SenderKeyOut:
    """Revoke a key: submissions it signs are refused from now on."""
    return SenderKeyOut.model_validate(
        intake_service.revoke_key(session, office_id=office_id, key_id=key_id, now=clock.now())
    )
