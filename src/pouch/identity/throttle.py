"""Login throttling: a growing wait after failed logins, per user name and per address.

A user name may fail ``login_attempts`` times in a row, a client address
``login_attempts_per_address`` times (whatever the names it tries); after
that each further attempt waits ``login_delay``, doubled with each more
failure up to ``login_max_delay``, and an attempt made before its time is
refused (429, ``Retry-After``) without its password being checked, so it
neither counts nor lengthens the wait. A success clears the user name's count,
never the address's: one good account does not buy an address more guesses.
A count is forgotten after ``login_forget_after`` without a failure.

The counts are rows of ``login_throttles``, so every process of one database
shares them. A user name is kept only as its SHA-256 (a password typed into
the name field is not stored), and known and unknown names are counted
alike: the throttle tells nobody which names exist.

The auditors are alerted once per run of failures (an e-mail through the
outbox and a ``login.alert`` event, whose opening the user's offices may read):
when one user name reaches ``login_alert_after`` failures, and when one address
has tried ``login_alert_users`` names in vain. The alert carries the user's id
when the name is a user's, the address and the counts; never a password.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from pouch.db import Base, UTCDateTime
from pouch.errors import TooManyAttempts
from pouch.events import EventKind
from pouch.identity.models import Membership, User
from pouch.ledger import service as ledger_service
from pouch.messages import notify
from pouch.settings import Settings

USER = "user"
ADDRESS = "address"
#: How many user names an address's row remembers (as hashes): enough to alert on.
_NAMES_KEPT = 50


class LoginThrottle(Base):
    """The failed logins in a row of one user name (``scope`` "user", ``key`` the name's
    SHA-256) or of one client address (``scope`` "address", ``key`` the address, an IPv6
    one as its /64)."""

    __tablename__ = "login_throttles"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: No attempt is checked before this time (None: the next may come at once).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The user whose name this is, when it is one (for the alert); no foreign key:
    #: a count outlives nothing it needs.
    user_id: Mapped[int | None] = mapped_column()
    #: An address's row: the hashes of the user names it tried in vain.
    names: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The auditors were alerted of this run of failures.
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class Policy:
    attempts: int
    attempts_per_address: int
    delay: timedelta
    max_delay: timedelta
    forget_after: timedelta
    alert_after: int
    alert_users: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            attempts=settings.login_attempts,
            attempts_per_address=settings.login_attempts_per_address,
            delay=settings.login_delay,
            max_delay=settings.login_max_delay,
            forget_after=settings.login_forget_after,
            alert_after=settings.login_alert_after,
            alert_users=settings.login_alert_users,
        )


def wait_after(failures: int, *, free: int, delay: timedelta, cap: timedelta) -> timedelta:
    """How long the next attempt waits after ``failures`` failures in a row.

    >>> [int(wait_after(n, free=5, delay=timedelta(seconds=30),
    ...      cap=timedelta(minutes=15)).total_seconds()) for n in (4, 5, 6, 7, 9, 10, 30)]
    [0, 30, 60, 120, 480, 900, 900]
    """
    if failures < free:
        return timedelta(0)
    doublings = failures - free
    if doublings >= 40:  # far past any cap; 2**n would only grow
        return cap
    longer: timedelta = delay * (2**doublings)
    return min(longer, cap)


def name_key(username: str) -> str:
    """A user name as its throttle row knows it: never the text itself.

    >>> name_key("principal")[:12]
    '69e03750027e'
    """
    return hashlib.sha256(username.encode()).hexdigest()


def address_key(host: str | None) -> str:
    """The client address counted: an IPv6 address by its /64 (one machine has them all).

    >>> address_key("192.0.2.7"), address_key("2001:db8:1:2:3:4:5:6"), address_key(None)
    ('192.0.2.7', '2001:db8:1:2::/64', 'unknown')
    >>> address_key("::ffff:192.0.2.7")
    '192.0.2.7'
    """
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def check(session: Session, *, username: str, address: str, now: datetime, policy: Policy) -> None:
    """Raise ``TooManyAttempts`` if this user name or this address must still wait."""
    rows = session.scalars(
        select(LoginThrottle).where(
            ((LoginThrottle.scope == USER) & (LoginThrottle.key == name_key(username)))
            | ((LoginThrottle.scope == ADDRESS) & (LoginThrottle.key == address))
        )
    )
    until = max(
        (
            row.locked_until
            for row in rows
            if row.locked_until is not None and not _forgotten(row, now, policy)
        ),
        default=None,
    )
    if until is not None and until > now:
        wait = math.ceil((until - now).total_seconds())
        raise TooManyAttempts(
            f"too many failed logins; try again in {_spoken(wait)}", wait_seconds=wait
        )


def record_failure(
    session: Session, *, username: str, address: str, now: datetime, policy: Policy
) -> None:
    """Count one failed login (a wrong password or an unknown name, alike) for the name and
    the address, and alert the auditors when either reaches its alert level."""
    user_id = session.scalar(select(User.id).where(User.username == username))
    by_name = _claim(session, USER, name_key(username), now, policy)
    by_address = _claim(session, ADDRESS, address, now, policy)

    by_name.failures += 1
    by_name.last_failure_at = now
    by_name.user_id = user_id
    by_name.locked_until = _until(now, by_name.failures, policy.attempts, policy)

    by_address.failures += 1
    by_address.last_failure_at = now
    by_address.locked_until = _until(now, by_address.failures, policy.attempts_per_address, policy)
    if name_key(username) not in by_address.names and len(by_address.names) < _NAMES_KEPT:
        # A new list: the JSON column is saved only when it is assigned.
        by_address.names = [*by_address.names, name_key(username)]

    if by_name.failures >= policy.alert_after and not by_name.alerted:
        by_name.alerted = True
        _alert(
            session,
            now=now,
            subject=f"{by_name.failures} failed logins in a row for one user",
            details={
                "user": user_id,
                "address": address,
                "failures": by_name.failures,
                "reason": "user",
            },
            user_id=user_id,
        )
    if len(by_address.names) >= policy.alert_users and not by_address.alerted:
        by_address.alerted = True
        _alert(
            session,
            now=now,
            subject=f"failed logins for {len(by_address.names)} users from {address}",
            details={
                "user": None,
                "address": address,
                "failures": by_address.failures,
                "users_tried": len(by_address.names),
                "reason": "address",
            },
            user_id=None,
        )


def record_success(session: Session, *, username: str) -> None:
    """A good login clears its user name's count (the address's stays)."""
    row = session.get(LoginThrottle, (USER, name_key(username)))
    if row is not None:
        session.delete(row)


def _forgotten(row: LoginThrottle, now: datetime, policy: Policy) -> bool:
    return now - row.last_failure_at >= policy.forget_after


def _until(now: datetime, failures: int, free: int, policy: Policy) -> datetime | None:
    wait = wait_after(failures, free=free, delay=policy.delay, cap=policy.max_delay)
    return now + wait if wait else None


def _claim(session: Session, scope: str, key: str, now: datetime, policy: Policy) -> LoginThrottle:
    """The row of ``(scope, key)``, created if missing, locked for this transaction (each
    process's failures add up), and started afresh if its run of failures was forgotten."""
    values: dict[str, Any] = {
        "scope": scope,
        "key": key,
        "failures": 0,
        "last_failure_at": now,
        "locked_until": None,
        "names": [],
        "alerted": False,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    row = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.scope == scope, LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.failures and _forgotten(row, now, policy):
        row.failures = 0
        row.locked_until = None
        row.names = []
        row.alerted = False
    return row


def _alert(
    session: Session, *, now: datetime, subject: str, details: dict[str, Any], user_id: int | None
) -> None:
    offices = (
        set(session.scalars(select(Membership.office_id).where(Membership.user_id == user_id)))
        if user_id is not None
        else set()
    )
    ledger_service.record_event(
        session, kind=EventKind.LOGIN_ALERT, at=now, details=details, parties=sorted(offices)
    )
    notify.alarm(session, subject=subject, details=details, at=now)


def _spoken(seconds: int) -> str:
    """
    >>> _spoken(30), _spoken(61), _spoken(900)
    ('30 seconds', '2 minutes', '15 minutes')
    """
    if seconds < 60:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
