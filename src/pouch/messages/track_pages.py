"""Sender tracking in the browser: each message an office sent or received, its path
step by step, and every step's receipt verified in the page itself.

For the senders of an office (``access.may_use_tracking``, ``access.may_track``):
a message of another office is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from pouch.errors import LoginRequired, PermissionDenied
from pouch.events import EventKind
from pouch.language import translations as translations_service
from pouch.ledger import service as ledger_service
from pouch.messages import access, attribution, filters, live, rendering, search
from pouch.messages import service as message_service
from pouch.messages.deps import TrackerPage
from pouch.messages.models import Hold, Message, MessageEvent
from pouch.web import render
from pouch.web.deps import AppClock, AppLedger, DbSession, UnheldActor

router = APIRouter(tags=["pages"], include_in_schema=False)

#: The steps every message's path shows, in order, whatever happened.
PATH_STEPS = (EventKind.ACCEPTED, EventKind.DELIVERED, EventKind.READ, EventKind.ACKNOWLEDGED)


@dataclass(frozen=True)
class MessagePath:
    message: Message
    outgoing: bool
    steps: dict[EventKind, datetime | None]
    held: Hold | None
    overdue_at: datetime | None


def path_of(message: Message, events: list[MessageEvent], *, outgoing: bool) -> MessagePath:
    """The first time of each step, the hold in force and the overdue mark."""
    steps: dict[EventKind, datetime | None] = dict.fromkeys(PATH_STEPS)
    for event in events:
        if event.kind in steps and steps[EventKind(event.kind)] is None:
            steps[EventKind(event.kind)] = event.at
    return MessagePath(
        message=message,
        outgoing=outgoing,
        steps=steps,
        held=message_service.active_hold(message),
        overdue_at=message.overdue_at,
    )


@router.get("/track")
def track(request: Request, session: DbSession, clock: AppClock, actor: TrackerPage) -> Response:
    offices = access.tracking_offices(actor)
    asked = filters.read(request, default_sort=search.Sort.NEWEST)
    page = asked.find(session, search.offices(offices))
    messages = page.rows
    events = message_service.events_by_message(session, message_ids=[m.id for m in messages])
    context = {
        **rendering.context(clock.now(), actor, message_service.office_names(session)),
        "paths": [
            path_of(m, events[m.id], outgoing=m.sender_office_id in offices) for m in messages
        ],
        "offices": sorted(offices),
        "page": page,
        "filters": asked,
        "form": filters.choices(),
    }
    return render.page(request, "track.html", context)


@router.get("/track/stream")
async def track_stream(
    request: Request, actor: UnheldActor, last_event_id: live.LastEventId = None
) -> EventSourceResponse:
    """Server-Sent Events: each new step of a message the caller's offices sent or were
    sent, resumable with ``Last-Event-ID``; the page reads its list again on each."""
    if actor is None:
        raise LoginRequired("log in to follow your messages")
    offices = access.tracking_offices(actor)
    if not offices:
        raise PermissionDenied("tracking is for the senders of an office")
    return await live.stream(
        request.app.state.database, last_event_id=last_event_id, offices=frozenset(offices)
    )


@router.get("/track/{public_id}")
def track_message(
    public_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    ledger: AppLedger,
    actor: TrackerPage,
) -> Response:
    message = message_service.tracked(session, public_id=public_id, actor=actor)
    events = message_service.events_of(session, message)
    latest = ledger_service.latest_checkpoint(session)
    outgoing = message.sender_office_id in access.tracking_offices(actor)
    office_names = message_service.office_names(session)
    context = {
        **rendering.context(clock.now(), actor, office_names),
        "m": message,
        "body_html": rendering.body_html(message),
        "language": translations_service.translations_for(session, message.id),
        "events": events,
        "steps": attribution.for_reader(
            session, message, events, reader=actor, office_names=office_names
        ),
        "path": path_of(message, events, outgoing=outgoing),
        "vkey": ledger.vkey,
        "policy": ledger.policy.text if ledger.policy else None,
        "published": latest.size if latest is not None else 0,
    }
    return render.page(request, "track_message.html", context)
