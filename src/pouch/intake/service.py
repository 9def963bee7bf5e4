"""Sender keys and nonces, the stored half of sender authentication; and
``accept_signed``, where submissions whose signatures were verified are
accepted, a group commit's batch at a time."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pouch import postgres
from pouch.directory import service as directory_service
from pouch.errors import Conflict, FieldError, InvalidSignature, NotFound, PouchError
from pouch.events import EventKind
from pouch.identity import record
from pouch.intake import credentials
from pouch.intake.models import SenderKey, SignatureNonce
from pouch.intake.signatures import RegisteredKey, SignatureVerdict
from pouch.messages import acceptance
from pouch.messages.rules import Timetable

_NONCES = cast(Table, SignatureNonce.__table__)


def check_key_id_free(session: Session, key_id: str) -> None:
    if session.scalar(select(SenderKey.id).where(SenderKey.key_id == key_id)) is not None:
        raise Conflict(
            f"a key {key_id!r} is registered already",
            field_errors=[FieldError("body.key_id", "taken")],
        )


def _key_details(key: SenderKey) -> dict[str, object]:
    return {
        "office": key.office_id,
        "key_id": key.key_id,
        # The key itself: an office reading this event knows which key signs in its name.
        "public_key": base64.b64encode(key.public_key).decode(),
    }


def register_key(
    session: Session,
    *,
    office_id: int,
    key_id: str,
    public_key: bytes,
    now: datetime,
    by: int | None = None,
) -> SenderKey:
    """Register a key that signs submissions in the office's name: logged, and told to
    the office (``identity.approvals.register_key`` decides who may do it alone)."""
    directory_service.get_office(session, office_id)
    check_key_id_free(session, key_id)
    key = SenderKey(office_id=office_id, key_id=key_id, public_key=public_key, created_at=now)
    session.add(key)
    session.flush()
    record.change(
        session,
        EventKind.SENDER_KEY_REGISTERED,
        at=now,
        by=by,
        details=_key_details(key),
        offices=[office_id],
        tell_offices=[office_id],
    )
    return key


def list_keys(session: Session, *, office_id: int) -> list[SenderKey]:
    return list(
        session.scalars(
            select(SenderKey).where(SenderKey.office_id == office_id).order_by(SenderKey.id)
        )
    )


def keys_by_office(session: Session) -> dict[int, list[SenderKey]]:
    """Every registered key, revoked or not, by office."""
    keys: dict[int, list[SenderKey]] = {}
    for key in session.scalars(select(SenderKey).order_by(SenderKey.id)):
        keys.setdefault(key.office_id, []).append(key)
    return keys


def revoke_key(
    session: Session, *, office_id: int, key_id: str, now: datetime, by: int | None = None
) -> SenderKey:
    key = session.scalar(
        select(SenderKey).where(SenderKey.office_id == office_id, SenderKey.key_id == key_id)
    )
    if key is None:
        raise NotFound(f"office {office_id} has no key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = now
        record.change(
            session,
            EventKind.SENDER_KEY_REVOKED,
            at=now,
            by=by,
            details=_key_details(key),
            offices=[office_id],
            tell_offices=[office_id],
        )
    return key


def resolve_key(session: Session, key_id: str) -> RegisteredKey | None:
    key = session.scalar(select(SenderKey).where(SenderKey.key_id == key_id))
    if key is None:
        return None
    return RegisteredKey(
        key_id=key.key_id,
        office_id=key.office_id,
        public_key=bytes(key.public_key),
        revoked=key.revoked_at is not None,
    )


def remember_nonce(session: Session, *, key_id: str, nonce: str, expires_at: datetime) -> None:
    """Store a nonce; the primary key refuses a second use even in a race."""
    remember_nonces(session, [(key_id, nonce, expires_at)])


def remember_nonces(session: Session, nonces: Sequence[tuple[str, str, datetime]]) -> None:
    """Store nonces as (key id, nonce, expiry), in one statement; a nonce used
    before, or twice among these, fails it with an ``IntegrityError``."""
    if nonces:
        postgres.insert_many(
            session.connection(),
            _NONCES,
            [{"key_id": k, "nonce": n, "expires_at": e} for k, n, e in nonces],
        )


@dataclass(frozen=True)
class SignedSubmission:
    """A submission whose token and signature were found valid, waiting for its commit."""

    token_id: int
    user_id: int
    verdict: SignatureVerdict
    prepared: acceptance.Prepared
    idempotency_key: str | None
    request_hash: str


def accept_signed(
    session: Session,
    submissions: Sequence[SignedSubmission],
    *,
    now: datetime,
    timetable: Timetable,
    limits: acceptance.Limits,
) -> list[acceptance.Accepted | PouchError]:
    """Accept signed submissions in the caller's transaction, each answered in
    its place by its acceptance (or replay) or by the error refusing it alone.

    Token and key are checked again here, at commit (a revocation since the
    signature was verified counts). The nonces of those to be accepted are
    stored once all are checked, before any office's row is taken: their
    primary key makes a replay racing this one fail. A nonce already used
    fails the whole call with an ``IntegrityError`` (the group commit then
    tries each submission alone), or, for one submission, refuses it. A
    refused submission writes nothing, not even its nonce.
    """
    outcomes: list[acceptance.Accepted | PouchError | None] = [None] * len(submissions)
    valid: list[int] = []
    for i, submitted in enumerate(submissions):
        try:
            credentials.check_still_valid(
                session, token_id=submitted.token_id, key_id=submitted.verdict.key_id, now=now
            )
        except PouchError as refusal:
            outcomes[i] = refusal
        else:
            valid.append(i)

    def spend(positions: Sequence[int]) -> None:
        # Only what is accepted spends its nonce: a refusal writes nothing.
        spent = [submissions[valid[p]] for p in positions]
        try:
            remember_nonces(
                session, [(s.verdict.key_id, s.verdict.nonce, s.verdict.expires) for s in spent]
            )
        except IntegrityError:
            if len(spent) == 1:
                raise InvalidSignature("nonce already used") from None
            raise

    accepted = acceptance.accept_many(
        session,
        [
            acceptance.Acceptance(
                submission=s.prepared,
                submitted_by_user_id=s.user_id,
                signature=s.verdict.to_json(),
                idempotency_key=s.idempotency_key,
                request_hash=s.request_hash,
            )
            for s in (submissions[i] for i in valid)
        ],
        now=now,
        timetable=timetable,
        limits=limits,
        spend=spend,
    )
    for i, outcome in zip(valid, accepted, strict=True):
        outcomes[i] = outcome
    return [outcome for outcome in outcomes if outcome is not None]


def forget_expired_nonces(session: Session, *, now: datetime) -> int:
    result = session.execute(delete(SignatureNonce).where(SignatureNonce.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]
