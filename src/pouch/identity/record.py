"""Identity and the directory on the record (invariant 6).

Every change to who may do what (users, passwords, roles, offices, their
endpoints and keys, tokens) is a ledger event through ``change``: its opening
is kept for the offices it concerns (the affected user's offices, the office
changed) and for the affected user, and the affected party is told at once,
by e-mail or webhook, at the old address too when an address changes. An
administrator can still do what the role allows; it can no longer do it
where nobody sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.events import EventKind
from pouch.identity.models import Membership, User
from pouch.ledger import service as ledger_service
from pouch.ledger.events import format_time
from pouch.messages.models import Notification, NotificationChannel, OfficeEndpoint

#: The kinds ``change`` writes: what an audit lists.
IDENTITY_KINDS: frozenset[str] = frozenset(
    {
        EventKind.USER_CREATED,
        EventKind.USER_RENAMED,
        EventKind.USER_EMAIL_CHANGED,
        EventKind.USER_ACTIVATED,
        EventKind.USER_DEACTIVATED,
        EventKind.PASSWORD_RESET_STARTED,
        EventKind.PASSWORD_SET,
        EventKind.TOKEN_ISSUED,
        EventKind.TOKEN_REVOKED,
        EventKind.MEMBERSHIP_GRANTED,
        EventKind.MEMBERSHIP_REMOVAL_REQUESTED,
        EventKind.MEMBERSHIP_REVOKED,
        EventKind.POWER_REQUESTED,
        EventKind.POWER_APPROVED,
        EventKind.POWER_WITHDRAWN,
        EventKind.PASSKEY_REGISTERED,
        EventKind.PASSKEY_REVOKED,
        EventKind.LOGIN_ALERT,
        EventKind.OFFICE_CREATED,
        EventKind.OFFICE_CHANGED,
        EventKind.OFFICE_RETIRED,
        EventKind.OFFICE_REMOVED,
        EventKind.ENDPOINT_CHANGED,
        EventKind.SENDER_KEY_REGISTERED,
        EventKind.SENDER_KEY_REVOKED,
        EventKind.TAG_KEY_ROTATED,
    }
)


def offices_of(session: Session, user_id: int) -> set[int]:
    """The offices where the user holds a role: each is told of changes to the user."""
    return set(session.scalars(select(Membership.office_id).where(Membership.user_id == user_id)))


def change(
    session: Session,
    kind: EventKind,
    *,
    at: datetime,
    by: int | None,
    details: Mapping[str, Any],
    offices: Collection[int] = (),
    tell_users: Collection[int] = (),
    tell_offices: Collection[int] = (),
    tell_addresses: Collection[tuple[NotificationChannel, str]] = (),
) -> ledger_service.RecordedEvent:
    """Log one change to identity or the directory and tell whom it affects.

    ``by`` is the acting user (None: the operator at the machine, ``pouch``
    commands that open the database). The event concerns ``offices`` (their
    members read its opening) and names its user in ``details["user"]`` (who
    reads it too). Notices go to each of ``tell_users`` by e-mail, to each of
    ``tell_offices`` wherever its endpoint points, and to ``tell_addresses``
    as given (an old address, which the endpoint no longer names).
    """
    recorded = ledger_service.record_event(
        session,
        kind=kind,
        at=at,
        details={**details, "by": by},
        parties=sorted(set(offices) | set(tell_offices)),
    )
    payload = {
        "event": kind.value,
        "label": kind.label,
        "at": format_time(at),
        "log_index": recorded.index,
        **{key: value for key, value in details.items() if _shareable(value)},
        "by": by,
    }
    subject = f"[Pouch] {kind.label}"[:300]
    addresses: list[tuple[NotificationChannel, int | None, str]] = []
    for user_id in sorted(set(tell_users)):
        user = session.get(User, user_id)
        if user is not None and user.email:
            addresses.append((NotificationChannel.EMAIL, None, user.email))
    for office_id in sorted(set(tell_offices)):
        endpoint = session.get(OfficeEndpoint, office_id)
        if endpoint is None:
            continue
        if endpoint.webhook_url:
            addresses.append((NotificationChannel.WEBHOOK, office_id, endpoint.webhook_url))
        if endpoint.email:
            addresses.append((NotificationChannel.EMAIL, office_id, endpoint.email))
    addresses += [(channel, None, target) for channel, target in tell_addresses]
    seen: set[tuple[NotificationChannel, str]] = set()
    for channel, told_office, target in addresses:
        if (channel, target) in seen:
            continue
        seen.add((channel, target))
        session.add(
            Notification(
                key=uuid.uuid4().hex,
                channel=channel,
                office_id=told_office,
                target=target[:500],
                subject=subject,
                payload=payload,
                created_at=at,
                next_attempt_at=at,
                attempts=0,
                failed=False,
            )
        )
    return recorded


def _shareable(value: Any) -> bool:
    return isinstance(value, str | int | bool | list | dict) or value is None


def tell_with_secret(
    session: Session, *, email: str, subject: str, payload: dict[str, Any], at: datetime
) -> None:
    """An e-mail to one person only, carrying something for them alone (a password
    code): never logged, never listed to administrators (the outbox lists notices
    without their bodies)."""
    session.add(
        Notification(
            key=uuid.uuid4().hex,
            channel=NotificationChannel.EMAIL,
            office_id=None,
            target=email[:500],
            subject=subject[:300],
            payload=payload,
            created_at=at,
            next_attempt_at=at,
            attempts=0,
            failed=False,
        )
    )
