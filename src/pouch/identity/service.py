"""Identity: users, memberships, password logins, web sessions, API tokens.

Service functions take their session and the time, never commit, and raise
``pouch.errors`` exceptions that name the field or the reason. What an
actor may do is asked of ``identity.access``; the API, the administration
pages and the command line call the same functions here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, and_, bindparam, exists, func, select
from sqlalchemy.orm import Session, selectinload

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.errors import (
    Conflict,
    FieldError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from pouch.events import EventKind
from pouch.identity import access as identity_access
from pouch.identity import record
from pouch.identity.models import (
    ApiToken,
    Membership,
    MembershipRemoval,
    PasswordReset,
    RemovalStatus,
    Role,
    User,
    WebSession,
)
from pouch.identity.schemas import TokenIn, UserIn, UserPatch
from pouch.messages.models import NotificationChannel

TOKEN_PREFIX = "pouch_"  # noqa: S105 - a public prefix, not a secret
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD_LENGTH = 12
#: How long a password reset's one-time code stays good.
RESET_LIFETIME = timedelta(hours=24)
#: A password nobody can log in with (argon2 never verifies it): a new user's,
#: until they set their own with the code Pouch sends them.
NO_PASSWORD = "!unset"  # noqa: S105 - not an argon2 hash: verifies nothing

# argon2id with the library's defaults (RFC 9106's second recommended option).
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login time constant.
_DUMMY_HASH = _hasher.hash("pouch-timing-equaliser")


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy random secret (tokens, session ids)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class Actor:
    """Who is making a request, and with which roles in which offices.

    A web session acts with all of the user's memberships; an API token with
    exactly the one role and office it was issued for.
    """

    user_id: int
    username: str
    roles: frozenset[tuple[int, Role]]
    operations_offices: frozenset[int] = field(default_factory=frozenset)
    via: str = "session"
    token_id: int | None = None
    csrf_token: str | None = None
    session_id: int | None = None

    def holds(self, role: Role, office_id: int | None = None) -> bool:
        if office_id is None:
            return any(r == role for _, r in self.roles)
        return (office_id, role) in self.roles

    def holds_in_operations(self, role: Role) -> bool:
        return any(r == role and o in self.operations_offices for o, r in self.roles)

    def offices_with(self, role: Role) -> set[int]:
        return {o for o, r in self.roles if r == role}


# --- users -------------------------------------------------------------------


def validate_new_password(password: str, *, field_name: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"{field_name} must be at least {MIN_PASSWORD_LENGTH} characters",
            field_errors=[FieldError(field_name, f"at least {MIN_PASSWORD_LENGTH} characters")],
        )


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str | None,
    email: str | None,
    now: datetime,
    roles: Sequence[tuple[int, Role]] = (),
    by: int | None = None,
) -> User:
    """A new active user, holding ``roles`` (office, role) granted by ``by`` (None: the
    operator at the machine). Without ``password`` nobody can log in as the user until
    they set their own (``start_password_reset`` sends them the code)."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            "username must be 2-63 characters: lowercase letters, digits, '.', '_' or '-'",
            field_errors=[FieldError("username", "2-63 of a-z 0-9 . _ -, starting alphanumeric")],
        )
    if password is not None:
        validate_new_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(
            f"a user named {username!r} exists already",
            field_errors=[FieldError("username", "taken")],
        )
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        password_hash=hash_password(password) if password is not None else NO_PASSWORD,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    record.change(
        session,
        EventKind.USER_CREATED,
        at=now,
        by=by,
        details={"user": user.id, "username": username, "display_name": display_name},
        offices=sorted({office_id for office_id, _ in roles}),
        tell_users=[user.id],
    )
    for office_id, role in roles:
        grant_role(session, user_id=user.id, office_id=office_id, role=role, now=now, by=by)
    if roles:
        session.refresh(user)  # its memberships as granted
    return user


