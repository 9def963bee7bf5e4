"""What every route may ask for: the transaction, the clock, the actor, a permission.

Permission checks are dependencies: ``Authorize`` when a route states which
roles may call it and where those roles must be held, ``Allow`` when a
domain's access rule (a predicate in its ``access.py``) says who may; either
is the same check for web sessions and API tokens, and each has a variant for
pages (``AuthorizePage``, ``AllowPage``) that sends a visitor without a
session to log in first.

A route's transaction (``DbSession``) lasts as long as the route; for writes
it holds the database's write lock. A route that does long work (the
scheduler's solve) takes ``AppDatabase`` instead, asks for its caller with
``AuthorizeUnheld`` (resolved in a short read of its own), and opens short
transactions around the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.errors import CsrfFailure, LoginRequired, NotAuthenticated, PermissionDenied
from pouch.identity import access as identity_access
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.ledger.service import Ledger
from pouch.messages.acceptance import Limits
from pouch.messages.rules import Timetable
from pouch.schema import RowId
from pouch.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "pouch_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def get_timetable(request: Request) -> Timetable:
    timetable: Timetable = request.app.state.timetable
    return timetable


def get_ledger(request: Request) -> Ledger:
    """The running log of this process: its signer, its tile cache."""
    ledger: Ledger = request.app.state.ledger
    return ledger


def _transaction(request: Request) -> Iterator[Session]:
    # One transaction per request. It ends with the route function, before the
    # response is sent: a client never sees success for something not committed.
    with get_database(request).transaction(write=request.method not in SAFE_METHODS) as session:
        yield session


DbSession = Annotated[Session, Depends(_transaction, scope="function")]


def _reading(request: Request) -> Iterator[Session]:
    with get_database(request).reading() as session:
        yield session


#: For a read whose statements each stand alone (``Database.reading``).
ReadingSession = Annotated[Session, Depends(_reading, scope="function")]
AppClock = Annotated[Clock, Depends(get_clock)]
AppSettings = Annotated[Settings, Depends(get_settings)]
AppTimetable = Annotated[Timetable, Depends(get_timetable)]
AppLimits = Annotated[Limits, Depends(get_limits)]
AppLedger = Annotated[Ledger, Depends(get_ledger)]
AppDatabase = Annotated[Database, Depends(get_database)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    return credentials.strip()


async def optional_actor(
    request: Request, session: DbSession, clock: AppClock
) -> identity_service.Actor | None:
    """The caller, by API token or by session cookie, or None when anonymous.

    A bad token is an error (the caller meant to authenticate); a stale cookie
    is simply anonymous.
    """
    secret = _bearer(request)
    if secret is not None:
        # A read request must not write: on SQLite, upgrading its read transaction
        # to record last_used_at fails at once when a writer has committed meanwhile.
        return identity_service.resolve_token(
            session, secret=secret, now=clock.now(), touch=request.method not in SAFE_METHODS
        )
    actor = cookie_actor(request, session, now=clock.now())
    if actor is not None and request.method not in SAFE_METHODS:
        await _check_csrf(request, actor)
    return actor


def cookie_actor(
    request: Request, session: Session, *, now: datetime
) -> identity_service.Actor | None:
    """The user of the request's session cookie, in ``session``; None without a cookie
    or with a stale one. (A page that writes on GET opens its own transaction and
    asks here.)"""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return identity_service.resolve_web_session(session, token=cookie, now=now)


async def _check_csrf(request: Request, actor: identity_service.Actor) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not identity_service.csrf_matches(actor.csrf_token, given):
        raise CsrfFailure(
            f"a logged-in browser must send the session's anti-forgery token "
            f"(form field {CSRF_FIELD!r} or header {CSRF_HEADER!r})"
        )


OptionalActor = Annotated[identity_service.Actor | None, Depends(optional_actor)]


def _actor_read_alone(request: Request, clock: AppClock) -> identity_service.Actor | None:
    # Its own short read transaction, closed before the route runs (no last_used_at).
    with get_database(request).transaction(write=False) as session:
        secret = _bearer(request)
        if secret is not None:
            return identity_service.resolve_token(
                session, secret=secret, now=clock.now(), touch=False
            )
        return cookie_actor(request, session, now=clock.now())


async def actor_outside_transaction(
    request: Request,
    actor: Annotated[identity_service.Actor | None, Depends(_actor_read_alone)],
) -> identity_service.Actor | None:
    """The caller, as ``optional_actor`` finds it, for a route that does long work and
    opens its own transactions: none stays open while it runs."""
    if actor is not None and request.method not in SAFE_METHODS and _bearer(request) is None:
        await _check_csrf(request, actor)
    return actor


UnheldActor = Annotated[identity_service.Actor | None, Depends(actor_outside_transaction)]


def authenticated(actor: OptionalActor) -> identity_service.Actor:
    if actor is None:
        raise NotAuthenticated("log in, or send 'Authorization: Bearer <API token>'")
    return actor


CurrentActor = Annotated[identity_service.Actor, Depends(authenticated)]


def page_user(actor: OptionalActor) -> identity_service.Actor:
    """The user a page is for; without one, the browser is sent to log in (htmx is told
    to log in again), by the error handler."""
    if actor is None:
        raise LoginRequired("log in to see this page")
    return actor


PageUser = Annotated[identity_service.Actor, Depends(page_user)]


def unheld_user(actor: UnheldActor) -> identity_service.Actor:
    if actor is None:
        raise NotAuthenticated("log in, or send 'Authorization: Bearer <API token>'")
    return actor


def unheld_page_user(actor: UnheldActor) -> identity_service.Actor:
    if actor is None:
        raise LoginRequired("log in to see this page")
    return actor


Where = Literal["operations", "any"]


class Authorize:
    """A route's permission: the roles that may call it, and where they must be held.

    ``where="operations"``: the role must be held in the ministry's operations
    office (staff functions). ``where="any"``: in any office (office-level
    checks are then the service's). With no roles, any authenticated caller.
    """

    def __init__(self, *roles: Role, where: Where = "operations") -> None:
        self.roles = frozenset(roles)
        self.where = where

    def __call__(self, actor: CurrentActor) -> identity_service.Actor:
        if not self.roles or any(self.allows(actor, role) for role in self.roles):
            return actor
        names = ", ".join(sorted(r.value for r in self.roles))
        place = " in the operations office" if self.where == "operations" else ""
        raise PermissionDenied(f"this needs one of the roles {names}{place}")

    def allows(self, actor: identity_service.Actor, role: Role) -> bool:
        if self.where == "operations":
            return actor.holds_in_operations(role)
        return actor.holds(role)


class AuthorizePage(Authorize):
    """``Authorize`` for a page: a visitor without a session is sent to log in first."""

    def __call__(self, actor: PageUser) -> identity_service.Actor:
        return super().__call__(actor)


class AuthorizeUnheld(Authorize):
    """``Authorize`` for a route that opens its own transactions (``AppDatabase``)."""

    def __call__(
        self, actor: Annotated[identity_service.Actor, Depends(unheld_user)]
    ) -> identity_service.Actor:
        return super().__call__(actor)


class AuthorizePageUnheld(Authorize):
    """``AuthorizePage`` for a page action that opens its own transactions."""

    def __call__(
        self, actor: Annotated[identity_service.Actor, Depends(unheld_page_user)]
    ) -> identity_service.Actor:
        return super().__call__(actor)


class Allow:
    """A route's permission as a domain's access rule: ``rule(actor)`` must hold, else
    403 with ``refusal``."""

    def __init__(self, rule: Callable[[identity_service.Actor], bool], refusal: str) -> None:
        self.rule = rule
        self.refusal = refusal

    def __call__(self, actor: CurrentActor) -> identity_service.Actor:
        if not self.rule(actor):
            raise PermissionDenied(self.refusal)
        return actor


class AllowPage(Allow):
    """``Allow`` for a page: a visitor without a session is sent to log in first."""

    def __call__(self, actor: PageUser) -> identity_service.Actor:
        return super().__call__(actor)


def office_administrator(office_id: RowId, actor: CurrentActor) -> identity_service.Actor:
    """An administrator of the office in the path, or of Pouch itself."""
    if identity_access.administers(actor, office_id):
        return actor
    raise PermissionDenied("only an administrator of this office or of Pouch may do this")


OfficeAdmin = Annotated[identity_service.Actor, Depends(office_administrator)]
