"""The CP-SAT model's pieces: blocks, segments, and constraints that must cut off no valid plan.

The energy cuts and the inequalities tying segments to the start are redundant:
they must admit every plan that breaks no hard constraint, and leave stage 1's
optimum where an exhaustive search finds it.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import UTC, date, datetime, time
from itertools import pairwise, permutations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from pouch.calls.availability import Availability, Occupancy, SlotSet, compute_availability
from pouch.calls.explain import finish_schedule
from pouch.calls.problem import (
    Assignment,
    CallRequest,
    LocalHours,
    Principal,
    Problem,
    TimeWindow,
    check_schedule,
    rank_weights,
)
from pouch.calls.scenarios import generate_scenario
from pouch.calls.solver import SolverOptions, _CallModel, solve
from tests.calls.helpers import problems

EXHAUSTIVE = SolverOptions(time_limit_s=20, num_workers=2)


def _random_plan(availability: Availability, rng: random.Random) -> list[Assignment]:
    """A valid plan: requests in random order, each (or not) at a random free start."""
    grid = availability.problem.grid
    occupancy = Occupancy(availability)
    plan = []
    requests = sorted(availability.requests)
    rng.shuffle(requests)
    for request_id in requests:
        entry = availability.requests[request_id]
        if rng.random() < 0.2:
            continue
        starts, per_interpreter = occupancy.free_starts(request_id)
        if not entry.starts or not starts:
            continue
        slot = rng.choice([slot for begin, end in starts for slot in range(begin, end)])
        free = sorted(i for i, slots in per_interpreter.items() if slot in slots)
        interpreters = tuple(sorted(rng.sample(free, entry.request.interpreters_needed)))
        occupancy.book(request_id, slot, interpreters)
        plan.append(
            Assignment(request_id, grid.time(slot), grid.time(slot + entry.length), interpreters)
        )
    return plan


def _admits(availability: Availability, plan: list[Assignment]) -> bool:
    """Whether the model, every constraint and cut included, has ``plan`` as a solution."""
    call_model = _CallModel(availability)
    for variable, value in call_model.values_of(plan):
        call_model.model.add(variable == value)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    status = solver.solve(call_model.model)
    return status in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def _best_by_exhaustion(availability: Availability) -> int:
    """Stage 1's optimum, by trying every subset of requests in every order.

    For a set of calls in a given order, placing each at its earliest start
    after the previous one (on a day that is not full) fits them if anything
    does. Only for problems whose interpreters have no daily cap: then any
    start with enough interpreters free will do, since the principal never
    takes two calls at once.
    """
    problem = availability.problem
    weights = rank_weights(problem.requests)
    days = availability.principal_days
    cap = problem.principal.max_calls_per_day
    possible = sorted(r for r, entry in availability.requests.items() if entry.starts)

    def earliest(starts: SlotSet, bound: int, full: set[int]) -> int | None:
        for begin, end in starts:
            slot = max(begin, bound)
            while slot < end:
                day = days.day_of(slot)
                if day not in full:
                    return slot
                slot = days.bounds[day + 1]
        return None

    def fits(order: tuple[str, ...]) -> bool:
        bound, per_day = 0, Counter[int]()
        for request_id in order:
            entry = availability.requests[request_id]
            full = {day for day, count in per_day.items() if cap is not None and count >= cap}
            slot = earliest(entry.starts, bound, full)
            if slot is None:
                return False
            per_day[days.day_of(slot)] += 1
            bound = slot + entry.length + availability.buffer
        return True

    best = 0
    for mask in range(1 << len(possible)):
        chosen = [r for i, r in enumerate(possible) if mask >> i & 1]
        score = sum(weights[r] for r in chosen)
        if score > best and any(fits(order) for order in permutations(chosen)):
            best = score
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_blocks_hold_each_call_whole_and_lie_a_buffer_apart(problem: Problem) -> None:
    availability = compute_availability(problem)
    call_model = _CallModel(availability)
    for (_, end), (start, _) in pairwise(call_model.blocks):
        assert start - end >= availability.buffer
    for entry in availability.requests.values():
        for begin, end in entry.starts:
            for slot in range(begin, end):
                low, high = call_model.blocks[call_model.block_of(slot)]
                assert low <= slot and slot + entry.length <= high


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_segments_cut_the_starts_by_block_and_day(problem: Problem) -> None:
    availability = compute_availability(problem)
    call_model = _CallModel(availability)
    days = availability.principal_days
    for request_id in call_model.order:
        starts = availability.requests[request_id].starts
        segments = [segment for segment, _, _ in call_model.segments[request_id]]
        assert SlotSet(span for s in segments for span in s.starts) == starts
        assert sum(len(s.starts) for s in segments) == len(starts)
        for segment in segments:
            low, high = call_model.blocks[segment.block]
            assert segment.starts == segment.starts & SlotSet([(low, high)])
            assert segment.starts == segment.starts & SlotSet([days.span(segment.day)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.randoms(use_true_random=False))
def test_the_model_admits_every_valid_plan(problem: Problem, rng: random.Random) -> None:
    availability = compute_availability(problem)
    for _ in range(3):
        plan = _random_plan(availability, rng)
        schedule = finish_schedule(
            availability, plan, method="random", status="FEASIBLE", gap=None, started=0.0
        )
        assert check_schedule(problem, schedule) == []
        assert _admits(availability, plan)


def test_the_model_admits_valid_plans_of_a_crowded_fortnight() -> None:
    problem = generate_scenario(seed=3, requests=60, interpreters=6, days=5)
    availability = compute_availability(problem)
    rng = random.Random(5)
    for _ in range(5):
        plan = _random_plan(availability, rng)
        assert len(plan) > 20
        assert _admits(availability, plan)


def _without_interpreter_caps(problem: Problem) -> Problem:
    return dataclasses.replace(
        problem,
        interpreters=tuple(
            dataclasses.replace(i, max_minutes_per_day=None) for i in problem.interpreters
        ),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_stage_one_reaches_the_optimum_of_an_exhaustive_search(problem: Problem) -> None:
    problem = _without_interpreter_caps(problem)
    schedule = solve(problem, EXHAUSTIVE)
    first = schedule.stages[0].status if schedule.stages else schedule.status  # none: nothing fits
    assert first == "OPTIMAL"
    assert schedule.weighted_score == _best_by_exhaustion(compute_availability(problem))


def test_stage_one_reaches_the_optimum_of_an_exhaustive_search_on_a_crowded_morning() -> None:
    # Four hours less a busy half hour for seven calls: the no-overlap and the
    # energy cuts bind, and only some calls fit.
    day = date(2025, 6, 3)  # a Tuesday without holidays in GB

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=UTC)

    wishes = [
        (45, time(9), time(11)),
        (30, time(9), time(13)),
        (60, time(10), time(13)),
        (30, time(11), time(13)),
        (45, time(9), time(12)),
        (20, time(12), time(13)),
        (30, time(9), time(10, 30)),
    ]
    requests = tuple(
        CallRequest(
            id=f"r{number}",
            leader_name=f"Leader {number}",
            leader_country="GB",
            leader_time_zone="UTC",
            leader_languages=("en",),
            earliest_date=day,
            latest_date=day,
            talk_minutes=minutes,
            precedence_tier=1,
            precedence_position=number,
            arrived_at=at(0),
            leader_hours=LocalHours(opens, closes),
        )
        for number, (minutes, opens, closes) in enumerate(wishes)
    )
    principal = Principal(
        time_zone="UTC",
        daily_window=LocalHours(time(9), time(13)),
        busy=(TimeWindow(at(10, 30), at(11)),),
        buffer_minutes=10,
    )
    problem = Problem(principal=principal, requests=requests)
    availability = compute_availability(problem)
    best = _best_by_exhaustion(availability)
    schedule = solve(problem, EXHAUSTIVE)
    assert schedule.stages[0].status == "OPTIMAL"
    assert schedule.weighted_score == best
    assert 3 <= schedule.scheduled_count < len(requests)