def add_user(session: Session, *, data: UserIn, by: int, now: datetime, base_url: str) -> User:
    """A user as an administrator adds one, through the API or the administration page:
    with no password. The user sets their own with the code sent to their e-mail
    address; nobody else ever knows it."""
    user = create_user(
        session,
        username=data.username,
        display_name=data.display_name,
        password=None,
        email=data.email,
        roles=[(m.office_id, m.role) for m in data.memberships],
        by=by,
        now=now,
    )
    if user.email:
        start_password_reset(session, user_id=user.id, by=by, now=now, base_url=base_url)
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, options=[selectinload(User.memberships)])
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def get_user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(
        session.scalars(select(User).options(selectinload(User.memberships)).order_by(User.id))
    )


#: Users per page of the administration page's table of users.
USER_PAGE = 100


def user_page(
    session: Session, *, after: int | None, limit: int = USER_PAGE
) -> tuple[list[User], int | None]:
    """A page of users in the order they were made, after the user ``after`` (None: the
    first), and the id to ask the next page with (None on the last)."""
    query = select(User).options(selectinload(User.memberships)).order_by(User.id)
    if after is not None:
        query = query.where(User.id > after)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


def set_user_active(
    session: Session, *, user_id: int, active: bool, by: int | None, now: datetime
) -> User:
    """Activate or deactivate a user. An office's last active administrator
    is not deactivated: that would remove the office's last administrator
    without the second officer that removal needs (invariant 6)."""
    user = get_user(session, user_id)
    if not active and user.is_active:
        last = [
            membership.office_id
            for membership in session.scalars(
                select(Membership).where(
                    Membership.user_id == user_id, Membership.role == Role.ADMINISTRATOR
                )
            )
            if _is_last_administrator(session, membership)
        ]
        if last:
            offices = ", ".join(str(office) for office in sorted(last))
            raise Conflict(
                f"user {user_id} is the last administrator of office {offices}: remove that "
                "role first (a second officer approves it), or make someone else administrator",
                field_errors=[FieldError("is_active", "the office's last administrator")],
            )
    if user.is_active == active:
        return user
    user.is_active = active
    if not active:
        # A deactivated user is logged out everywhere at once.
        end_sessions(session, user_id=user_id)
    record.change(
        session,
        EventKind.USER_ACTIVATED if active else EventKind.USER_DEACTIVATED,
        at=now,
        by=by,
        details={"user": user_id, "username": user.username},
        offices=record.offices_of(session, user_id),
        tell_users=[user_id],
    )
    return user


def end_sessions(session: Session, *, user_id: int, keep: int | None = None) -> int:
    """Log the user out of every browser (but the session ``keep``); how many ended."""
    ended = 0
    for web_session in session.scalars(select(WebSession).where(WebSession.user_id == user_id)):
        if web_session.id != keep:
            session.delete(web_session)
            ended += 1
    return ended


def _revoke_all_tokens(session: Session, *, user_id: int, now: datetime) -> int:
    revoked = 0
    for token in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
        revoked += 1
    return revoked


def update_user(
    session: Session, *, user_id: int, patch: UserPatch, by: int | None, now: datetime
) -> User:
    """Rename, change the e-mail, (de)activate: what ``patch`` sets, each change logged
    and told to the user (a changed e-mail address at the old address too). Nobody sets
    another person's password: ``start_password_reset`` sends the user a code."""
    user = get_user(session, user_id)
    offices = record.offices_of(session, user_id)
    if patch.display_name is not None and patch.display_name != user.display_name:
        old_name, user.display_name = user.display_name, patch.display_name
        record.change(
            session,
            EventKind.USER_RENAMED,
            at=now,
            by=by,
            details={"user": user_id, "from": old_name, "to": user.display_name},
            offices=offices,
            tell_users=[user_id],
        )
    if "email" in patch.model_fields_set and patch.email != user.email:
        old_email, user.email = user.email, patch.email
        record.change(
            session,
            EventKind.USER_EMAIL_CHANGED,
            at=now,
            by=by,
            details={"user": user_id, "from": old_email, "to": user.email},
            offices=offices,
            tell_users=[user_id],
            tell_addresses=[(NotificationChannel.EMAIL, old_email)] if old_email else [],
        )
    if patch.is_active is not None:
        set_user_active(session, user_id=user_id, active=patch.is_active, by=by, now=now)
    return user


