"""The inbox in the browser: an office's messages, unread first, with its sequence
check; a message opened (the first read recorded), acknowledged, answered.

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

from pouch.errors import LoginRequired, PermissionDenied, invalid_input
from pouch.language import translations as translations_service
from pouch.messages import access, rendering
from pouch.messages import service as message_service
from pouch.messages.models import MessageState
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
    cookie_actor,
    get_database,
)
from pouch.web.format import gap_sentence

router = APIRouter(tags=["pages"], include_in_schema=False)

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "acknowledged": "Acknowledged. The sender is told.",
    "replied": "Reply accepted. It travels back through the watch floor like any message.",
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
    rows = message_service.inbox(session, office_id=office, user_id=actor.user_id)
    context = {
        **rendering.context(clock.now(), actor, message_service.office_names(session)),
        "office": office,
        "offices": offices,
        "rows": rows,
        "unread": sum(1 for m, read in rows if not read and m.state != MessageState.HELD),
        "office_check": message_service.office_check(session, office_id=office),
        "gap_sentence": gap_sentence,
    }
    return render.page(request, "inbox.html", context, notices=NOTICES)


@router.get("/inbox/{public_id}")
def inbox_message(public_id: str, request: Request, clock: AppClock) -> Response:
    """Open a message; the member's first read is recorded (and the sender told).

    A GET that writes, so it opens its one transaction for writing itself
    (``DbSession`` is read-only for GET) and resolves the session cookie in it.
    """
    now = clock.now()
    with get_database(request).transaction() as session:
        actor = cookie_actor(request, session, now=now)
        if actor is None:
            raise LoginRequired("log in to read this message")
        opened = message_service.open_in_inbox(session, public_id=public_id, actor=actor, now=now)
        message = opened.message
        context = {
            **rendering.context(now, actor, message_service.office_names(session)),
            "m": message,
            "body_html": rendering.body_html(message),
            "language": translations_service.translations_for(session, message.id),
            "first_read": opened.first_read,
            "replies": opened.replies,
            "precedences": list(Precedence),
        }
        # Rendered inside the transaction: the template reads the message's rows.
        return render.page(request, "inbox_message.html", context, notices=NOTICES)


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
