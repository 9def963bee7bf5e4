"""The CP-SAT scheduler: hard constraints, the lexicographic stages, re-planning, determinism."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import (
    CallRequest,
    Interpretation,
    Interpreter,
    LocalHours,
    Principal,
    Problem,
    ProblemError,
    Reason,
    Schedule,
    TimeWindow,
    check_schedule,
)
from pouch.calls.scenarios import generate_scenario
from pouch.calls.solver import SolveProgress, SolverOptions, solve

DAY = date(2025, 6, 3)  # a Tuesday without holidays in GB or DE
QUICK = SolverOptions(time_limit_s=5, num_workers=2)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def request(id: str, position: int = 1, **changes: Any) -> CallRequest:
    fields: dict[str, Any] = {
        "id": id,
        "leader_name": f"Leader {id}",
        "leader_country": "GB",
        "leader_time_zone": "UTC",
        "leader_languages": ("en",),
        "earliest_date": DAY,
        "latest_date": DAY,
        "talk_minutes": 30,
        "precedence_tier": 1,
        "precedence_position": position,
        "arrived_at": datetime(2025, 6, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return CallRequest(**fields)


GERMAN: dict[str, Any] = {
    "leader_country": "DE",
    "leader_languages": ("de",),
    "principal_languages": ("en",),
}


def german_interpreter(
    id: str, *, hours: tuple[int, int] = (8, 18), cap: int | None = None
) -> Interpreter:
    return Interpreter(
        id=id,
        name=f"Interpreter {id}",
        language_pairs=(("de", "en"),),
        availability=(TimeWindow(at(hours[0]), at(hours[1])),),
        max_minutes_per_day=cap,
    )


def solved(problem: Problem, options: SolverOptions = QUICK) -> Schedule:
    schedule = solve(problem, options)
    assert check_schedule(problem, schedule) == []
    return schedule


def test_long_simultaneous_calls_get_two_interpreters() -> None:
    problem = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(
            request("long", interpretation=Interpretation.SIMULTANEOUS, talk_minutes=60, **GERMAN),
            request(
                "short", 2, interpretation=Interpretation.SIMULTANEOUS, talk_minutes=40, **GERMAN
            ),
        ),
        interpreters=(
            german_interpreter("a", hours=(9, 12)),
            german_interpreter("b", hours=(10, 17)),
            german_interpreter("c", hours=(6, 7)),
        ),
    )
    schedule = solved(problem)
    long_call = schedule.assignment("long")
    short_call = schedule.assignment("short")
    assert long_call is not None and short_call is not None
    assert long_call.interpreter_ids == ("a", "b")
    assert at(10) <= long_call.start and long_call.end <= at(12)
    assert len(short_call.interpreter_ids) == 1


def test_one_interpreter_is_not_enough_for_a_long_simultaneous_call() -> None:
    problem = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(
            request("long", interpretation=Interpretation.SIMULTANEOUS, talk_minutes=45, **GERMAN),
        ),
        interpreters=(german_interpreter("a"), german_interpreter("b", hours=(6, 7))),
    )
    for schedule in (solved(problem), schedule_greedily(problem)):
        reason = schedule.reason("long")
        assert reason is not None and reason.reason is Reason.NO_INTERPRETER
        assert "needs two interpreters for German; only Interpreter a" in reason.detail


def test_interpreters_are_never_double_booked_and_keep_their_daily_caps() -> None:
    consecutive = {"interpretation": Interpretation.CONSECUTIVE, **GERMAN}  # 30 min talk: 60 min
    problem = Problem(
        principal=Principal(time_zone="UTC"),
        requests=tuple(request(f"r{i}", i, **consecutive) for i in range(1, 6)),
        interpreters=(german_interpreter("a", cap=120), german_interpreter("b", cap=60)),
    )
    schedule = solved(problem)
    assert schedule.scheduled_count == 3
    minutes = Counter[str]()
    for call in schedule.assignments:
        for interpreter_id in call.interpreter_ids:
            minutes[interpreter_id] += (call.end - call.start) // timedelta(minutes=1)
    assert minutes == {"a": 120, "b": 60}
    assert [u.request_id for u in schedule.unscheduled] == ["r4", "r5"]
    assert all(u.reason is Reason.CROWDED_OUT for u in schedule.unscheduled)


def test_buffers_separate_calls() -> None:
    window = LocalHours(time(9), time(10, 30))
    requests = tuple(request(f"r{i}", i) for i in range(1, 4))
    tight = Problem(principal=Principal(time_zone="UTC", daily_window=window), requests=requests)
    assert solved(tight).scheduled_count == 3
    buffered = dataclasses.replace(
        tight, principal=Principal(time_zone="UTC", daily_window=window, buffer_minutes=15)
    )
    schedule = solved(buffered)
    assert schedule.scheduled_count == 2
    first, second = schedule.assignments
    assert second.start - first.end >= timedelta(minutes=15)


def test_the_cap_on_calls_per_day_counts_the_principals_days() -> None:
    # The calls may run to midnight UTC, still 3 June in New York: one day, one cap.
    evening = {"leader_time_zone": "America/New_York", "leader_country": "US"}
    problem = Problem(
        principal=Principal(time_zone="America/New_York", max_calls_per_day=3),
        requests=tuple(request(f"r{i}", i, **evening) for i in range(1, 6)),
    )
    schedule = solved(problem)
    assert schedule.scheduled_count == 3
    assert {a.request_id for a in schedule.assignments} == {"r1", "r2", "r3"}
    new_york = ZoneInfo("America/New_York")
    assert {a.start.astimezone(new_york).date() for a in schedule.assignments} == {DAY}
    reason = schedule.reason("r5")
    assert reason is not None and reason.reason is Reason.CROWDED_OUT
    assert "higher-ranked calls" in reason.detail


def test_inversions_are_minimized_after_the_count() -> None:
    # The top request can only be at 10:00; the greedy puts the second one first, at 09:00.
    problem = Problem(
        principal=Principal(time_zone="UTC", daily_window=LocalHours(time(9), time(17))),
        requests=(
            request("top", 1, leader_hours=LocalHours(time(10), time(10, 30))),
            request("second", 2),
            request("third", 3),
        ),
    )
    greedy = schedule_greedily(problem)
    assert greedy.inversions == 2
    schedule = solved(problem)
    assert schedule.scheduled_count == 3
    assert schedule.inversions == 0
    assert [a.request_id for a in schedule.assignments] == ["top", "second", "third"]
    assert [stage.name for stage in schedule.stages] == [
        "scheduled weight",
        "precedence inversions",
    ]
    assert schedule.status == "OPTIMAL" and schedule.gap == 0.0


def test_the_count_comes_before_the_order() -> None:
    # Two lower-ranked calls fit only if the top one goes last: it does.
    problem = Problem(
        principal=Principal(time_zone="UTC", daily_window=LocalHours(time(9), time(10, 30))),
        requests=(
            request("top", 1),
            request("a", 2, leader_hours=LocalHours(time(9), time(9, 30))),
            request("b", 3, leader_hours=LocalHours(time(9, 30), time(10))),
        ),
    )
    schedule = solved(problem)
    assert [a.request_id for a in schedule.assignments] == ["a", "b", "top"]
    assert schedule.inversions == 2


def test_replanning_keeps_confirmed_calls_where_it_can() -> None:
    confirmed = tuple(
        request(f"r{i}", i, confirmed_start=at(13 + i)) for i in range(1, 5)
    )  # 14:00, 15:00, 16:00, 17:00: the solver would not pick these by itself
    newcomer = request("new", 9)
    again = Problem(principal=Principal(time_zone="UTC"), requests=(*confirmed, newcomer))
    schedule = solved(again)
    assert schedule.scheduled_count == 5
    assert (schedule.moves, schedule.inversions) == (0, 0)
    assert [s.name for s in schedule.stages][-1] == "confirmed moves"
    # Now the principal is busy at r4's slot: r4 moves, nobody else does.
    busy = Principal(time_zone="UTC", busy=(TimeWindow(at(17), at(17, 30)),))
    schedule = solved(dataclasses.replace(again, principal=busy))
    assert schedule.scheduled_count == 5
    assert schedule.moves == 1
    assert schedule.stages[-1].objective == 1
    for r in confirmed[:3]:
        assert schedule.assignment(r.id).start == r.confirmed_start  # type: ignore[union-attr]
    assert schedule.assignment("r4").start != at(17)  # type: ignore[union-attr]


def test_greedy_keeps_a_confirmed_call_when_its_slot_is_free() -> None:
    problem = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(request("r1", confirmed_start=at(15)), request("r2", 2)),
    )
    schedule = schedule_greedily(problem)
    assert schedule.assignment("r1").start == at(15)  # type: ignore[union-attr]
    assert schedule.assignment("r2").start == at(8)  # type: ignore[union-attr]
    assert schedule.moves == 0


def small_scenario() -> Problem:
    return generate_scenario(seed=5, requests=25, interpreters=4, days=4)


DETERMINISTIC = SolverOptions(time_limit_s=0.3, num_workers=2, random_seed=3, deterministic=True)


def test_deterministic_runs_repeat_exactly() -> None:
    problem = small_scenario()
    one, two = solve(problem, DETERMINISTIC), solve(problem, DETERMINISTIC)
    assert one.assignments == two.assignments
    assert one.unscheduled == two.unscheduled
    assert check_schedule(problem, one) == []


def test_deterministic_runs_repeat_in_another_process_with_another_hash_seed() -> None:
    # String hashing differs between processes: the model must not depend on set order.
    script = (
        "from pouch.calls.scenarios import generate_scenario\n"
        "from pouch.calls.solver import SolverOptions, solve\n"
        "problem = generate_scenario(seed=5, requests=25, interpreters=4, days=4)\n"
        "options = SolverOptions(time_limit_s=0.3, num_workers=2, random_seed=3,"
        " deterministic=True)\n"
        "print(repr(solve(problem, options).assignments))\n"
    )
    here = repr(solve(small_scenario(), DETERMINISTIC).assignments)
    seed = "7" if os.environ.get("PYTHONHASHSEED") != "7" else "8"
    there = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
    ).stdout
    assert there.strip() == here


def test_no_solution_in_time_falls_back_to_the_greedy_plan() -> None:
    problem = small_scenario()
    schedule = solve(problem, SolverOptions(time_limit_s=0))
    assert schedule.status == "UNKNOWN"
    assert schedule.gap is None
    assert schedule.scheduled_count > 0
    assert check_schedule(problem, schedule) == []
    assert schedule.weighted_score >= schedule_greedily(problem).weighted_score


def test_progress_is_reported_per_stage() -> None:
    seen: list[SolveProgress] = []
    problem = small_scenario()
    schedule = solve(problem, dataclasses.replace(QUICK, time_limit_s=2), progress=seen.append)
    assert seen
    assert {p.stage for p in seen} <= {s.name for s in schedule.stages}
    first = [p for p in seen if p.stage == "scheduled weight"]
    assert first[-1].objective == schedule.stages[0].objective


def test_an_empty_problem_is_an_empty_optimal_schedule() -> None:
    problem = Problem(principal=Principal(time_zone="UTC"), requests=())
    schedule = solve(problem)
    assert (schedule.status, schedule.assignments, schedule.unscheduled) == ("OPTIMAL", (), ())
    unschedulable = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(
            request(
                "r1",
                leader_time_zone="Asia/Tokyo",
                leader_country="JP",
                leader_hours=LocalHours(time(8), time(9)),
            ),
        ),
    )
    schedule = solve(unschedulable)
    assert schedule.status == "OPTIMAL" and schedule.scheduled_count == 0
    assert schedule.unscheduled[0].reason is Reason.NO_COMMON_HOUR


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_limit_s": -1.0}, "time_limit_s"),
        ({"num_workers": 0}, "num_workers"),
        ({"first_stage_share": 0.0}, "first_stage_share"),
        ({"first_stage_share": 1.5}, "first_stage_share"),
    ],
)
def test_bad_solver_options_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ProblemError) as raised:
        SolverOptions(**changes)
    assert raised.value.field == field


@pytest.mark.parametrize(("zone", "both"), [("Asia/Tokyo", True), (None, False)])
def test_interpreter_caps_count_the_interpreters_own_days(zone: str | None, both: bool) -> None:
    # Midnight in Tokyo is 15:00 UTC: two one-hour calls either side of it fall on two
    # of the interpreter's days, though on one of the principal's.
    consecutive = {
        "interpretation": Interpretation.CONSECUTIVE,
        "leader_hours": LocalHours(time(13), time(17, 30)),
        **GERMAN,
    }
    interpreter = dataclasses.replace(
        german_interpreter("a", hours=(13, 18), cap=60), time_zone=zone
    )
    problem = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(request("r1", 1, **consecutive), request("r2", 2, **consecutive)),
        interpreters=(interpreter,),
    )
    schedule = solved(problem)
    assert schedule.scheduled_count == (2 if both else 1)
    if both:
        first, second = schedule.assignments
        assert first.start < at(15) <= second.start


def test_only_the_solver_imports_ortools() -> None:
    package = Path(__file__).parents[2] / "src" / "pouch"
    importers = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if re.search(r"^\s*(from|import) ortools", path.read_text(encoding="utf-8"), re.M)
    )
    assert importers == ["calls/solver.py"]