# --- passwords: each person sets their own -----------------------------------


def hidden_email(email: str) -> str:
    """Enough of an address for an administrator to recognise it, not to use it.

    >>> hidden_email("walter.watch@ops.example")
    'w***@ops.example'
    """
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def start_password_reset(
    session: Session, *, user_id: int, by: int | None, now: datetime, base_url: str
) -> str:
    """Start a reset of the user's password: a one-time code, good for
    ``RESET_LIFETIME``, sent to the user's own e-mail address (never shown to the
    administrator who starts it). Returns the code, for the operator's console
    (``pouch users reset-password``) only. Earlier codes of the user stop working."""
    user = get_user(session, user_id)
    if by is not None and not user.email:
        raise Conflict(
            f"user {user.username!r} has no e-mail address to send the code to: set one, "
            "or the operator starts the reset at the machine (pouch users reset-password)",
            field_errors=[FieldError("email", "none")],
        )
    for earlier in session.scalars(
        select(PasswordReset).where(
            PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None)
        )
    ):
        earlier.used_at = now
    code = secrets.token_urlsafe(24)
    session.add(
        PasswordReset(
            user_id=user_id,
            code_hash=hash_secret(code),
            started_by_user_id=by,
            created_at=now,
            expires_at=now + RESET_LIFETIME,
        )
    )
    session.flush()
    record.change(
        session,
        EventKind.PASSWORD_RESET_STARTED,
        at=now,
        by=by,
        details={"user": user_id, "username": user.username},
        offices=record.offices_of(session, user_id),
    )
    if user.email:
        link = f"{base_url.rstrip('/')}/password?code={code}"
        record.tell_with_secret(
            session,
            email=user.email,
            subject="[Pouch] Set your password",
            payload={
                "event": "password.code",
                "user": user.username,
                "code": code,
                "link": link,
                "expires": (now + RESET_LIFETIME).isoformat(),
                "note": "Only you receive this code. Nobody at Pouch will ask you for it.",
            },
            at=now,
        )
    return code


