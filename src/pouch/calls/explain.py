"""Why a request was left out: a precise reason, computed from the pure model.

The checks run from the request's own constraints outwards, and the first
that fails is the reason:

1. ``leader-days-off``: every day of the window is a holiday or weekend where the leader is;
2. ``no-common-hour``: the leader's hours and the principal's daily window never meet;
3. ``principal-days-off``: they meet only on the principal's weekends or holidays;
4. ``leader-busy``: they meet only while the leader is busy;
5. ``principal-busy``: they meet only while the principal is busy;
6. ``too-long``: the call is longer than every common stretch;
7. ``no-interpreter``: no interpreter (or no two, where two are needed) is free then;
8. ``crowded-out``: the call fits alone but every such slot is taken — by
   higher-ranked calls, or by lower-ranked ones that together weigh more;
9. ``not-placed``: a slot is still free; the search stopped before it placed the call.

:func:`finish_schedule` wraps a set of assignments into a :class:`Schedule`
with these reasons and the objective values, for the solver and the greedy
baseline alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from functools import cache
from time import perf_counter

from babel import Locale

from pouch.calls.availability import (
    Availability,
    Occupancy,
    RequestAvailability,
    SlotSet,
    day_off,
    leader_slots,
    leader_windows,
    principal_days_off,
    principal_window_slots,
    slots_within,
)
from pouch.calls.problem import (
    GRID_MINUTES,
    SIMULTANEOUS_SOLO_MINUTES,
    Assignment,
    CallRequest,
    Reason,
    Schedule,
    StageResult,
    Unscheduled,
    confirmed_moves,
    precedence_inversions,
    rank_order,
    weighted_score,
)

#: How many names or days a reason lists before it says "and N more".
LISTED = 5


@cache
def _english() -> Locale:
    return Locale("en")


def language_name(code: str) -> str:
    """The English name of a language code, or the code itself when unknown.

    >>> language_name("am"), language_name("zz")
    ('Amharic', 'zz')
    """
    name = _english().languages.get(code)
    return str(name) if name else code


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LISTED])
    if len(items) > LISTED:
        shown += f" and {len(items) - LISTED} more"
    return shown


def _languages(codes: Sequence[str]) -> str:
    return " or ".join(language_name(code) for code in codes)


def _principal_days(availability: Availability, slots: SlotSet) -> set[int]:
    return {day for day, _ in availability.principal_days.split(slots)}


def _blockers(
    availability: Availability, entry: RequestAvailability, calls: Sequence[Assignment]
) -> list[str]:
    """The leaders of ``calls`` that sit where ``entry`` could go, or fill one of its days."""
    problem = availability.problem
    grid = problem.grid
    length, buffer = entry.length, availability.buffer
    cap = problem.principal.max_calls_per_day
    day_of = availability.principal_days.day_of
    per_day = Counter(day_of(grid.slot_at(call.start)) for call in calls)
    days = _principal_days(availability, entry.starts)
    full = {day for day in days if cap is not None and per_day[day] >= cap}
    names: list[str] = []
    for call in calls:
        begin, end = grid.slot_at(call.start), grid.slot_at(call.end)
        near = SlotSet([(begin - length - buffer + 1, end + buffer)]) & entry.starts
        if near or day_of(begin) in full:
            name = problem.requests_by_id[call.request_id].leader_name
            if name not in names:
                names.append(name)
    return names


def _no_interpreter(availability: Availability, entry: RequestAvailability) -> Unscheduled:
    problem = availability.problem
    request = entry.request
    missing = [c for c in request.leader_languages if c not in request.principal_languages]
    languages = _languages(missing or request.leader_languages)
    partners = _languages(request.principal_languages)
    by_language = [i for i in problem.interpreters if i.interprets(request)]
    if not by_language:
        detail = (
            f"no interpreter for {languages}: none of the {len(problem.interpreters)} "
            f"interpreters has a pair with {partners}"
        )
        return Unscheduled(request.id, Reason.NO_INTERPRETER, detail)
    capable = problem.interpreters_for(request)
    if not capable:
        caps = [f"{i.name} {i.max_minutes_per_day} min" for i in by_language]
        detail = (
            f"no interpreter for {languages} can take a {request.duration_label} call "
            f"(daily caps: {_listing(caps)})"
        )
        return Unscheduled(request.id, Reason.NO_INTERPRETER, detail)
    free = [problem.interpreters_by_id[i].name for i in entry.interpreter_starts]
    if request.interpreters_needed == 2 and free:
        need = (
            f"simultaneous interpretation over {SIMULTANEOUS_SOLO_MINUTES} min needs two "
            f"interpreters for {languages}"
        )
        if len(free) == 1:
            detail = f"{need}; only {free[0]} is available in the window"
        else:
            detail = f"{need}; no two of {_listing(free)} are available at the same time"
        return Unscheduled(request.id, Reason.NO_INTERPRETER, detail)
    names = _listing([i.name for i in capable])
    detail = (
        f"no interpreter for {languages} in the window: {names} not available "
        f"while the leader and the principal are"
    )
    return Unscheduled(request.id, Reason.NO_INTERPRETER, detail)


def _alone(availability: Availability, entry: RequestAvailability) -> Unscheduled | None:
    """The reason the call cannot happen even with no other call booked, if there is one."""
    problem = availability.problem
    grid = problem.grid
    request = entry.request
    principal = problem.principal
    leader = f"leader {request.leader_hours} {request.leader_time_zone}"
    versus = f"{leader} vs principal {principal.daily_window} {principal.time_zone}"
    dates = f"{request.earliest_date} to {request.latest_date}{request.dates_note}"
    every_day = principal_window_slots(problem, working_days_only=False)
    hours = leader_slots(problem, request, busy_too=False) & entry.window
    if not hours & every_day:
        # Days off are the reason when the hours would meet on them.
        meets = every_day & entry.window
        days: list[tuple[date, str]] = []
        for window in leader_windows(problem, request, working_days_only=False):
            if slots_within(grid, [(window.start, window.end)]) & meets:
                why = day_off(request.leader_country, window.day, request.leader_subdivision)
                if why is not None:
                    days.append((window.day, why))
        if days:
            listed = _listing([f"{day:%a} {day} {why}" for day, why in days])
            which = "of the window" if not entry.leader else "the hours meet"
            detail = f"leader on holiday or weekend every day {which} ({listed})"
            return Unscheduled(request.id, Reason.LEADER_DAYS_OFF, detail)
        detail = f"no common hour: {versus} on the leader's working days from {dates}"
        return Unscheduled(request.id, Reason.NO_COMMON_HOUR, detail)
    principal_window = principal_window_slots(problem)
    if not hours & principal_window:
        meeting = _principal_days(availability, hours & every_day)
        dates_off = availability.principal_days.dates
        off = [
            f"{dates_off[day]:%a} {dates_off[day]} {why}"
            for day in sorted(meeting)
            for when, why in principal_days_off(problem)
            if when == dates_off[day]
        ]
        detail = f"principal's day off every day the hours meet ({_listing(off)})"
        return Unscheduled(request.id, Reason.PRINCIPAL_DAYS_OFF, detail)
    if not entry.leader & principal_window:
        detail = f"leader busy at every common hour: {versus} from {dates}"
        return Unscheduled(request.id, Reason.LEADER_BUSY, detail)
    if not entry.common:
        detail = f"principal busy at every common hour: {versus} from {dates}"
        return Unscheduled(request.id, Reason.PRINCIPAL_BUSY, detail)
    if not entry.starts_alone:
        detail = (
            f"duration {request.duration_label} does not fit in any common window "
            f"(longest {entry.common.longest() * GRID_MINUTES} min: {versus} from {dates})"
        )
        return Unscheduled(request.id, Reason.TOO_LONG, detail)
    if not entry.starts:
        return _no_interpreter(availability, entry)
    return None


def _crowded(
    availability: Availability,
    entry: RequestAvailability,
    higher: Occupancy,
    everyone: Occupancy,
    above: Sequence[Assignment],
    below: Sequence[Assignment],
) -> Unscheduled:
    request = entry.request
    grid = availability.problem.grid
    if not higher.free_starts(request.id)[0]:
        names = _blockers(availability, entry, above)
        detail = "crowded out by higher-ranked calls: every slot it fits is taken"
        if names:
            detail += f" (by calls with {_listing(names)})"
        return Unscheduled(request.id, Reason.CROWDED_OUT, detail)
    free = everyone.free_starts(request.id)[0].first()
    if free is not None:
        detail = (
            f"not placed although {grid.time(free):%Y-%m-%d %H:%M} UTC is free: "
            "the search stopped at its time limit first"
        )
        return Unscheduled(request.id, Reason.NOT_PLACED, detail)
    names = _blockers(availability, entry, below)
    detail = (
        "crowded out by other calls, including lower-ranked ones that together weigh more"
        f" (with {_listing(names)})"
    )
    return Unscheduled(request.id, Reason.CROWDED_OUT, detail)


def explain_unscheduled(
    availability: Availability, assignments: Sequence[Assignment]
) -> tuple[Unscheduled, ...]:
    """A reason for every request that ``assignments`` leave out, in rank order."""
    problem = availability.problem
    grid = problem.grid
    placed = {a.request_id: a for a in assignments}
    everyone = Occupancy(availability)
    for a in assignments:
        everyone.book(a.request_id, grid.slot_at(a.start), a.interpreter_ids)
    higher = Occupancy(availability)
    ordered: list[CallRequest] = list(rank_order(problem.requests, problem.rank_policy))
    above: list[Assignment] = []
    reasons: list[Unscheduled] = []
    for index, request in enumerate(ordered):
        call = placed.get(request.id)
        if call is not None:
            higher.book(request.id, grid.slot_at(call.start), call.interpreter_ids)
            above.append(call)
            continue
        entry = availability.requests[request.id]
        reason = _alone(availability, entry)
        if reason is None:
            below = [placed[r.id] for r in ordered[index + 1 :] if r.id in placed]
            reason = _crowded(availability, entry, higher, everyone, above, below)
        reasons.append(reason)
    return tuple(reasons)


def finish_schedule(
    availability: Availability,
    assignments: Sequence[Assignment],
    *,
    method: str,
    status: str,
    gap: float | None,
    started: float,
    stages: Sequence[StageResult] = (),
) -> Schedule:
    """The schedule of ``assignments``: sorted, every other request explained, objectives set.

    ``started`` is the :func:`time.perf_counter` reading when the work began.
    """
    problem = availability.problem
    ordered = tuple(sorted(assignments, key=lambda a: (a.start, a.request_id)))
    unscheduled = explain_unscheduled(availability, ordered)
    return Schedule(
        method=method,
        status=status,
        assignments=ordered,
        unscheduled=unscheduled,
        weighted_score=weighted_score(problem, ordered),
        inversions=precedence_inversions(problem, ordered),
        moves=confirmed_moves(problem, ordered),
        gap=gap,
        wall_time_s=perf_counter() - started,
        stages=tuple(stages),
    )
