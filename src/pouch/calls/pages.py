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

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from pouch.briefings import progress as call_progress
from pouch.calls import access, gantt
from pouch.calls import live as calls_live
from pouch.calls import parties as party_service
from pouch.calls import precedence as precedence_service
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls import scheduling as scheduling_service
from pouch.calls.schemas import PrecedenceIn
from pouch.db import Database
from pouch.errors import InvalidInput, LoginRequired, PermissionDenied
from pouch.identity.service import Actor
from pouch.web import render
from pouch.web.deps import (
    AppClock,
    AppDatabase,
    AuthorizePage,
    AuthorizePageUnheld,
    DbSession,
    UnheldActor,
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
            "stamp": calls_live.stamp(session, office_id=desk.office.id),
            # Each call's run (state, check-in) beside its row: the call-day sheet.
            "lines": call_progress.sheet_lines(
                session, [c.request.id for c in desk.schedule.calls] if desk.schedule else []
            ),
        },
        notices=NOTICES,
    )


#: The stamp the browser last saw, sent again when it reconnects (``calls.live``).
LastStamp = Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)]


@router.get("/calls/stream")
async def calls_stream(
    request: Request,
    actor: UnheldActor,
    since: Annotated[str, Query(max_length=200)] = "",
    last_event_id: LastStamp = None,
) -> EventSourceResponse:
    """Server-Sent Events: one each time the call desk changes (``calls.live``); the
    page reads itself again. Resumed from the last stamp the browser saw."""
    if actor is None:
        raise LoginRequired("log in to follow the calls")
    if not access.reads_schedules(actor):
        raise PermissionDenied("the calls are for the call desk and the principal's office")
    database: Database = request.app.state.database

    def office() -> int:
        with database.transaction(write=False) as session:
            return party_service.principal_office(session, None, field="office").id

    office_id = await run_in_threadpool(office)
    return EventSourceResponse(
        calls_live.changes(database, office_id=office_id, since=last_event_id or since),
        ping=15,
        headers={"Cache-Control": "no-store"},
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


@dataclass
class RankRow:
    """One leader in the precedence editor's list, as shown or as submitted."""

    person_id: int
    name: str
    tier: str
    position: str
    removed: bool = False
    problem: str | None = None


def _precedence_context(
    session: DbSession, actor: Actor, rows: list[RankRow] | None = None
) -> dict[str, Any]:
    shown = precedence_service.overview(session)
    if rows is None:
        ranks = shown.current.ranks if shown.current else ()
        rows = [
            RankRow(person.id, person.name, str(rank.tier), str(rank.position))
            for rank, person in ranks
        ]
    listed = {row.person_id for row in rows}
    return {
        "actor": actor,
        "current": shown.current,
        "text": shown.text,
        "versions": shown.versions,
        "rows": rows,
        "others": [p for p in party_service.people(session) if p.id not in listed],
    }


@router.get("/calls/precedence")
def precedence_page(request: Request, session: DbSession, actor: PrecedenceEditor) -> Response:
    return render.page(
        request, "calls_precedence.html", _precedence_context(session, actor), notices=NOTICES
    )


#: The most leaders the list editor takes in one form.
MAX_LIST = 5000


def _whole(text: str, *, low: int, high: int) -> int | None:
    """The whole number ``text`` is, if it is one between ``low`` and ``high``."""
    text = text.strip()
    if not text.isdecimal() or len(text) > 7:
        return None
    number = int(text)
    return number if low <= number <= high else None


@router.post("/calls/precedence/list")
def precedence_list_save(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: PrecedenceEditor,
    reason: Annotated[str, Form(max_length=1000)],
    person: Annotated[list[str] | None, Form(max_length=MAX_LIST)] = None,
    tier: Annotated[list[str] | None, Form(max_length=MAX_LIST)] = None,
    position: Annotated[list[str] | None, Form(max_length=MAX_LIST)] = None,
    remove: Annotated[list[str] | None, Form(max_length=MAX_LIST)] = None,
    add_person: Annotated[str, Form(max_length=20)] = "",
    add_tier: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The order of precedence from the list editor: each leader's tier and order as
    written (and moved up or down), some removed, one added; problems shown beside the
    leader they concern, with the list as it was submitted."""
    person, tier, position = person or [], tier or [], position or []
    if not len(person) == len(tier) == len(position):
        raise InvalidInput("the list arrived incomplete: load the page again and redo the change")
    ids = [_whole(text, low=1, high=2**62) for text in person]
    if None in ids:
        raise InvalidInput("the list names a leader that is not a person id: load the page again")
    everyone = {p.id: p for p in party_service.people(session)}
    known = {i: everyone[i] for i in ids if i is not None and i in everyone}
    removed = set(remove or [])
    rows = [
        RankRow(
            person_id=pid,
            name=known[pid].name if pid in known else f"person {pid}",
            tier=t,
            position=o,
            removed=str(pid) in removed,
        )
        for pid, t, o in zip(ids, tier, position, strict=True)
        if pid is not None
    ]
    entries: list[tuple[int, int, int]] = []
    for row in rows:
        if row.person_id not in known:
            row.problem = "no such person any more"
        elif row.removed:
            continue
        elif (t := _whole(row.tier, low=1, high=1000)) is None:
            row.problem = "the tier is a whole number from 1 to 1000"
        elif (o := _whole(row.position, low=0, high=100_000)) is None:
            row.problem = "the order is a whole number from 0 to 100000"
        else:
            entries.append((row.person_id, t, o))
    added: str | None = None
    if add_person.strip():
        newcomer = _whole(add_person, low=1, high=2**62)
        add_at = _whole(add_tier, low=1, high=1000) if add_tier.strip() else None
        if newcomer is None or newcomer in known or newcomer not in everyone:
            added = "choose a leader who is not in the list"
        elif add_tier.strip() and add_at is None:
            added = "the tier is a whole number from 1 to 1000"
        else:
            last = max((t for _, t, _ in entries), default=1)
            entries.append((newcomer, add_at or last, 100_001))
    reason_problem: str | None = None
    try:
        data = PrecedenceIn(reason=reason, ranks=precedence_service.ranking_from_list(entries))
    except ValidationError:
        reason_problem = "say in one line why the order changes"
    if reason_problem or added or any(row.problem for row in rows):
        context = _precedence_context(session, actor, rows)
        context.update(
            reason=reason,
            list_error="Not saved: correct what is marked below.",
            add_problem=added,
            reason_problem=reason_problem,
        )
        return render.page(request, "calls_precedence.html", context, status_code=400)
    precedence_service.set_precedence(
        session, data=data, author_user_id=actor.user_id, now=clock.now()
    )
    return render.back("/calls", "/calls", "precedence")


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
