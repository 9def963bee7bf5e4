"""The interpreter's page: ``/interpreting``, the calls of the latest schedule that need one.

Which calls an interpreter is shown, and the page says which rule applied:

1. ``linked``: their active roster entries (``Interpreter.user_id`` is theirs):
   the calls needing interpretation between a language of the leader and one
   of the principal that one of those entries' pairs joins;
2. ``name``: no entry is linked, but active entries carry their display name:
   the same, with those entries' pairs;
3. ``all``: nothing on the roster is theirs: every call needing interpretation.

Calls they are booked on are marked. Read-only: the call desk books interpreters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pouch.calls import access as call_access
from pouch.calls import runs as run_service
from pouch.calls.problem import Interpretation
from pouch.errors import NotFound
from pouch.identity.models import Role, User
from pouch.identity.service import Actor
from pouch.language import roster as roster_service
from pouch.language.models import Interpreter
from pouch.web.deps import Authorize, DbSession, PageUser

router = APIRouter(tags=["pages"], include_in_schema=False)

INTERPRETERS = Authorize(Role.INTERPRETER)
#: The page reads the schedule as the desk does, and shows only the calls above.
READ_AS = call_access.Viewer(desk=True)

Rule = Literal["linked", "name", "all"]

RULES: dict[Rule, str] = {
    "linked": "Showing the calls in the languages of your roster entry, which is linked to "
    "your account.",
    "name": "No roster entry is linked to your account; showing the calls in the languages "
    "of the roster entry under your name.",
    "all": "Nothing on the interpreter roster is yours (no entry linked to your account or "
    "under your name), so every call that needs interpretation is shown.",
}


@dataclass(frozen=True)
class InterpretedCall:
    call: run_service.CallView
    leader_languages: tuple[str, ...]
    principal_languages: tuple[str, ...]
    mine: bool


def roster_entries(session: Session, actor: Actor) -> tuple[Rule, list[Interpreter]]:
    """The actor's roster entries, and by which rule they were found."""
    roster = roster_service.list_interpreters(session)
    linked = [entry for entry in roster if entry.user_id == actor.user_id]
    if linked:
        return "linked", linked
    user = session.get(User, actor.user_id)
    named = [entry for entry in roster if user is not None and entry.name == user.display_name]
    if named:
        return "name", named
    return "all", []


def interpreted_calls(
    view: run_service.ScheduleView, entries: list[Interpreter], rule: Rule
) -> list[InterpretedCall]:
    ids = {str(entry.id) for entry in entries}
    pairs = [(a, b) for entry in entries for a, b in entry.language_pairs]
    shown = []
    for call in view.calls:
        request = view.problem.requests_by_id[call.row.request_id]
        if request.interpretation is Interpretation.NONE:
            continue
        leader, principal = request.leader_languages, request.principal_languages
        mine = bool(ids.intersection(call.interpreter_ids))
        joins = any(
            (a in leader and b in principal) or (b in leader and a in principal) for a, b in pairs
        )
        if rule == "all" or mine or joins:
            shown.append(InterpretedCall(call, leader, principal, mine))
    return shown


@router.get("/interpreting")
def interpreting_page(request: Request, session: DbSession, actor: PageUser) -> Response:
    INTERPRETERS(actor)
    rule, entries = roster_entries(session, actor)
    try:
        view: run_service.ScheduleView | None = run_service.get_schedule(
            session, office_id=None, viewer=READ_AS
        )
    except NotFound:
        view = None
    calls = interpreted_calls(view, entries, rule) if view is not None else []
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        "interpreting.html",
        {
            "actor": actor,
            "view": view,
            "calls": calls,
            "rule": rule,
            "rule_text": RULES[rule],
            "entries": entries,
        },
    )
    return response
