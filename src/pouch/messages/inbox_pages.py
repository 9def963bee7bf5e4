"""The inbox in the browser: an office's messages, unread first, with its sequence
check; a message opened, read (a POST: a GET records nothing), acknowledged, answered.

For the principal and staff of the addressee office (``access.answers_for``,
as in the API): a message the reader may not see is 404, one addressed to
another office 403. Forms post, the action runs, and the browser is sent back
(303) with a short notice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from pouch.briefings import progress as call_progress
from pouch.calls import access as calls_access
from pouch.calls import live as calls_live
from pouch.calls import parties as party_service
from pouch.errors import LoginRequired, PermissionDenied, invalid_input
from pouch.language import translations as translations_service
from pouch.messages import access, filters, live, rendering, search
from pouch.messages import service as message_service
from pouch.messages.rules import Precedence
from pouch.messages.schemas import ReplyIn
from pouch.schema import RowId
from pouch.web import render
from pouch.web.deps import (
    AppClock,
    AppLimits,
    AppTimetable,
    CurrentActor,
    DbSession,
    PageUser,
    UnheldActor,
)
from pouch.web.format import gap_sentence
from pouch.web.problems import is_htmx

router = APIRouter(tags=["pages"], include_in_schema=False)

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "acknowledged": "Acknowledged. The sender is told.",
    "replied": "Reply accepted. It travels back through the watch floor like any message.",
    "read": "Your first reading is recorded; the sender is told it was read.",
    "read-before": "You had read it before; that first reading stands.",
}


@router.get("/inbox")
def inbox(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: PageUser,
    office: RowId | None = None,
) -> Response:
    offices = access.inbox_offices(actor)
    if not offices:
        raise PermissionDenied("only the principal and staff of an office read its inbox")
    if office is None:
        office = offices[0]
    elif not access.answers_for(actor, office):
        raise PermissionDenied("only the principal and staff of this office read its inbox")
    asked = filters.read(request, default_sort=search.Sort.UNREAD, keep=("office",))
    page = asked.find(session, search.inbox(office, reader_id=actor.user_id))
    read = search.read_ids(session, reader_id=actor.user_id, messages=page.rows)
    context = {
        **rendering.context(clock.now(), actor, message_service.office_names(session)),
        "office": office,
        "offices": offices,
        "rows": [(m, m.id in read) for m in page.rows],
        "page": page,
        "filters": asked,
        "form": filters.choices(sorts=tuple(search.Sort)),
        "unread": search.unread(session, office_id=office, reader_id=actor.user_id),
        "unread_counted": search.UNREAD_COUNTED,
        "office_check": message_service.office_check(session, office_id=office),
        "gap_sentence": gap_sentence,
    }
    # The principal's office sees the calls ahead and their briefing packets.
    principal = party_service.only_principal_office(session)
    if principal is not None and principal.id == office and calls_access.reads_schedules(actor):
        context["calls"] = call_progress.day_calls(
            session, actor=actor, now=clock.now(), ahead=None
        )
        context["calls_stamp"] = calls_live.stamp(session, office_id=office)
    return render.page(request, "inbox.html", context, notices=NOTICES)


@router.get("/inbox/stream")
async def inbox_stream(
    request: Request, actor: UnheldActor, office: RowId, last_event_id: live.LastEventId = None
) -> EventSourceResponse:
    """Server-Sent Events: each new step of a message to or from the office, resumable
    with ``Last-Event-ID``; the page reads its list again on each (``messages.live``)."""
    if actor is None:
        raise LoginRequired("log in to follow the inbox")
    if not access.answers_for(actor, office):
        raise PermissionDenied("only the principal and staff of this office read its inbox")
    return await live.stream(
        request.app.state.database, last_event_id=last_event_id, offices=frozenset({office})
    )


@router.get("/inbox/{public_id}")
def inbox_message(
    public_id: str, request: Request, session: DbSession, clock: AppClock, actor: PageUser
) -> Response:
    """Show a message. Nothing is recorded by a GET: the page's "Mark as read" form posts
    the read, by itself (htmx, on load) when the browser came from Pouch's own pages or
    from the address bar, and at the click of its button otherwise (a link in an e-mail,
    another site)."""
    opened = message_service.in_inbox(session, public_id=public_id, actor=actor)
    message = opened.message
    context = {
        **rendering.context(clock.now(), actor, message_service.office_names(session)),
        "m": message,
        # Queued, not yet delivered: its addressee sees that it exists, never its text.
        "withheld": access.content_withheld(actor, message),
        "body_html": rendering.body_html(message),
        "language": translations_service.translations_for(session, message.id),
        "read": opened.read,
        "read_by_itself": request.headers.get("sec-fetch-site") in _OWN_NAVIGATION,
        "replies": opened.replies,
        "precedences": list(Precedence),
    }
    # Rendered inside the transaction: the template reads the message's rows.
    return render.page(request, "inbox_message.html", context, notices=NOTICES)


#: ``Sec-Fetch-Site`` of a navigation that is the reader's own: from a page of Pouch, or
#: typed or bookmarked (``none``). A browser too old to send it gets the button.
_OWN_NAVIGATION = frozenset({"same-origin", "none"})


@router.post("/inbox/{public_id}/read")
def mark_read(
    public_id: str, request: Request, session: DbSession, clock: AppClock, actor: CurrentActor
) -> Response:
    """Record the member's reading (the first only; the sender is told)."""
    first = message_service.read_in_inbox(
        session, public_id=public_id, actor=actor, now=clock.now()
    )
    if is_htmx(request):
        return render.page(request, "_read.html", {"first": first})
    return render.back(f"/inbox/{public_id}", "/inbox", "read" if first else "read-before")


@router.post("/inbox/{public_id}/acknowledge")
def acknowledge(
    public_id: str, session: DbSession, clock: AppClock, actor: CurrentActor
) -> Response:
    message_service.acknowledge_by(session, public_id=public_id, actor=actor, now=clock.now())
    return render.back(f"/inbox/{public_id}", "/inbox", "acknowledged")


@router.post("/inbox/{public_id}/reply")
def reply(
    public_id: str,
    session: DbSession,
    clock: AppClock,
    limits: AppLimits,
    timetable: AppTimetable,
    actor: CurrentActor,
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
        limits=limits,
    )
    return render.back(f"/inbox/{public_id}", "/inbox", "replied")
