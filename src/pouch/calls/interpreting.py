"""What an interpreter is shown: the calls of the latest schedule that need interpreting.

Which calls, and by which rule (the page says which applied):

1. ``linked``: their active roster entries (``Interpreter.user_id`` is theirs):
   the calls needing interpretation between a language of the leader and one
   of the principal that one of those entries' pairs joins;
2. ``name``: no entry is linked, but active entries carry their display name:
   the same, with those entries' pairs;
3. ``all``: nothing on the roster is theirs: every call needing interpretation.

Calls they are booked on are marked. Read-only: the call desk books
interpreters. The roster is the language desk's (``pouch.language.roster``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from pouch.calls import problem as core
from pouch.calls import runs as run_service
from pouch.calls.access import Viewer
from pouch.identity import service as identity_service
from pouch.language import roster as roster_service
from pouch.language.models import Interpreter

Rule = Literal["linked", "name", "all"]

#: The schedule is read as the desk reads it; only the calls above are shown.
READ_AS = Viewer(desk=True)


@dataclass(frozen=True)
class InterpretedCall:
    call: run_service.CallView
    leader_languages: tuple[str, ...]
    principal_languages: tuple[str, ...]
    mine: bool


@dataclass(frozen=True)
class Interpreting:
    """An interpreter's view: by which rule, their roster entries, the latest schedule
    (None before the first run) and the calls shown from it."""

    rule: Rule
    entries: list[Interpreter]
    schedule: run_service.ScheduleView | None
    calls: list[InterpretedCall]


def roster_entries(session: Session, *, user_id: int) -> tuple[Rule, list[Interpreter]]:
    """The user's roster entries, and by which rule they were found."""
    linked = roster_service.linked_entries(session, user_id=user_id)
    if linked:
        return "linked", linked
    name = identity_service.get_user(session, user_id).display_name
    named = [entry for entry in roster_service.list_interpreters(session) if entry.name == name]
    if named:
        return "name", named
    return "all", []


def interpreted_calls(
    view: run_service.ScheduleView, entries: list[Interpreter], rule: Rule
) -> list[InterpretedCall]:
    """The calls of the schedule that need interpreting and that the rule shows."""
    ids = {str(entry.id) for entry in entries}
    pairs = [pair for entry in entries for pair in entry.language_pairs]
    shown = []
    for call in view.calls:
        request = view.problem.requests_by_id[call.row.request_id]
        if request.interpretation is core.Interpretation.NONE:
            continue
        mine = bool(ids.intersection(call.interpreter_ids))
        if rule == "all" or mine or core.pairs_join(pairs, request):
            shown.append(
                InterpretedCall(call, request.leader_languages, request.principal_languages, mine)
            )
    return shown


def for_interpreter(session: Session, *, user_id: int) -> Interpreting:
    """What the user is shown on the interpreters' page."""
    rule, entries = roster_entries(session, user_id=user_id)
    schedule = run_service.latest_schedule(session, office_id=None, viewer=READ_AS)
    calls = interpreted_calls(schedule, entries, rule) if schedule is not None else []
    return Interpreting(rule=rule, entries=entries, schedule=schedule, calls=calls)
