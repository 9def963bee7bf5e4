"""Telling people: each step's notices, written to the outbox with the step.

A notice is written to the ``notifications`` table in the same transaction as
the step it announces, so it exists exactly when the step does; the outbox
(``messages/outbox.py``) sends it after the commit, outside any transaction,
and retries with backoff. A notice to an office names the office, not its
address: it goes wherever the office's endpoint points when it is sent.
Webhook bodies are signed: ``X-Pouch-Signature: sha256=<hex
HMAC-SHA256(secret, timestamp + "." + body)>`` with ``X-Pouch-Timestamp``, as
GitHub and Stripe do, with a secret shown once to the office that set the
webhook; each carries the notice's ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.errors import FieldError, InvalidInput
from pouch.events import EventKind
from pouch.identity import record
from pouch.identity.models import Membership, Role, User
from pouch.ledger.events import format_time
from pouch.messages import destinations
from pouch.messages.models import Message, Notification, NotificationChannel, OfficeEndpoint

#: Who is told of a step: the sender office, the addressee office, the auditors.
Audience = Literal["sender", "addressee", "auditors"]
SIGNATURE_HEADER = "X-Pouch-Signature"
TIMESTAMP_HEADER = "X-Pouch-Timestamp"


def _enqueue(
    session: Session,
    *,
    channel: NotificationChannel,
    office_id: int | None,
    target: str,
    subject: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    session.add(
        Notification(
            key=uuid.uuid4().hex,
            channel=channel,
            office_id=office_id,
            target=target,
            subject=subject,
            payload=payload,
            created_at=at,
            next_attempt_at=at,
            attempts=0,
            failed=False,
        )
    )


def _office_endpoints(session: Session, office_id: int) -> OfficeEndpoint | None:
    return session.get(OfficeEndpoint, office_id)


@dataclass(frozen=True)
class EndpointSet:
    """An office's endpoints as set, and the webhook's new secret (shown once)."""

    endpoint: OfficeEndpoint
    new_secret: str | None


def set_endpoint(
    session: Session,
    *,
    office_id: int,
    webhook_url: str | None,
    email: str | None,
    policy: destinations.Policy,
    by: int | None = None,
    now: datetime | None = None,
) -> EndpointSet:
    """Where the office is told of its messages' steps: a webhook, whose signing secret
    is made anew whenever its URL changes, and an e-mail address. A webhook Pouch
    may not send to (``destinations.parse_webhook``) is refused, naming the field.
    A change is logged and told to the office at its new and at its old addresses
    (``by``, at ``now``): nobody diverts an office's notices unseen."""
    directory_service.get_office(session, office_id)
    if webhook_url is not None:
        try:
            destinations.parse_webhook(webhook_url, policy)
        except destinations.BadDestination as error:
            raise InvalidInput(
                f"body.webhook_url: {error}",
                field_errors=[FieldError("body.webhook_url", str(error))],
            ) from None
    endpoint = _office_endpoints(session, office_id) or OfficeEndpoint(office_id=office_id)
    old_webhook, old_email = endpoint.webhook_url, endpoint.email
    new_secret = None
    if webhook_url != endpoint.webhook_url:
        new_secret = secrets.token_urlsafe(32) if webhook_url else None
        endpoint.webhook_secret = new_secret
    endpoint.webhook_url = webhook_url
    endpoint.email = email
    session.add(endpoint)
    session.flush()
    if now is not None and (old_webhook, old_email) != (webhook_url, email):
        old: list[tuple[NotificationChannel, str]] = []
        if old_webhook and old_webhook != webhook_url:
            old.append((NotificationChannel.WEBHOOK, old_webhook))
        if old_email and old_email != email:
            old.append((NotificationChannel.EMAIL, old_email))
        record.change(
            session,
            EventKind.ENDPOINT_CHANGED,
            at=now,
            by=by,
            details={
                "office": office_id,
                "webhook_url": {"from": old_webhook, "to": webhook_url},
                "email": {"from": old_email, "to": email},
            },
            offices=[office_id],
            tell_offices=[office_id],
            tell_addresses=old,
        )
    return EndpointSet(endpoint=endpoint, new_secret=new_secret)


def endpoint_of(session: Session, office_id: int) -> OfficeEndpoint | None:
    """Where the office's notices go now (the office reads its own)."""
    directory_service.get_office(session, office_id)
    return _office_endpoints(session, office_id)


def _auditor_emails(session: Session) -> list[str]:
    rows = session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .join(Office, Office.id == Membership.office_id)
        .where(
            Membership.role == Role.AUDITOR,
            Office.kind == OfficeKind.OPERATIONS,
            User.is_active.is_(True),
            User.email.is_not(None),
        )
    )
    return sorted({e for e in rows if e})


@dataclass(frozen=True)
class _Destination:
    channel: NotificationChannel
    office_id: int | None  # None: an auditor, at ``target``
    target: str


def _office_destinations(session: Session, office_id: int) -> list[_Destination]:
    endpoint = _office_endpoints(session, office_id)
    if endpoint is None:
        return []
    found = []
    if endpoint.webhook_url:
        found.append(_Destination(NotificationChannel.WEBHOOK, office_id, endpoint.webhook_url))
    if endpoint.email:
        found.append(_Destination(NotificationChannel.EMAIL, office_id, endpoint.email))
    return found


