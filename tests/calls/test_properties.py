"""Property: whatever the input, a schedule from the solver or the greedy breaks no hard constraint.

The checker (``check_schedule``) works from the raw inputs with zoneinfo and
holidays directly, not through availability.py, so the two cannot share a bug.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import Problem, check_schedule
from pouch.calls.solver import SolverOptions, solve
from tests.calls.helpers import problems


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
