"""Property: whatever the input, a schedule from the solver or the greedy breaks no hard constraint.

The checker (``check_schedule``) works from the raw inputs with zoneinfo and
holidays directly, not through availability.py, so the two cannot share a bug.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import (
    CallRequest,
    Interpretation,
    Interpreter,
    LocalHours,
    Principal,
    Problem,
    TimeWindow,
    check_schedule,
)
from pouch.calls.solver import SolverOptions, solve

# (country, zone, languages): odd offsets, the date line, Friday weekends, DST both ways.
LEADERS = [
    ("IN", "Asia/Kolkata", ("hi", "en")),
    ("NP", "Asia/Kathmandu", ("ne",)),
    ("KI", "Pacific/Kiritimati", ("en",)),
    ("AS", "Pacific/Pago_Pago", ("en", "sm")),
    ("SA", "Asia/Riyadh", ("ar",)),
    ("IL", "Asia/Jerusalem", ("he",)),
    ("DE", "Europe/Berlin", ("de",)),
    ("AU", "Australia/Perth", ("en",)),
    ("AU", "Australia/Sydney", ("en",)),
    ("CL", "America/Santiago", ("es",)),
    ("US", "America/Los_Angeles", ("en",)),
]
PRINCIPAL_ZONES = ["America/New_York", "Europe/London", "Asia/Kathmandu", "Australia/Lord_Howe"]
LANGUAGES = ["hi", "ne", "ar", "he", "de", "es", "sm"]
# Around the US (9 March) and EU (30 March) changes, and the southern one (6 April).
FIRST_DAYS = [date(2025, 3, 7), date(2025, 3, 28), date(2025, 4, 4), date(2025, 6, 2)]


@st.composite
def hours(draw: st.DrawFn, *, latest_opening: int, shortest: int, longest: int) -> LocalHours:
    """Daily hours opening by ``latest_opening`` o'clock, lasting so many hours."""
    opens = 5 * draw(st.integers(0, latest_opening * 12))
    closes = opens + 5 * draw(st.integers(shortest * 12, longest * 12))
    return LocalHours(time(opens // 60, opens % 60), time(closes // 60, closes % 60))


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    first_day = draw(st.sampled_from(FIRST_DAYS))
    start = datetime.combine(first_day, time(0), tzinfo=UTC) - timedelta(days=1)

    def moment(low_hours: int = 0, high_hours: int = 5 * 24) -> datetime:
        return start + timedelta(minutes=5 * draw(st.integers(low_hours * 12, high_hours * 12)))

    busy = []
    for _ in range(draw(st.integers(0, 4))):
        begins = moment()
        busy.append(TimeWindow(begins, begins + timedelta(minutes=draw(st.integers(5, 240)))))
    principal = Principal(
        time_zone=draw(st.sampled_from(PRINCIPAL_ZONES)),
        daily_window=draw(hours(latest_opening=8, shortest=10, longest=15)),
        busy=tuple(busy),
        max_calls_per_day=draw(st.none() | st.integers(1, 4)),
        buffer_minutes=draw(st.sampled_from([0, 5, 10, 15])),
    )
    requests = []
    for number in range(draw(st.integers(1, 6))):
        country, zone, languages = draw(st.sampled_from(LEADERS))
        mode = (
            Interpretation.NONE
            if "en" in languages
            else draw(st.sampled_from([Interpretation.CONSECUTIVE, Interpretation.SIMULTANEOUS]))
        )
        earliest = first_day + timedelta(days=draw(st.integers(0, 2)))
        requests.append(
            CallRequest(
                id=f"r{number}",
                leader_name=f"Leader {number}",
                leader_country=country,
                leader_time_zone=zone,
                leader_languages=languages,
                earliest_date=earliest,
                latest_date=earliest + timedelta(days=draw(st.integers(0, 2))),
                talk_minutes=draw(st.sampled_from([10, 15, 30, 45, 60, 90])),
                precedence_tier=draw(st.integers(1, 2)),
                precedence_position=draw(st.integers(0, 3)),
                urgency=draw(st.integers(0, 2)),
                arrived_at=start - timedelta(hours=number),
                principal_languages=("en",),
                interpretation=mode,
                leader_hours=draw(hours(latest_opening=11, shortest=3, longest=12)),
            )
        )
    interpreters = []
    for number in range(draw(st.integers(1, 4))):
        windows = []
        for _ in range(draw(st.integers(0, 3))):
            begins = moment()
            windows.append(TimeWindow(begins, begins + timedelta(hours=draw(st.integers(6, 72)))))
        interpreters.append(
            Interpreter(
                id=f"i{number}",
                name=f"Interpreter {number}",
                language_pairs=tuple(
                    (code, "en")
                    for code in draw(st.sets(st.sampled_from(LANGUAGES), min_size=2, max_size=5))
                ),
                availability=tuple(windows),
                max_minutes_per_day=draw(st.none() | st.sampled_from([60, 120, 240])),
                time_zone=draw(st.none() | st.sampled_from(["UTC", "Asia/Tokyo"])),
            )
        )
    return Problem(principal=principal, requests=tuple(requests), interpreters=tuple(interpreters))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_greedy_schedules_break_no_hard_constraint(problem: Problem) -> None:
    schedule = schedule_greedily(problem)
    assert check_schedule(problem, schedule) == []
    assert schedule.scheduled_count + len(schedule.unscheduled) == len(problem.requests)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solver_schedules_break_no_hard_constraint(problem: Problem) -> None:
    schedule = solve(problem, SolverOptions(time_limit_s=2, num_workers=2))
    assert check_schedule(problem, schedule) == []
    assert schedule.weighted_score >= schedule_greedily(problem).weighted_score
