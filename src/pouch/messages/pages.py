"""The message path in the browser: the watch floor, the inbox and sender tracking.

Every page works without JavaScript: forms post, the action runs, and the
browser is sent back (303) with a short notice. htmx only refreshes the watch
floor's queue; small static scripts add local times, live countdowns and the
in-page receipt check. Actions call the same services, under the same
permission rules, as the JSON API (``pouch.messages.api``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from pouch.errors import (
    LoginRequired,
    NotFound,
    PermissionDenied,
    invalid_input,
)
from pouch.events import label_of
from pouch.identity import service as identity_service
from pouch.identity.models import User
from pouch.identity.service import Actor
from pouch.language import service as language_service
from pouch.ledger import service as ledger_service
from pouch.ledger.service import Ledger
from pouch.messages import access, holds
from pouch.messages import service as message_service
from pouch.messages.models import (
    Hold,
    HoldStatus,
    Message,
    MessageEvent,
    MessageState,
)
from pouch.messages.rules import Precedence, Timetable
from pouch.messages.schemas import HoldIn, ReplyIn
from pouch.web.deps import (
    SESSION_COOKIE,
    Allow,
    AllowPage,
    AppClock,
    AppSettings,
    AppTimetable,
    Authorize,
    DbSession,
    PageUser,
    get_database,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

WatchOfficer = Annotated[
    Actor,
    Depends(Allow(access.may_act_on_queue, "only the watch officers act on the queue")),
]
AnyUser = Annotated[Actor, Depends(Authorize(where="any"))]
# Auditors watch the floor too, read-only: they are told about overdue and held messages.
QueueReader = Annotated[
    Actor,
    Depends(AllowPage(access.may_read_queue, "the watch floor is for watch officers and auditors")),
]
QUEUE_POLL_SECONDS = 5
TRACK_LIMIT = 200

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "routed": "Routed: the message is in the addressee's inbox.",
    "hold-requested": "Hold requested. It takes effect when a second officer approves it.",
    "hold-approved": "Hold approved. Delivery waits until it is released or expires.",
    "hold-released": "Hold released. The message was delivered.",
    "hold-withdrawn": "Hold request withdrawn.",
    "acknowledged": "Acknowledged. The sender is told.",
    "replied": "Reply accepted. It travels back through the watch floor like any message.",
}


# -- pure helpers ------------------------------------------------------------------


def countdown(deadline: datetime, now: datetime) -> str:
    """Time left before ``deadline``, or how late it is; static/pouch.js says the same.

    >>> from datetime import UTC
    >>> t = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
    >>> countdown(t + timedelta(minutes=9, seconds=30), t)
    '9 min 30 s left'
    >>> countdown(t + timedelta(hours=5, minutes=3), t)
    '5 h 03 min left'
    >>> countdown(t - timedelta(seconds=42), t)
    'overdue by 42 s'
    """
    seconds = int((deadline - now).total_seconds())
    span = abs(seconds)
    hours, rest = divmod(span, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours} h {minutes:02d} min"
    elif minutes:
        text = f"{minutes} min {secs:02d} s"
    else:
        text = f"{secs} s"
    return f"{text} left" if seconds >= 0 else f"overdue by {text}"


def ranges_text(gaps: Iterable[tuple[int, int]]) -> str:
    """Runs of numbers as people write them.

    >>> ranges_text([(12, 12), (38, 39), (50, 52)])
    '12, 38–39 and 50–52'
    """
    parts = [str(a) if a == b else f"{a}–{b}" for a, b in gaps]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def gap_sentence(accounted: int, gaps: list[tuple[int, int]]) -> str:
    """What an office's sequence check says, plainly.

    >>> gap_sentence(40, [])
    'All 40 messages accounted for.'
    >>> gap_sentence(38, [(38, 39)])
    'Messages 38–39 were never shown to this office.'
    >>> gap_sentence(39, [(12, 12)])
    'Message 12 was never shown to this office.'
    >>> gap_sentence(0, [])
    'No message has been addressed to this office yet.'
    """
    if gaps:
        missing = sum(b - a + 1 for a, b in gaps)
        if missing == 1:
            return f"Message {ranges_text(gaps)} was never shown to this office."
        return f"Messages {ranges_text(gaps)} were never shown to this office."
    if accounted == 0:
        return "No message has been addressed to this office yet."
    if accounted == 1:
        return "The one message addressed to this office is accounted for."
    return f"All {accounted} messages accounted for."


def is_overdue(message: Message, now: datetime) -> bool:
    undelivered = message.state in (MessageState.ACCEPTED, MessageState.HELD)
    return message.overdue_at is not None or (undelivered and message.deliver_by <= now)


def _safe_back(target: str, default: str) -> str:
    # Only a local path without a query: never an open redirect.
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and "?" not in target
    ):
        return target
    return default


# -- rendering ---------------------------------------------------------------------


def _page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    notice = request.query_params.get("notice")
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        template,
        {"notice": NOTICES.get(notice or ""), **context},
        status_code=status_code,
    )
    return response


def _back(back: str, default: str, notice: str) -> Response:
    return RedirectResponse(f"{_safe_back(back, default)}?notice={notice}", status_code=303)


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _body_html(message: Message) -> Markup | None:
    # Sanitized at acceptance; sanitized again here so that nothing stored
    # (by an older version, or by hand) can ever reach a browser as markup.
    if message.body_html is None:
        return None
    return Markup(message_service.sanitize_html(message.body_html))  # noqa: S704


def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {int(user_id): str(name) for user_id, name in rows}


def _events_by_message(session: Session, ids: list[int]) -> dict[int, list[MessageEvent]]:
    events: dict[int, list[MessageEvent]] = {i: [] for i in ids}
    if ids:
        for event in session.scalars(
            select(MessageEvent).where(MessageEvent.message_id.in_(ids)).order_by(MessageEvent.id)
        ):
            events[event.message_id].append(event)
    return events


def _common(now: datetime, actor: Actor, names: message_service.OfficeNames) -> dict[str, Any]:
    return {
        "actor": actor,
        "now": now,
        "names": names,
        "operations": names.operations,
        "left": lambda deadline: countdown(deadline, now),
        "is_overdue": lambda message: is_overdue(message, now),
        "active_hold": message_service.active_hold,
        "step_name": label_of,
    }


# -- the watch floor -----------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    queue: list[Message]
    pending: list[tuple[Message, Hold]]
    held: int
    overdue: int


def _floor(session: Session, now: datetime) -> Floor:
    queue = message_service.queue(session)
    pending = [(m, h) for m in queue for h in m.holds if h.status == HoldStatus.REQUESTED]
    return Floor(
        queue=queue,
        pending=pending,
        held=sum(1 for m in queue if m.state == MessageState.HELD),
        overdue=sum(1 for m in queue if is_overdue(m, now)),
    )


def _hold_caps(request: Request) -> dict[Precedence, int]:
    """The longest hold per precedence, in minutes, for the forms' limits."""
    table: Timetable = request.app.state.timetable
    return {p: int(table.hold_cap[p].total_seconds() // 60) for p in Precedence}


def _floor_context(
    request: Request, session: Session, actor: Actor, now: datetime
) -> dict[str, Any]:
    floor = _floor(session, now)
    names = message_service.office_names(session)
    people = _user_names(
        session,
        [h.requested_by_user_id for m in floor.queue for h in m.holds]
        + [h.approved_by_user_id for m in floor.queue for h in m.holds],
    )
    return {
        **_common(now, actor, names),
        "floor": floor,
        "people": people,
        "can_act": access.may_act_on_queue(actor),
        "hold_cap_minutes": _hold_caps(request),
        "poll_seconds": QUEUE_POLL_SECONDS,
    }


@router.get("/watch")
def watch_floor(
    request: Request, session: DbSession, clock: AppClock, actor: QueueReader
) -> Response:
    return _page(request, "watch.html", _floor_context(request, session, actor, clock.now()))


@router.get("/watch/queue")
def watch_queue_fragment(
    request: Request, session: DbSession, clock: AppClock, actor: QueueReader
) -> Response:
    """The queue alone, for htmx's polling (``_queue.html``); without a session htmx
    gets a fragment saying to log in again, never the login page."""
    return _page(request, "_queue.html", _floor_context(request, session, actor, clock.now()))


@router.get("/watch/{public_id}")
def watch_message(
    public_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: QueueReader,
) -> Response:
    message = message_service.get_message(session, public_id)
    events = message_service.events_of(session, message)
    names = message_service.office_names(session)
    people = _user_names(
        session,
        [e.actor_user_id for e in events]
        + [h.requested_by_user_id for h in message.holds]
        + [h.approved_by_user_id for h in message.holds],
    )
    return _page(
        request,
        "watch_message.html",
        {
            **_common(clock.now(), actor, names),
            "m": message,
            "body_html": _body_html(message),
            "language": language_service.translations_for(session, message.id),
            "events": events,
            "people": people,
            "can_act": access.may_act_on_queue(actor),
            "hold_cap_minutes": _hold_caps(request),
            "pending": [h for h in message.holds if h.status == HoldStatus.REQUESTED],
        },
    )


Back = Annotated[str, Form(max_length=300)]


@router.post("/watch/{public_id}/route")
def route(
    public_id: str, session: DbSession, clock: AppClock, actor: WatchOfficer, back: Back = "/watch"
) -> Response:
    message_service.route(
        session, public_id=public_id, actor_user_id=actor.user_id, now=clock.now()
    )
    return _back(back, "/watch", "routed")


@router.post("/watch/{public_id}/holds")
def request_hold(
    public_id: str,
    session: DbSession,
    clock: AppClock,
    timetable: AppTimetable,
    actor: WatchOfficer,
    reason: Annotated[str, Form(max_length=2000)],
    minutes: Annotated[int, Form()],
    back: Back = "/watch",
) -> Response:
    try:
        data = HoldIn(reason=reason, duration_minutes=minutes)
    except ValidationError as error:
        raise invalid_input(error.errors(), rename={"duration_minutes": "minutes"}) from None
    holds.request_hold(
        session,
        public_id=public_id,
        officer_id=actor.user_id,
        reason=data.reason,
        duration=timedelta(minutes=data.duration_minutes),
        now=clock.now(),
        timetable=timetable,
    )
    return _back(back, "/watch", "hold-requested")


HOLD_ACTIONS = {
    "approve": (holds.approve_hold, "hold-approved"),
    "release": (holds.release_hold, "hold-released"),
    "withdraw": (holds.withdraw_hold, "hold-withdrawn"),
}


@router.post("/watch/{public_id}/holds/{hold_id}/{action}")
def hold_action(
    public_id: str,
    hold_id: int,
    action: Literal["approve", "release", "withdraw"],
    session: DbSession,
    clock: AppClock,
    actor: WatchOfficer,
    back: Back = "/watch",
) -> Response:
    """Approve (a second officer, never the requester: the service refuses it),
    release, or withdraw a hold."""
    function, notice = HOLD_ACTIONS[action]
    function(
        session, public_id=public_id, hold_id=hold_id, officer_id=actor.user_id, now=clock.now()
    )
    return _back(back, "/watch", notice)


# -- the inbox -----------------------------------------------------------------------


@router.get("/inbox")
def inbox(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: PageUser,
    office: int | None = None,
) -> Response:
    offices = access.inbox_offices(actor)
    if not offices:
        raise PermissionDenied("only the principal and staff of an office read its inbox")
    if office is None:
        office = offices[0]
    elif office not in offices:
        raise PermissionDenied("only the principal and staff of this office read its inbox")
    names = message_service.office_names(session)
    rows = message_service.inbox(session, office_id=office, user_id=actor.user_id)
    return _page(
        request,
        "inbox.html",
        {
            **_common(clock.now(), actor, names),
            "office": office,
            "offices": offices,
            "rows": rows,
            "unread": sum(1 for m, read in rows if not read and m.state != MessageState.HELD),
            "office_check": message_service.office_check(session, office_id=office),
            "gap_sentence": gap_sentence,
        },
    )


def _web_actor(request: Request, session: Session, now: datetime) -> Actor | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return identity_service.resolve_web_session(session, token=cookie, now=now)


@router.get("/inbox/{public_id}")
def inbox_message(public_id: str, request: Request, clock: AppClock) -> Response:
    """Open a message; the member's first read is recorded (and the sender told).

    A GET that writes, so it opens its one transaction for writing itself
    (``DbSession`` is read-only for GET) and resolves the session cookie in it.
    """
    now = clock.now()
    with get_database(request).transaction() as session:
        actor = _web_actor(request, session, now)
        if actor is None:
            raise LoginRequired("log in to read this message")
        opened = message_service.open_in_inbox(session, public_id=public_id, actor=actor, now=now)
        message = opened.message
        names = message_service.office_names(session)
        # Rendered inside the transaction: the template reads the message's rows.
        return _page(
            request,
            "inbox_message.html",
            {
                **_common(now, actor, names),
                "m": message,
                "body_html": _body_html(message),
                "language": language_service.translations_for(session, message.id),
                "first_read": opened.first_read,
                "replies": opened.replies,
                "precedences": list(Precedence),
            },
        )


@router.post("/inbox/{public_id}/acknowledge")
def acknowledge(public_id: str, session: DbSession, clock: AppClock, actor: AnyUser) -> Response:
    message_service.acknowledge_by(session, public_id=public_id, actor=actor, now=clock.now())
    return _back(f"/inbox/{public_id}", "/inbox", "acknowledged")


@router.post("/inbox/{public_id}/reply")
def reply(
    public_id: str,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    timetable: AppTimetable,
    actor: AnyUser,
    body: Annotated[str, Form(max_length=1_000_000)],
    precedence: Annotated[Precedence, Form()] = Precedence.ROUTINE,
) -> Response:
    """The same reply as ``POST /api/messages/{id}/replies``, from a form."""
    try:
        # Browsers send text areas with CRLF line ends; Pouch stores LF only.
        data = ReplyIn(body=body.replace("\r\n", "\n"), precedence=precedence)
    except ValidationError as error:
        raise invalid_input(error.errors()) from None
    message_service.reply_by(
        session,
        public_id=public_id,
        actor=actor,
        body=data.body,
        body_format="text",
        language=None,
        precedence=data.precedence,
        subject=None,
        now=clock.now(),
        timetable=timetable,
        limits=message_service.Limits(settings.max_attachment_bytes, settings.max_attachments),
    )
    return _back(f"/inbox/{public_id}", "/inbox", "replied")


# -- sender tracking -----------------------------------------------------------------

#: The steps every message's path shows, in order, whatever happened.
PATH_STEPS = ("accepted", "delivered", "read", "acknowledged")


@dataclass(frozen=True)
class MessagePath:
    message: Message
    outgoing: bool
    steps: dict[str, datetime | None]
    held: Hold | None
    overdue_at: datetime | None


def path_of(message: Message, events: list[MessageEvent], *, outgoing: bool) -> MessagePath:
    """The first time of each step, the hold in force and the overdue mark."""
    steps: dict[str, datetime | None] = dict.fromkeys(PATH_STEPS)
    for event in events:
        if event.kind in steps and steps[event.kind] is None:
            steps[event.kind] = event.at
    return MessagePath(
        message=message,
        outgoing=outgoing,
        steps=steps,
        held=message_service.active_hold(message),
        overdue_at=message.overdue_at,
    )


def _sender_offices(actor: Actor) -> set[int]:
    offices = access.tracking_offices(actor)
    if not offices:
        raise PermissionDenied("tracking is for the senders of an office")
    return offices


@router.get("/track")
def track(request: Request, session: DbSession, clock: AppClock, actor: PageUser) -> Response:
    offices = _sender_offices(actor)
    messages = list(
        session.scalars(
            select(Message)
            .where(
                or_(
                    Message.sender_office_id.in_(offices),
                    Message.addressee_office_id.in_(offices),
                )
            )
            .options(selectinload(Message.holds))
            .order_by(Message.accepted_at.desc(), Message.id.desc())
            .limit(TRACK_LIMIT)
        )
    )
    events = _events_by_message(session, [m.id for m in messages])
    names = message_service.office_names(session)
    return _page(
        request,
        "track.html",
        {
            **_common(clock.now(), actor, names),
            "paths": [
                path_of(m, events[m.id], outgoing=m.sender_office_id in offices) for m in messages
            ],
            "offices": sorted(offices),
            "limit": TRACK_LIMIT,
        },
    )


@router.get("/track/{public_id}")
def track_message(
    public_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: PageUser,
) -> Response:
    offices = _sender_offices(actor)
    message = message_service.get_message(session, public_id)
    if not access.may_track(actor, message):
        raise NotFound(f"no message {public_id!r} of your office")
    events = message_service.events_of(session, message)
    names = message_service.office_names(session)
    ledger = _ledger(request)
    latest = ledger_service.latest_checkpoint(session)
    return _page(
        request,
        "track_message.html",
        {
            **_common(clock.now(), actor, names),
            "m": message,
            "body_html": _body_html(message),
            "language": language_service.translations_for(session, message.id),
            "events": events,
            "path": path_of(message, events, outgoing=message.sender_office_id in offices),
            "vkey": ledger.vkey,
            "published": latest.size if latest is not None else 0,
        },
    )