def complete_password_reset(session: Session, *, code: str, password: str, now: datetime) -> User:
    """The user sets their own password with the code: every session and API token of
    theirs ends (whoever held them, the user logs in anew)."""
    reset = session.scalar(
        select(PasswordReset).where(PasswordReset.code_hash == hash_secret(code))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise InvalidInput(
            "this code is unknown, used or expired: ask an administrator for a new one",
            field_errors=[FieldError("code", "unknown, used or expired")],
        )
    validate_new_password(password)
    user = get_user(session, reset.user_id)
    reset.used_at = now
    user.password_hash = hash_password(password)
    sessions = end_sessions(session, user_id=user.id)
    tokens = _revoke_all_tokens(session, user_id=user.id, now=now)
    record.change(
        session,
        EventKind.PASSWORD_SET,
        at=now,
        by=user.id,
        details={
            "user": user.id,
            "via": "reset",
            "sessions_ended": sessions,
            "tokens_revoked": tokens,
        },
        offices=record.offices_of(session, user.id),
        tell_users=[user.id],
    )
    return user


def verify_own_password(session: Session, *, user_id: int, password: str) -> None:
    """Raise ``InvalidInput`` on ``current_password`` unless ``password`` is the user's
    (the caller counts a failure as a failed login: pouch.identity.throttle)."""
    user = get_user(session, user_id)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise InvalidInput(
            "the current password is wrong",
            field_errors=[FieldError("current_password", "wrong")],
        ) from None


def change_own_password(
    session: Session,
    *,
    user_id: int,
    new: str,
    keep_session: int | None,
    now: datetime,
) -> int:
    """The user, who has just given the current password (``verify_own_password``),
    changes it: their other sessions end (this one, ``keep_session``, goes on).
    Returns how many ended."""
    user = get_user(session, user_id)
    validate_new_password(new, field_name="new_password")
    user.password_hash = hash_password(new)
    ended = end_sessions(session, user_id=user_id, keep=keep_session)
    record.change(
        session,
        EventKind.PASSWORD_SET,
        at=now,
        by=user_id,
        details={"user": user_id, "via": "change", "sessions_ended": ended},
        offices=record.offices_of(session, user_id),
        tell_users=[user_id],
    )
    return ended


def _log_membership(
    session: Session, kind: EventKind, membership: Membership, *, by: int | None, now: datetime
) -> None:
    # Membership changes are ledger events (invariant 6): nobody quietly loses an inbox.
    record.change(
        session,
        kind,
        at=now,
        by=by,
        details={
            "office": membership.office_id,
            "user": membership.user_id,
            "role": membership.role.value,
        },
        offices=(membership.office_id,),
        tell_users=[membership.user_id],
    )


def grant_role(
    session: Session,
    *,
    user_id: int,
    office_id: int,
    role: Role,
    now: datetime,
    by: int | None = None,
) -> Membership:
    get_user(session, user_id)
    directory_service.check_office_ref(session, office_id)
    existing = session.scalar(
        select(Membership).where(
            Membership.user_id == user_id,
            Membership.office_id == office_id,
            Membership.role == role,
        )
    )
    if existing is not None:
        return existing
    membership = Membership(user_id=user_id, office_id=office_id, role=role, created_at=now)
    session.add(membership)
    session.flush()
    _log_membership(session, EventKind.MEMBERSHIP_GRANTED, membership, by=by, now=now)
    return membership


def _is_last_administrator(session: Session, membership: Membership) -> bool:
    if membership.role != Role.ADMINISTRATOR:
        return False
    others = session.scalar(
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.office_id == membership.office_id,
            Membership.role == Role.ADMINISTRATOR,
            Membership.id != membership.id,
            User.is_active.is_(True),
        )
    )
    return not others


#: Who reads the principal's inbox: the last of them is not cut off by one person.
PRINCIPAL_READERS = (Role.PRINCIPAL, Role.PRINCIPAL_STAFF)


def _is_last_principal_reader(session: Session, membership: Membership) -> bool:
    if membership.role not in PRINCIPAL_READERS:
        return False
    office = session.get(Office, membership.office_id)
    if office is None or office.kind != OfficeKind.PRINCIPAL:
        return False
    others = session.scalar(
        select(func.count(func.distinct(Membership.user_id)))
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.office_id == membership.office_id,
            Membership.role.in_(PRINCIPAL_READERS),
            Membership.user_id != membership.user_id,
            User.is_active.is_(True),
        )
    )
    return not others


def needs_second_officer(session: Session, membership: Membership) -> bool:
    """Removing this membership would leave its office without an administrator, or the
    principal's office without a reader: a second officer must approve (invariant 6)."""
    return _is_last_administrator(session, membership) or _is_last_principal_reader(
        session, membership
    )


def is_last_principal_reader(session: Session, user_id: int) -> bool:
    """Deactivating this user would leave the principal's office with nobody to read it."""
    return any(
        _is_last_principal_reader(session, membership)
        for membership in session.scalars(select(Membership).where(Membership.user_id == user_id))
    )


