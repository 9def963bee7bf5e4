"""The call desk in the browser: the schedule as a Gantt chart, and the precedence editor.

``/calls`` draws the latest schedule day by day in the principal's zone (an
SVG with a ``<title>`` on each call giving the leader's local time), with the
call sheet and the requests left out beneath; watch and protocol officers run
the scheduler and confirm calls from it. ``/calls/precedence`` lets protocol
officers (and administrators) replace the order of precedence. Everything
works without JavaScript; actions call the same services, under the same
rules, as the JSON API (``pouch.calls.api``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from pouch.calls import calendar as calendar_service
from pouch.calls import parties as party_service
from pouch.calls import precedence as precedence_service
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls import scheduling as scheduling_service
from pouch.calls.api import DESK_ROLES, PRINCIPAL_ROLES, READER_ROLES, viewer_of
from pouch.calls.schemas import PrecedenceIn
from pouch.errors import InvalidInput, NotFound, invalid_input
from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.web.deps import AppClock, Authorize, DbSession, PageUser

router = APIRouter(tags=["pages"], include_in_schema=False)

READERS = Authorize(*READER_ROLES, *PRINCIPAL_ROLES, where="any")
MANAGERS = Authorize(*DESK_ROLES)
EDITORS = Authorize(Role.PROTOCOL_OFFICER, Role.ADMINISTRATOR)

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "scheduled": "Scheduled: the call sheet below is the new plan.",
    "confirmed": "Confirmed. Re-planning keeps the call at this time when it can.",
    "precedence": "The new order of precedence is in force; run the scheduler to apply it.",
}

LABEL_WIDTH = 110
HOUR_WIDTH = 56
#: Room on the right for the last hour's label.
RIGHT_MARGIN = 16
#: About how wide a character of a bar's label is; a label that does not fit is left off.
CHAR_WIDTH = 6.5
ROW_HEIGHT = 30
AXIS_HEIGHT = 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    label: str
    title: str
    confirmed: bool


@dataclass(frozen=True)
class Gantt:
    """Days down, hours across, in the principal's zone."""

    width: float
    height: float
    rows: tuple[tuple[float, str], ...]
    hours: tuple[tuple[float, str], ...]
    calls: tuple[Bar, ...]
    busy: tuple[Bar, ...]


def gantt(
    view: run_service.ScheduleView, busy: list[tuple[datetime, datetime, str]]
) -> Gantt | None:
    """The chart of a schedule: one row per day from the first call to the last.

    Each call's ``title`` (its tooltip) gives the leader's own local time.
    """
    if not view.calls:
        return None
    zone = ZoneInfo(view.principal_time_zone)
    window = view.problem.principal.daily_window
    first_hour = window.start.hour
    last_hour = window.end.hour + (1 if window.end.minute else 0)
    days = sorted({c.row.principal_local.date() for c in view.calls})
    all_days = [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)]
    row_of = {day: AXIS_HEIGHT + i * ROW_HEIGHT for i, day in enumerate(all_days)}

    def x(local: datetime) -> float:
        hours = local.hour + local.minute / 60 - first_hour
        return round(LABEL_WIDTH + max(hours, 0) * HOUR_WIDTH, 1)

    calls = []
    for call in view.calls:
        start = call.row.principal_local
        end = call.row.end_utc.astimezone(zone)
        interpreters = ", ".join(call.row.interpreters) or "no interpreter"
        title = (
            f"{call.row.leader_name}: {start:%H:%M}–{end:%H:%M} here, "
            f"{call.row.leader_local:%a %H:%M} {call.leader_time_zone} for the leader; "
            f"{call.row.mode.value}, {interpreters}"
            + ("; confirmed" if call.confirmed else "; to confirm")
        )
        width = max(x(end) - x(start), 2)
        name = call.row.leader_name.split()[-1]
        calls.append(
            Bar(
                x=x(start),
                y=row_of[start.date()] + 3,
                width=width,
                label=name if len(name) * CHAR_WIDTH + 6 <= width else "",
                title=title,
                confirmed=call.confirmed,
            )
        )
    blocks = []
    for start_utc, end_utc, note in busy:
        for day in all_days:
            opens = datetime.combine(day, time(first_hour), zone)
            closes = datetime.combine(day, time(0), zone) + timedelta(hours=last_hour)
            start, end = (
                max(start_utc.astimezone(zone), opens),
                min(end_utc.astimezone(zone), closes),
            )
            if start < end:
                blocks.append(
                    Bar(
                        x=x(start),
                        y=row_of[day],
                        width=x(end) - x(start),
                        label="",
                        title=f"Busy {start:%H:%M}–{end:%H:%M}: {note or 'no reason given'}",
                        confirmed=False,
                    )
                )
    return Gantt(
        width=LABEL_WIDTH + (last_hour - first_hour) * HOUR_WIDTH + RIGHT_MARGIN,
        height=AXIS_HEIGHT + len(all_days) * ROW_HEIGHT,
        rows=tuple((row_of[day], f"{day:%a %d %b}") for day in all_days),
        hours=tuple(
            (LABEL_WIDTH + (h - first_hour) * HOUR_WIDTH, f"{h:02d}")
            for h in range(first_hour, last_hour + 1)
        ),
        calls=tuple(calls),
        busy=tuple(blocks),
    )


