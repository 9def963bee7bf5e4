"""Telling people: the outbox, and the webhook and e-mail senders that drain it.

A notification is written to the ``notifications`` table in the same
transaction as the step it announces, so it exists exactly when the step
does; the worker sends it after commit and retries with backoff. Webhook
bodies are signed: ``X-Pouch-Signature: sha256=<hex HMAC-SHA256(secret,
timestamp + "." + body)>`` with ``X-Pouch-Timestamp``, as GitHub and Stripe do,
with a secret shown once to the office that set the webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.identity.models import Membership, Role, User
from pouch.ledger.events import format_time
from pouch.messages import claims
from pouch.messages.models import Message, Notification, NotificationChannel, OfficeEndpoint
from pouch.settings import Settings

logger = logging.getLogger("pouch.notify")

#: Who is told of a step: the sender office, the addressee office, the auditors.
Audience = Literal["sender", "addressee", "auditors"]
MAX_ATTEMPTS = 8
SIGNATURE_HEADER = "X-Pouch-Signature"
TIMESTAMP_HEADER = "X-Pouch-Timestamp"


def _enqueue(
    session: Session,
    *,
    channel: NotificationChannel,
    target: str,
    subject: str,
    payload: dict[str, Any],
    secret: str | None,
    at: datetime,
) -> None:
    session.add(
        Notification(
            channel=channel,
            target=target,
            subject=subject,
            payload=payload,
            secret=secret,
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
    session: Session, *, office_id: int, webhook_url: str | None, email: str | None
) -> EndpointSet:
    """Where the office is told of its messages' steps: a webhook, whose signing secret
    is made anew whenever its URL changes, and an e-mail address."""
    directory_service.get_office(session, office_id)
    endpoint = _office_endpoints(session, office_id) or OfficeEndpoint(office_id=office_id)
    new_secret = None
    if webhook_url != endpoint.webhook_url:
        new_secret = secrets.token_urlsafe(32) if webhook_url else None
        endpoint.webhook_secret = new_secret
    endpoint.webhook_url = webhook_url
    endpoint.email = email
    session.add(endpoint)
    return EndpointSet(endpoint=endpoint, new_secret=new_secret)


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
    target: str
    secret: str | None  # a webhook's signing secret


def _office_destinations(session: Session, office_id: int) -> list[_Destination]:
    endpoint = _office_endpoints(session, office_id)
    if endpoint is None:
        return []
    found = []
    if endpoint.webhook_url:
        found.append(
            _Destination(NotificationChannel.WEBHOOK, endpoint.webhook_url, endpoint.webhook_secret)
        )
    if endpoint.email:
        found.append(_Destination(NotificationChannel.EMAIL, endpoint.email, None))
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
    destinations: list[_Destination] = []
    if "sender" in targets:
        destinations += _office_destinations(session, message.sender_office_id)
    if "addressee" in targets:
        destinations += _office_destinations(session, message.addressee_office_id)
    if "auditors" in targets:
        destinations += [
            _Destination(NotificationChannel.EMAIL, email, None)
            for email in _auditor_emails(session)
        ]
    for destination in destinations:
        _enqueue(
            session,
            channel=destination.channel,
            target=destination.target,
            subject=subject,
            payload=payload,
            secret=destination.secret,
            at=at,
        )


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """The value of X-Pouch-Signature for ``body`` sent at ``timestamp``.

    >>> sign_webhook("s3cret", "1762351200", b'{}')[:15]
    'sha256=9ea3ca69'
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class MailRelay:
    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None
    mail_from: str


@dataclass(frozen=True)
class Senders:
    """What the outbox sends with; an unset relay leaves e-mails pending."""

    http: httpx.Client
    relay: MailRelay | None
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.Client) -> Senders:
        """The webhook client and the SMTP relay the settings configure."""
        relay = None
        if settings.smtp_host:
            password = settings.smtp_password
            relay = MailRelay(
                host=settings.smtp_host,
                port=settings.smtp_port,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=password.get_secret_value() if password else None,
                mail_from=settings.mail_from,
            )
        return cls(http=http, relay=relay, timeout=settings.notify_timeout.total_seconds())


def _send_webhook(notification: Notification, senders: Senders, now: datetime) -> None:
    body = json.dumps(notification.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
    if notification.secret:
        headers[SIGNATURE_HEADER] = sign_webhook(notification.secret, timestamp, body)
    response = senders.http.post(
        notification.target, content=body, headers=headers, timeout=senders.timeout
    )
    if response.status_code >= 300:
        raise RuntimeError(f"webhook answered HTTP {response.status_code}")


def _send_email(notification: Notification, relay: MailRelay, timeout: float) -> None:
    mail = EmailMessage()
    mail["From"] = relay.mail_from
    mail["To"] = notification.target
    mail["Subject"] = notification.subject
    lines = [f"{key}: {value}" for key, value in sorted(notification.payload.items())]
    mail.set_content("Pouch reports a step of a message.\n\n" + "\n".join(lines) + "\n")
    with smtplib.SMTP(relay.host, relay.port, timeout=timeout) as smtp:
        if relay.starttls:
            smtp.starttls()
        if relay.username:
            smtp.login(relay.username, relay.password or "")
        smtp.send_message(mail)


def send_pending(session: Session, *, senders: Senders, now: datetime, limit: int = 50) -> int:
    """Send what is due; returns how many were sent. Several workers may run:
    on PostgreSQL each claims its rows with FOR UPDATE SKIP LOCKED."""
    query = select(Notification).where(
        Notification.sent_at.is_(None),
        Notification.failed.is_(False),
        Notification.next_attempt_at <= now,
    )
    if senders.relay is None:
        query = query.where(Notification.channel != NotificationChannel.EMAIL)
    sent = 0
    for notification in claims.claim(session, query, first=Notification.id, limit=limit):
        try:
            if notification.channel == NotificationChannel.WEBHOOK:
                _send_webhook(notification, senders, now)
            else:
                assert senders.relay is not None
                _send_email(notification, senders.relay, senders.timeout)
        except (OSError, httpx.HTTPError, smtplib.SMTPException, RuntimeError) as error:
            notification.attempts += 1
            notification.last_error = f"{type(error).__name__}: {error}"[:2000]
            if notification.attempts >= MAX_ATTEMPTS:
                notification.failed = True
                logger.error("notification %s abandoned: %s", notification.id, error)
            else:
                notification.next_attempt_at = now + timedelta(minutes=2**notification.attempts)
            continue
        notification.attempts += 1
        notification.sent_at = now
        sent += 1
    return sent
