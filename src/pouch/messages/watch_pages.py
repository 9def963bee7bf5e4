"""The watch floor in the browser: the queue by precedence and deadline, one message,
route and hold.

Watch officers act; auditors follow the floor read-only (``access.may_read_queue``,
``access.may_act_on_queue``, as in the API). Every page works without
JavaScript: forms post, the action runs, and the browser is sent back (303)
with a short notice. htmx refreshes the queue (``_queue.html``) every few
seconds; the live feed (``messages.live``, ``GET /watch/stream``) refreshes it at
once on each new step.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from pouch.briefings import progress as call_progress
from pouch.calls import access as calls_access
from pouch.calls import live as calls_live
from pouch.calls import parties as party_service
from pouch.errors import FieldError, InvalidInput, LoginRequired, PermissionDenied, invalid_input
from pouch.identity import passkeys
from pouch.identity.service import Actor
from pouch.language import translations as translations_service
from pouch.messages import access, attribution, decisions, holds, live, rendering
from pouch.messages import service as message_service
from pouch.messages.deps import QueueReaderPage, WatchOfficer
from pouch.messages.models import HoldStatus
from pouch.messages.schemas import HoldIn
from pouch.schema import RowId
from pouch.settings import Settings
from pouch.web import render
from pouch.web.deps import AppClock, AppSettings, AppTimetable, DbSession, UnheldActor

router = APIRouter(tags=["pages"], include_in_schema=False)

QUEUE_POLL_SECONDS = 5

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "routed": "Routed: the message is in the addressee's inbox.",
    "hold-requested": "Hold requested. It takes effect when a second officer approves it.",
    "hold-approved": "Hold approved. Delivery waits until it is released or expires.",
    "hold-released": "Hold released. The message was delivered.",
    "hold-withdrawn": "Hold request withdrawn.",
}
HOLD_DECISIONS: dict[holds.HoldAction, passkeys.DecisionAction] = {
    "approve": "hold.approve",
    "release": "hold.release",
    "withdraw": "hold.withdraw",
}
HOLD_NOTICES: dict[holds.HoldAction, str] = {
    "approve": "hold-approved",
    "release": "hold-released",
    "withdraw": "hold-withdrawn",
}


def floor_context(
    request: Request,
    session: DbSession,
    clock: AppClock,
    timetable: AppTimetable,
    settings: AppSettings,
    actor: QueueReaderPage,
) -> dict[str, Any]:
    """What the floor and its queue fragment render: a page of the queue (``after``: the
    cursor of the page before), the holds and who asked."""
    now = clock.now()
    after = request.query_params.get("after") or None
    floor = message_service.floor(session, now=now, after=after, limit=settings.watch_page_size)
    holds_shown = [h for m in floor.queue for h in m.holds] + [h for _, h in floor.pending]
    return {
        **rendering.context(now, actor, message_service.office_names(session)),
        "floor": floor,
        "people": render.display_names(
            session,
            [h.requested_by_user_id for h in holds_shown]
            + [h.approved_by_user_id for h in holds_shown],
        ),
        "can_act": access.may_act_on_queue(actor),
        "hold_cap_minutes": timetable.hold_cap_minutes(),
        "poll_seconds": QUEUE_POLL_SECONDS,
    }


FloorContext = Annotated[dict[str, Any], Depends(floor_context)]


@router.get("/watch")
def watch_floor(
    request: Request, context: FloorContext, session: DbSession, clock: AppClock
) -> Response:
    actor = context["actor"]
    # The day's calls, with each call's state and check-ins, for those who follow the
    # call desk: live through the calls' own stream (``calls.live``).
    office = party_service.only_principal_office(session)
    if office is not None and calls_access.reads_schedules(actor):
        context = {
            **context,
            "day_calls": call_progress.day_calls(session, actor=actor, now=clock.now()),
            "calls_stamp": calls_live.stamp(session, office_id=office.id),
        }
    return render.page(request, "watch.html", context, notices=NOTICES)


@router.get("/watch/queue")
def watch_queue_fragment(request: Request, context: FloorContext) -> Response:
    """The queue alone, for htmx's polling (``_queue.html``); without a session htmx
    gets a fragment saying to log in again, never the login page."""
    return render.page(request, "_queue.html", context, notices=NOTICES)


@router.get("/watch/stream")
async def watch_stream(
    request: Request, actor: UnheldActor, last_event_id: live.LastEventId = None
) -> EventSourceResponse:
    """Server-Sent Events: each new step of any message (``messages.live``), resumable
    with ``Last-Event-ID``; the page refreshes its queue and raises alerts from them.
    The caller is checked in a transaction of its own: none stays open while it streams."""
    if actor is None:
        raise LoginRequired("log in to follow the watch floor")
    if not access.may_read_queue(actor):
        raise PermissionDenied("the watch floor is for watch officers and auditors")
    return await live.stream(request.app.state.database, last_event_id=last_event_id)


@router.get("/watch/{public_id}")
def watch_message(
    public_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    timetable: AppTimetable,
    actor: QueueReaderPage,
) -> Response:
    message = message_service.get_message(session, public_id)
    events = message_service.events_of(session, message)
    people = render.display_names(
        session,
        [h.requested_by_user_id for h in message.holds]
        + [h.approved_by_user_id for h in message.holds]
        + [h.ended_by_user_id for h in message.holds],
    )
    office_names = message_service.office_names(session)
    context = {
        **rendering.context(clock.now(), actor, office_names),
        "m": message,
        "body_html": rendering.body_html(message),
        "language": translations_service.translations_for(session, message.id),
        "steps": attribution.for_reader(
            session, message, events, reader=actor, office_names=office_names
        ),
        "people": people,
        "can_act": access.may_act_on_queue(actor),
        "hold_cap_minutes": timetable.hold_cap_minutes(),
        "pending": [h for h in message.holds if h.status == HoldStatus.REQUESTED],
    }
    return render.page(request, "watch_message.html", context, notices=NOTICES)


Back = Annotated[str, Form(max_length=300)]
#: The officer's WebAuthn assertion as JSON, put in the form by static/passkeys.js.
AssertionField = Annotated[str, Form(max_length=20_000)]


def _signed(
    session: DbSession,
    settings: Settings,
    actor: Actor,
    decision: passkeys.Decision,
    assertion: str,
    now: datetime,
) -> str | None:
    """The hash of the officer's checked assertion, as the API's routes do it."""
    parsed: Any = None
    if assertion.strip():
        try:
            parsed = json.loads(assertion)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise InvalidInput(
                "the form's assertion is not JSON",
                field_errors=[FieldError("assertion", "not the browser's credential as JSON")],
            )
    return decisions.confirm(
        session,
        settings=settings,
        decision=decision,
        officer_id=actor.user_id,
        assertion=parsed,
        now=now,
    )


@router.post("/watch/{public_id}/route")
def route(
    public_id: str,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: WatchOfficer,
    back: Back = "/watch",
    assertion: AssertionField = "",
) -> Response:
    now = clock.now()
    decision = passkeys.Decision(action="route", message=public_id)
    message_service.route(
        session,
        public_id=public_id,
        actor_user_id=actor.user_id,
        now=now,
        assertion=_signed(session, settings, actor, decision, assertion, now),
    )
    return render.back(back, "/watch", "routed")


@router.post("/watch/{public_id}/holds")
def request_hold(
    public_id: str,
    session: DbSession,
    clock: AppClock,
    timetable: AppTimetable,
    actor: WatchOfficer,
    settings: AppSettings,
    reason: Annotated[str, Form(max_length=2000)],
    minutes: Annotated[int, Form()],
    back: Back = "/watch",
    assertion: AssertionField = "",
) -> Response:
    try:
        data = HoldIn(reason=reason, duration_minutes=minutes)
    except ValidationError as error:
        raise invalid_input(error.errors(), rename={"duration_minutes": "minutes"}) from None
    now = clock.now()
    decision = passkeys.Decision(
        action="hold.request",
        message=public_id,
        fields={"reason": data.reason, "minutes": data.duration_minutes},
    )
    holds.request_hold(
        session,
        public_id=public_id,
        officer_id=actor.user_id,
        reason=data.reason,
        duration=timedelta(minutes=data.duration_minutes),
        now=now,
        timetable=timetable,
        assertion=_signed(session, settings, actor, decision, assertion, now),
    )
    return render.back(back, "/watch", "hold-requested")


@router.post("/watch/{public_id}/holds/{hold_id}/{action}")
def hold_action(
    public_id: str,
    hold_id: RowId,
    action: holds.HoldAction,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: WatchOfficer,
    back: Back = "/watch",
    assertion: AssertionField = "",
) -> Response:
    """Approve (a second officer, never the requester: the service refuses it),
    release, or withdraw a hold."""
    now = clock.now()
    decision = passkeys.Decision(action=HOLD_DECISIONS[action], message=public_id, hold=hold_id)
    holds.act(
        session,
        action=action,
        public_id=public_id,
        hold_id=hold_id,
        officer_id=actor.user_id,
        now=now,
        assertion=_signed(session, settings, actor, decision, assertion, now),
    )
    return render.back(back, "/watch", HOLD_NOTICES[action])