def _page(request: Request, template: str, context: dict[str, Any]) -> Response:
    notice = request.query_params.get("notice")
    response: Response = request.app.state.templates.TemplateResponse(
        request, template, {"notice": NOTICES.get(notice or ""), **context}
    )
    return response


@router.get("/calls")
def calls_page(request: Request, session: DbSession, actor: PageUser) -> Response:
    READERS(actor)
    viewer = viewer_of(actor)
    office = party_service.principal_office(session, None, field="office")
    try:
        view: run_service.ScheduleView | None = run_service.get_schedule(
            session, office_id=office.id, viewer=viewer
        )
    except NotFound:
        view = None
    calendar = calendar_service.get_calendar(session, office_id=office.id, viewer=viewer)
    busy = [(b.start, b.end, b.note) for b in calendar.busy]
    return _page(
        request,
        "calls.html",
        {
            "actor": actor,
            "office": office,
            "view": view,
            "chart": gantt(view, busy) if view is not None else None,
            "calendar": calendar,
            "can_act": any(MANAGERS.allows(actor, role) for role in MANAGERS.roles),
            "can_edit_precedence": any(EDITORS.allows(actor, role) for role in EDITORS.roles),
            "row_height": ROW_HEIGHT,
            "axis_height": AXIS_HEIGHT,
            "label_width": LABEL_WIDTH,
        },
    )


@router.post("/calls/schedule")
def calls_schedule(
    request: Request, session: DbSession, clock: AppClock, actor: PageUser
) -> Response:
    MANAGERS(actor)
    scheduling_service.run_schedule(
        session,
        office_id=None,
        method="solver",
        time_limit_s=5,
        seed=0,
        by_user_id=actor.user_id,
        now=clock.now(),
    )
    return RedirectResponse("/calls?notice=scheduled", status_code=303)


@router.post("/calls/{public_id}/confirm")
def calls_confirm(
    public_id: str, request: Request, session: DbSession, clock: AppClock, actor: PageUser
) -> Response:
    MANAGERS(actor)
    request_service.confirm_call(
        session, public_id=public_id, by_user_id=actor.user_id, now=clock.now()
    )
    return RedirectResponse("/calls?notice=confirmed", status_code=303)


def _precedence_context(session: DbSession, actor: Actor) -> dict[str, Any]:
    try:
        current: precedence_service.PrecedenceView | None = precedence_service.get_precedence(
            session
        )
    except NotFound:
        current = None
    return {
        "actor": actor,
        "current": current,
        "text": precedence_service.ranking_to_yaml(current) if current else "tiers:\n  - []\n",
        "versions": precedence_service.list_precedence_versions(session),
    }


@router.get("/calls/precedence")
def precedence_page(request: Request, session: DbSession, actor: PageUser) -> Response:
    EDITORS(actor)
    return _page(request, "calls_precedence.html", _precedence_context(session, actor))


@router.post("/calls/precedence")
def precedence_save(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: PageUser,
    ranking: Annotated[str, Form(max_length=200_000)],
    reason: Annotated[str, Form(max_length=1000)],
) -> Response:
    EDITORS(actor)
    problem = None
    try:
        ranks = precedence_service.ranking_from_text(session, text=ranking, format="yaml")
        data = PrecedenceIn(reason=reason, ranks=ranks)
        precedence_service.set_precedence(
            session, data=data, author_user_id=actor.user_id, now=clock.now()
        )
    except InvalidInput as error:
        problem = error.detail
    except ValidationError as error:
        problem = invalid_input(error.errors()).detail
    if problem is not None:
        # Shown again with the text as typed, and what is wrong with it.
        context = _precedence_context(session, actor)
        context.update(text=ranking, reason=reason, error=problem)
        response: Response = request.app.state.templates.TemplateResponse(
            request, "calls_precedence.html", context, status_code=400
        )
        return response
    return RedirectResponse("/calls?notice=precedence", status_code=303)