def revoke_role(
    session: Session, *, user_id: int, membership_id: int, by: int | None = None, now: datetime
) -> MembershipRemoval | None:
    """Remove a membership; for an office's last administrator, or the principal's
    office's last reader, only ask for it.

    Returns None when done, or the pending removal a second officer must approve.
    """
    membership = session.get(Membership, membership_id)
    if membership is None or membership.user_id != user_id:
        raise NotFound(f"user {user_id} has no membership {membership_id}")
    if by is not None and needs_second_officer(session, membership):
        pending = session.scalar(
            select(MembershipRemoval).where(
                MembershipRemoval.membership_id == membership.id,
                MembershipRemoval.status == RemovalStatus.PENDING,
            )
        )
        if pending is not None:
            return pending
        removal = MembershipRemoval(
            membership_id=membership.id,
            user_id=membership.user_id,
            office_id=membership.office_id,
            role=membership.role,
            status=RemovalStatus.PENDING,
            requested_by_user_id=by,
            requested_at=now,
        )
        session.add(removal)
        session.flush()
        _log_membership(session, EventKind.MEMBERSHIP_REMOVAL_REQUESTED, membership, by=by, now=now)
        return removal
    _log_membership(session, EventKind.MEMBERSHIP_REVOKED, membership, by=by, now=now)
    session.delete(membership)
    session.flush()
    return None


def approve_removal(
    session: Session, *, removal_id: int, by: int, now: datetime
) -> MembershipRemoval:
    """The second officer's approval removes the last administrator."""
    removal = session.get(MembershipRemoval, removal_id)
    if removal is None:
        raise NotFound(f"no membership removal {removal_id}")
    if removal.status != RemovalStatus.PENDING:
        raise Conflict(f"removal {removal_id} is {removal.status.value}")
    if removal.requested_by_user_id == by:
        raise PermissionDenied("a second officer, not the requester, must approve this removal")
    membership = session.get(Membership, removal.membership_id) if removal.membership_id else None
    removal.status = RemovalStatus.APPROVED
    removal.approved_by_user_id = by
    removal.approved_at = now
    if membership is not None:
        _log_membership(session, EventKind.MEMBERSHIP_REVOKED, membership, by=by, now=now)
        session.delete(membership)
        session.flush()
    return removal


def pending_removals(session: Session) -> list[MembershipRemoval]:
    """Removals of a last administrator waiting for a second officer, oldest first."""
    return list(
        session.scalars(
            select(MembershipRemoval)
            .where(MembershipRemoval.status == RemovalStatus.PENDING)
            .order_by(MembershipRemoval.id)
        )
    )