def message_step(
    session: Session,
    message: Message,
    kind: str,
    *,
    at: datetime,
    details: dict[str, Any] | None = None,
    audience: Iterable[Audience] = ("sender",),
) -> None:
    """Announce a step of ``message`` to its sender (and whoever else ``audience`` names:
    ``addressee``, ``auditors``)."""
    payload = {
        "event": kind,
        "message": message.public_id,
        "at": format_time(at),
        "state": message.state.value,
        "precedence": message.precedence.value,
        **(details or {}),
    }
    subject = f"[Pouch] {kind}: {message.precedence.value} message {message.public_id}"
    targets = set(audience)
    found: list[_Destination] = []
    if "sender" in targets:
        found += _office_destinations(session, message.sender_office_id)
    if "addressee" in targets:
        found += _office_destinations(session, message.addressee_office_id)
    if "auditors" in targets:
        found += [
            _Destination(NotificationChannel.EMAIL, None, email)
            for email in _auditor_emails(session)
        ]
    for destination in found:
        _enqueue(
            session,
            channel=destination.channel,
            office_id=destination.office_id,
            target=destination.target,
            subject=subject,
            payload=payload,
            at=at,
        )
    if "sender" in targets:
        _tell_correspondent(session, message, kind, payload=payload, at=at)


def correspondent_of(message: Message) -> tuple[str, str | None] | None:
    """The address a message that came by mail is answered at, and the Message-ID it
    came with; None for any other message. The mail intake wrote both into the
    message's authentication record, and only for a DKIM-aligned From."""
    mail = (message.signature or {}).get("mail")
    if not isinstance(mail, dict) or not isinstance(mail.get("answer_to"), str):
        return None
    message_id = mail.get("message_id")
    return mail["answer_to"], message_id if isinstance(message_id, str) else None


def _tell_correspondent(
    session: Session, message: Message, kind: str, *, payload: dict[str, Any], at: datetime
) -> None:
    """Steps of a message that came by mail go back to the mail's author; a reply to
    one, once delivered, goes to the author in its own words, in the mail's thread."""
    said = correspondent_of(message)
    if said is not None:
        address, message_id = said
        text = (
            f"Pouch message {message.public_id} ({message.precedence.value}), "
            f"{message.subject!r}: {kind} at {payload['at']}.\n"
            f"It is now {message.state.value}. Every step is an event in Pouch's "
            "transparency log; your receipt proves its acceptance.\n"
        )
        mail_to(
            session,
            address=address,
            subject=f"[Pouch] {kind}: {message.subject}",
            text=text,
            in_reply_to=message_id,
            payload=payload,
            automatic=True,
            at=at,
        )
    if kind != EventKind.DELIVERED or message.in_reply_to_id is None:
        return
    original = session.get(Message, message.in_reply_to_id)
    said = correspondent_of(original) if original is not None else None
    if original is None or said is None or original.sender_office_id != message.addressee_office_id:
        return
    address, message_id = said
    mail_to(
        session,
        address=address,
        subject=message.subject,
        text=f"{message.body_text}\n\n-- \nPouch message {message.public_id}, "
        f"in reply to {original.public_id}.\n",
        in_reply_to=message_id,
        payload={**payload, "in_reply_to": original.public_id},
        automatic=False,
        at=at,
    )


def mail_to(
    session: Session,
    *,
    address: str,
    subject: str,
    text: str,
    in_reply_to: str | None,
    payload: dict[str, Any],
    automatic: bool,
    at: datetime,
) -> str:
    """An e-mail to one address with its own text, threaded under ``in_reply_to``;
    ``automatic`` marks it ``Auto-Submitted: auto-replied`` (RFC 3834) so that no
    well-behaved system answers it. Returns the notice's key (its Message-ID's left part)."""
    letter: dict[str, Any] = {"text": text, "in_reply_to": in_reply_to}
    if automatic:
        letter["auto_submitted"] = "auto-replied"
    key = uuid.uuid4().hex
    session.add(
        Notification(
            key=key,
            channel=NotificationChannel.EMAIL,
            office_id=None,
            target=address[:500],
            subject=" ".join(subject.split())[:300],
            payload={**payload, "mail": letter},
            created_at=at,
            next_attempt_at=at,
            attempts=0,
            failed=False,
        )
    )
    return key


def alarm(session: Session, *, subject: str, details: dict[str, Any], at: datetime) -> None:
    """Tell the auditors something is wrong with what Pouch stores (by e-mail)."""
    payload = {"event": "alarm", "at": format_time(at), **details}
    for email in _auditor_emails(session):
        _enqueue(
            session,
            channel=NotificationChannel.EMAIL,
            office_id=None,
            target=email,
            subject=f"[Pouch] ALARM: {subject}"[:300],
            payload=payload,
            at=at,
        )


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """The value of X-Pouch-Signature for ``body`` sent at ``timestamp``.

    >>> sign_webhook("s3cret", "1762351200", b'{}')[:15]
    'sha256=9ea3ca69'
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
