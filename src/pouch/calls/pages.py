"""The call desk in the browser: the schedule as a Gantt chart, and the precedence editor.

``/calls`` draws the latest schedule day by day in the principal's zone (an
SVG with a ``<title>`` on each call giving the leader's local time, laid out by
``pouch.calls.gantt``), with the call sheet and the requests left out beneath;
watch and protocol officers run the scheduler and confirm calls from it.
``/calls/precedence`` lets protocol officers (and administrators) replace the
order of precedence. Everything works without JavaScript; actions call the
same services, under the same rules (``pouch.calls.access``), as the JSON API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pouch.calls import access, gantt
from pouch.calls import precedence as precedence_service
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls import scheduling as scheduling_service
from pouch.errors import InvalidInput
from pouch.identity.service import Actor
from pouch.web import render
from pouch.web.deps import (
    AppClock,
    AppDatabase,
    AuthorizePage,
    AuthorizePageUnheld,
    DbSession,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

Reader = Annotated[Actor, Depends(AuthorizePage(*access.SCHEDULE_READER_ROLES, where="any"))]
Manager = Annotated[Actor, Depends(AuthorizePage(*access.MANAGER_ROLES))]
ManagerUnheld = Annotated[Actor, Depends(AuthorizePageUnheld(*access.MANAGER_ROLES))]
PrecedenceEditor = Annotated[Actor, Depends(AuthorizePage(*access.PRECEDENCE_EDITOR_ROLES))]

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "scheduled": "Scheduled: the call sheet below is the new plan.",
    "confirmed": "Confirmed. Re-planning keeps the call at this time when it can.",
    "precedence": "The new order of precedence is in force; run the scheduler to apply it.",
}


@router.get("/calls")
def calls_page(request: Request, session: DbSession, actor: Reader) -> Response:
    desk = run_service.overview(session, viewer=access.viewer_of(actor))
    busy = [(block.start, block.end, block.note) for block in desk.calendar.busy]
    return render.page(
        request,
        "calls.html",
        {
            "actor": actor,
            "office": desk.office,
            "view": desk.schedule,
            "chart": gantt.chart(desk.schedule, busy) if desk.schedule is not None else None,
            "calendar": desk.calendar,
            "can_act": access.manages_calls(actor),
            "can_edit_precedence": access.edits_precedence(actor),
            "row_height": gantt.ROW_HEIGHT,
            "axis_height": gantt.AXIS_HEIGHT,
            "label_width": gantt.LABEL_WIDTH,
        },
        notices=NOTICES,
    )


@router.post("/calls/schedule")
def calls_schedule(database: AppDatabase, clock: AppClock, actor: ManagerUnheld) -> Response:
    # The solve holds no transaction: read, solve, write (scheduling.schedule_now).
    scheduling_service.schedule_now(
        database,
        office_id=None,
        options=scheduling_service.run_options(method="solver", time_limit_s=5, seed=0),
        by_user_id=actor.user_id,
        clock=clock,
        present=lambda _session, run: run.id,
    )
    return render.back("/calls", "/calls", "scheduled")


@router.post("/calls/{public_id}/confirm")
def calls_confirm(public_id: str, session: DbSession, clock: AppClock, actor: Manager) -> Response:
    request_service.confirm_call(
        session, public_id=public_id, by_user_id=actor.user_id, now=clock.now()
    )
    return render.back("/calls", "/calls", "confirmed")


def _precedence_context(session: DbSession, actor: Actor) -> dict[str, Any]:
    shown = precedence_service.overview(session)
    return {
        "actor": actor,
        "current": shown.current,
        "text": shown.text,
        "versions": shown.versions,
    }


@router.get("/calls/precedence")
def precedence_page(request: Request, session: DbSession, actor: PrecedenceEditor) -> Response:
    return render.page(
        request, "calls_precedence.html", _precedence_context(session, actor), notices=NOTICES
    )


@router.post("/calls/precedence")
def precedence_save(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: PrecedenceEditor,
    ranking: Annotated[str, Form(max_length=200_000)],
    reason: Annotated[str, Form(max_length=1000)],
) -> Response:
    try:
        precedence_service.set_from_text(
            session,
            text=ranking,
            format="yaml",
            reason=reason,
            author_user_id=actor.user_id,
            now=clock.now(),
        )
    except InvalidInput as error:
        # Shown again with the text as typed, and what is wrong with it.
        context = _precedence_context(session, actor)
        context.update(text=ranking, reason=reason, error=error.detail)
        return render.page(request, "calls_precedence.html", context, status_code=400)
    return render.back("/calls", "/calls", "precedence")