def authenticate_password(session: Session, *, username: str, password: str) -> User:
    """The active user with these credentials, or ``InvalidCredentials``."""
    user = session.scalar(select(User).where(User.username == username))
    candidate = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(candidate, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials("unknown user or wrong password") from None
    if user is None or not user.is_active:
        raise InvalidCredentials("unknown user or wrong password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _operations_offices(session: Session) -> frozenset[int]:
    return frozenset(session.scalars(select(Office.id).where(Office.kind == OfficeKind.OPERATIONS)))


def actor_for_user(
    session: Session, user: User, *, csrf_token: str | None = None, session_id: int | None = None
) -> Actor:
    roles = frozenset(
        (m.office_id, m.role)
        for m in session.scalars(select(Membership).where(Membership.user_id == user.id))
    )
    return Actor(
        user_id=user.id,
        username=user.username,
        roles=roles,
        operations_offices=_operations_offices(session),
        via="session",
        csrf_token=csrf_token,
        session_id=session_id,
    )


# --- web sessions ------------------------------------------------------------


def start_web_session(
    session: Session, *, user: User, now: datetime, lifetime: timedelta
) -> tuple[str, WebSession]:
    """A new login; returns the cookie value (shown once) and the stored row."""
    token = secrets.token_urlsafe(32)
    web_session = WebSession(
        token_hash=hash_secret(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(web_session)
    session.flush()
    return token, web_session


def resolve_web_session(session: Session, *, token: str, now: datetime) -> Actor | None:
    web_session = session.scalar(
        select(WebSession).where(WebSession.token_hash == hash_secret(token))
    )
    if web_session is None or web_session.expires_at <= now or not web_session.user.is_active:
        return None
    return actor_for_user(
        session, web_session.user, csrf_token=web_session.csrf_token, session_id=web_session.id
    )


def end_web_session(session: Session, *, token: str) -> None:
    web_session = session.scalar(
        select(WebSession).where(WebSession.token_hash == hash_secret(token))
    )
    if web_session is not None:
        session.delete(web_session)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


# --- API tokens --------------------------------------------------------------


def issue_token(
    session: Session,
    *,
    user_id: int,
    office_id: int,
    role: Role,
    name: str,
    now: datetime,
    lifetime: timedelta,
) -> tuple[str, ApiToken]:
    """A token acting as ``role`` in ``office_id``; the user must hold that role there.

    Returns the secret (shown once, never stored) and the stored row.
    """
    user = get_user(session, user_id)
    if not any(m.office_id == office_id and m.role == role for m in user.memberships):
        raise InvalidInput(
            f"user {user.username!r} does not hold the role {role.value} in office {office_id}",
            field_errors=[FieldError("role", "not held by this user in this office")],
        )
    if lifetime <= timedelta(0):
        raise InvalidInput(
            "a token's lifetime must be positive",
            field_errors=[FieldError("expires_in_days", "must be positive")],
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        token_hash=hash_secret(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        name=name,
        user_id=user_id,
        office_id=office_id,
        role=role,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(token)
    session.flush()
    record.change(
        session,
        EventKind.TOKEN_ISSUED,
        at=now,
        by=user_id,
        details={
            "user": user_id,
            "token": token.id,
            "prefix": token.prefix,
            "office": office_id,
            "role": role.value,
            "expires": token.expires_at.isoformat(),
        },
        offices=[office_id],
        tell_users=[user_id],
    )
    return secret, token


def issue_own_token(
    session: Session, *, actor: Actor, data: TokenIn, default_lifetime: timedelta, now: datetime
) -> tuple[str, ApiToken]:
    """A token for the caller: for one role in one office the caller holds (a token
    passes on nothing more, ``identity_access.may_issue_token``), living
    ``data.expires_in_days`` or else ``default_lifetime``. The API and the
    administration page issue tokens so."""
    if not identity_access.may_issue_token(actor, data.office_id, data.role):
        raise PermissionDenied(
            f"you do not hold the role {data.role.value} in office {data.office_id}"
        )
    lifetime = (
        timedelta(days=data.expires_in_days)
        if data.expires_in_days is not None
        else default_lifetime
    )
    return issue_token(
        session,
        user_id=actor.user_id,
        office_id=data.office_id,
        role=data.role,
        name=data.name,
        now=now,
        lifetime=lifetime,
    )


@dataclass(frozen=True)
class TokenState:
    """What decides whether a stored API token is valid, as read now."""

    revoked_at: datetime | None
    expires_at: datetime
    user_active: bool
    holds_role: bool


def token_refusal(state: TokenState | None, *, now: datetime) -> str | None:
    """Why an API token is not valid at ``now`` (None when it is): unknown,
    revoked, expired, its user deactivated, or its role in its office no
    longer held. The one rule for tokens, at the request and at the commit.

    >>> from datetime import UTC
    >>> now = datetime(2026, 11, 5, tzinfo=UTC)
    >>> valid = TokenState(None, now + timedelta(days=1), user_active=True, holds_role=True)
    >>> token_refusal(valid, now=now) is None
    True
    >>> token_refusal(TokenState(None, now, True, True), now=now)
    'this API token has expired'
    >>> token_refusal(None, now=now)
    'unknown API token'
    """
    if state is None:
        return "unknown API token"
    if state.revoked_at is not None:
        return "this API token was revoked"
    if state.expires_at <= now:
        return "this API token has expired"
    if not state.user_active:
        return "the user of this API token is deactivated"
    if not state.holds_role:
        return "the user no longer holds this token's role in its office"
    return None


_TOKENS = cast(Table, ApiToken.__table__)
_USERS = cast(Table, User.__table__)
_MEMBERSHIPS = cast(Table, Membership.__table__)
# Built once: intake reads it for every group commit of submissions.
_TOKEN_STATE = (
    select(
        _TOKENS.c.revoked_at,
        _TOKENS.c.expires_at,
        _USERS.c.is_active,
        exists()
        .where(
            and_(
                _MEMBERSHIPS.c.user_id == _TOKENS.c.user_id,
                _MEMBERSHIPS.c.office_id == _TOKENS.c.office_id,
                _MEMBERSHIPS.c.role == _TOKENS.c.role,
            )
        )
        .label("holds_role"),
    )
    .join(_USERS, _USERS.c.id == _TOKENS.c.user_id)
    .where(_TOKENS.c.id == bindparam("token"))
)


def token_state(session: Session, token_id: int) -> TokenState | None:
    """The token's state, in one query on the transaction's connection (a Core
    statement: intake runs it inside the group commit's write lock); None for a
    token that does not exist."""
    row = session.connection().execute(_TOKEN_STATE, {"token": token_id}).one_or_none()
    if row is None:
        return None
    return TokenState(row.revoked_at, row.expires_at, bool(row.is_active), bool(row.holds_role))


def resolve_token(session: Session, *, secret: str, now: datetime, touch: bool = True) -> Actor:
    """The actor a token stands for (``token_refusal`` says which are valid).
    ``touch=False`` leaves ``last_used_at`` alone, for callers that must not
    write in this transaction."""
    if not secret.startswith(TOKEN_PREFIX):
        raise InvalidCredentials("the bearer token is not a Pouch API token")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    refusal = token_refusal(None if token is None else token_state(session, token.id), now=now)
    if refusal is not None:
        raise InvalidCredentials(refusal)
    assert token is not None
    if touch:
        token.last_used_at = now
    return Actor(
        user_id=token.user.id,
        username=token.user.username,
        roles=frozenset({(token.office_id, token.role)}),
        operations_offices=_operations_offices(session),
        via="token",
        token_id=token.id,
    )


def list_tokens(session: Session, *, user_id: int | None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.scalars(query))


#: Tokens per page of a list of them (the administration and account pages).
TOKEN_PAGE = 50


def token_page(
    session: Session, *, user_id: int | None, before: int | None, limit: int = TOKEN_PAGE
) -> tuple[list[ApiToken], int | None]:
    """A page of tokens, newest first, made before the token ``before`` (None: the
    newest), and the id to ask the next page with (None on the last). The compose page
    makes a token an hour per writer: the lists grow, the page does not."""
    query = select(ApiToken).order_by(ApiToken.id.desc()).limit(limit + 1)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    if before is not None:
        query = query.where(ApiToken.id < before)
    rows = list(session.scalars(query))
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


def tokens_seen_by(session: Session, *, actor: Actor, everyone: bool) -> list[ApiToken]:
    """The actor's own tokens, or with ``everyone`` (administrators of Pouch) all."""
    if everyone and not identity_access.administers_pouch(actor):
        raise PermissionDenied("only administrators may list everyone's tokens")
    return list_tokens(session, user_id=None if everyone else actor.user_id)


def revoke_token(session: Session, *, token_id: int, actor: Actor, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    # Someone else's token is "not found" to anyone but an administrator.
    if token is None or not identity_access.may_see_token(actor, token.user_id):
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now
        record.change(
            session,
            EventKind.TOKEN_REVOKED,
            at=now,
            by=actor.user_id,
            details={"user": token.user_id, "token": token.id, "prefix": token.prefix},
            offices=[token.office_id],
            tell_users=[token.user_id],
        )
    return token
