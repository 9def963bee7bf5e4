"""Accepting a signed submission, from the request's bytes to its receipt.

The one flow that spans sender authentication (identity's token, intake's
key and signature), the message (``messages.acceptance``), the log and the
receipt. ``Intake`` is built once in ``create_app``; the route reads the
request into a ``SubmissionRequest``, awaits ``Intake.submit`` and renders
the ``Submitted`` it returns. In order:

1. **Authenticate.** The token and the RFC 9421 signature are checked
   against what this process remembers of the sender (``Credentials``),
   without a database read; a sender it does not remember is read in short
   read-only transactions in a worker thread, never on the event loop.
2. **Check.** The body is validated (``MessageIn``), the token must let its
   holder send for the sender office (``intake.access``), and the key must
   be that office's.
3. **Prepare.** Attachments decoded and checked against the limits, HTML
   sanitized, content hashed: here, outside the group commit's write lock.
4. **Accept.** The submission joins the application's group commit; every
   submission of a batch is accepted by one call (``acceptances``, over
   ``intake_service.accept_signed``), which checks token and key again.
5. **Answer,** only once that commit is durable (invariant 1): a new
   message with its receipt (the opening of its ``accepted`` event), or, for
   a retry with the same Idempotency-Key, the message accepted before. A
   token or key refused at the commit is forgotten.

No database transaction is open while a submission waits.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from pouch.intake import access as intake_access
from pouch.intake import service as intake_service
from pouch.intake.credentials import Credentials, SenderToken
from pouch.intake.signatures import (
    RegisteredKey,
    SignatureRejected,
    SignatureVerdict,
    verify_request,
)
from pouch.ledger.service import Ledger
from pouch.messages import acceptance, receipts
from pouch.messages.models import Message
from pouch.messages.rules import Timetable
from pouch.messages.schemas import AcceptedOut, MessageIn, ReceiptOut
from pouch.settings import Settings


@dataclass(frozen=True)
class SubmissionRequest:
    """A submission as it came: what the signature covers, and its headers of note."""

    method: str
    url: str  # absolute, as the sender addressed it
    headers: list[tuple[str, str]]
    body: bytes
    authorization: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class Submitted:
    """What a submission came to: the accepted message as the API shows it
    (``AcceptedOut`` as JSON); ``replayed`` when it is the message an earlier
    request with the same Idempotency-Key made."""

    answer: dict[str, Any]
    replayed: bool

    @property
    def message_id(self) -> str:
        return str(self.answer["id"])


class _NotRemembered(Exception):
    """The token or key is not in memory: read it from the database."""


def _bearer(authorization: str | None) -> str:
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotAuthenticated("send the sender's API token as 'Authorization: Bearer <token>'")
    return secret.strip()


def submission_of(data: MessageIn) -> acceptance.Submission:
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


def _answer(message: Message, receipt: ReceiptOut) -> dict[str, Any]:
    return AcceptedOut.of(message, receipt).model_dump(mode="json")


class Intake:
    """Signed submission, built once per application (see the module's docstring)."""

    def __init__(
        self,
        database: Database,
        *,
        committer: GroupCommitter,
        ledger: Ledger,
        clock: Clock,
        timetable: Timetable,
        limits: acceptance.Limits,
        settings: Settings,
        credentials: Credentials | None = None,
    ) -> None:
        self.database = database
        self.committer = committer
        self.ledger = ledger
        self.clock = clock
        self.timetable = timetable
        self.credentials = credentials if credentials is not None else Credentials()
        self.limits = limits
        self.max_age = settings.signature_max_age
        self.base_url = settings.public_url.rstrip("/")
        # The one batched unit of the group commit for submissions: those that
        # land side by side in a batch are accepted by one call.
        self.acceptances: Batched[intake_service.SignedSubmission, Any] = Batched(self._accept)

    async def submit(self, request: SubmissionRequest) -> Submitted:
        """Authenticate, check, prepare and accept one submission; return once it is
        durable and logged.

        :raises NotAuthenticated: no token; ``InvalidCredentials``: not a valid one.
        :raises InvalidSignature: a signature missing, bad, replayed, or by another
            office's key.
        :raises PermissionDenied: the token does not let its holder send for the office.
        :raises InvalidInput: the body is not a valid submission (each field named).
        """
        now = self.clock.now()
        try:
            # A sender seen before is checked without a database read; a new one
            # is read in a worker thread, not on the event loop.
            token, verdict = self._authenticate_from_memory(request, now=now)
        except _NotRemembered:
            token, verdict = await asyncio.to_thread(self._authenticate, request, now=now)
        actor = token.actor
        try:
            data = MessageIn.model_validate_json(request.body)
        except ValidationError as error:
            raise invalid_input(error.errors(), prefix=("body",)) from None
        if not intake_access.may_send_for(actor, data.sender_office_id):
            raise PermissionDenied(
                f"your token does not let you send for office {data.sender_office_id}",
                field_errors=[FieldError("body.sender_office_id", "not your office")],
            )
        if verdict.office_id != data.sender_office_id:
            raise InvalidSignature(
                f"the signing key {verdict.key_id!r} belongs to another office, "
                f"not to office {data.sender_office_id}"
            )
        # Sanitizing and hashing happen here, outside the group commit's write lock.
        prepared = acceptance.prepare(submission_of(data), self.limits)
        submitted = intake_service.SignedSubmission(
            token_id=token.token_id,
            user_id=actor.user_id,
            verdict=verdict,
            prepared=prepared,
            idempotency_key=request.idempotency_key,
            request_hash=hashlib.sha256(request.body).hexdigest(),
        )
        future = self.committer.submit_item(self.acceptances, submitted)
        try:
            result = await asyncio.wrap_future(future)
        except InvalidCredentials:
            self.credentials.forget(secret=_bearer(request.authorization))
            raise
        except InvalidSignature:
            self.credentials.forget(key_id=verdict.key_id)
            raise
        if isinstance(result, acceptance.Accepted):
            assert result.opening is not None, "a new acceptance has its opening"
            receipt = receipts.pending_receipt(
                result.message, result.opening, base_url=self.base_url
            )
            return Submitted(_answer(result.message, receipt), replayed=False)
        return Submitted(result, replayed=True)

    # -- authentication ------------------------------------------------------------

    def _verify(
        self,
        request: SubmissionRequest,
        *,
        resolve_key: Callable[[str], RegisteredKey | None],
        now: datetime,
    ) -> SignatureVerdict:
        try:
            return verify_request(
                method=request.method,
                url=request.url,
                headers=request.headers,
                body=request.body,
                resolve_key=resolve_key,
                now=now,
                max_age=self.max_age,
                nonce_is_fresh=self.credentials.spend_nonce,
            )
        except SignatureRejected as error:
            raise InvalidSignature(str(error.reason)) from None

    def _authenticate_from_memory(
        self, request: SubmissionRequest, *, now: datetime
    ) -> tuple[SenderToken, SignatureVerdict]:
        """Token and signature checked against what the sender used before, in memory.

        :raises _NotRemembered: the token or the key must be read first.
        """
        credentials = self.credentials
        token = credentials.known_token(_bearer(request.authorization), now=now)
        if token is None:
            raise _NotRemembered

        def known_key(key_id: str) -> RegisteredKey:
            key = credentials.known_key(key_id)
            if key is None:
                raise _NotRemembered
            return key

        return token, self._verify(request, resolve_key=known_key, now=now)

    def _authenticate(
        self, request: SubmissionRequest, *, now: datetime
    ) -> tuple[SenderToken, SignatureVerdict]:
        """Token and signature, their rows read in short read-only transactions."""
        credentials = self.credentials
        token = credentials.token(self.database, secret=_bearer(request.authorization), now=now)
        with self.database.transaction(write=False) as session:
            verdict = self._verify(
                request, resolve_key=lambda key_id: credentials.key(session, key_id), now=now
            )
        return token, verdict

    # -- the group commit's unit -----------------------------------------------------

    def _accept(
        self, session: Session, submissions: list[intake_service.SignedSubmission]
    ) -> list[Any]:
        """Accept a batch's submissions with only what needs the database. Each is
        answered with its acceptance (the message, whose attributes stay loaded
        after the commit, with the opening of its event); a replay with its
        finished answer, read in the transaction; a refusal with its error."""
        outcomes = intake_service.accept_signed(
            session,
            submissions,
            now=self.clock.now(),
            timetable=self.timetable,
            limits=self.limits,
        )
        return [
            _answer(
                outcome.message,
                receipts.receipt_for(
                    session,
                    outcome.message,
                    outcome.ledger_index,
                    ledger=self.ledger,
                    base_url=self.base_url,
                ),
            )
            if isinstance(outcome, acceptance.Accepted) and outcome.opening is None
            else outcome
            for outcome in outcomes
        ]
