"""The greedy baseline: requests in rank order, each at its earliest feasible slot.

It obeys the same hard constraints as the solver (it books through
:class:`~pouch.calls.availability.Occupancy`), keeps a confirmed call at its
confirmed slot when that is still free, and takes the first free interpreters
by id. The benchmark measures the solver against it.

The same loop with ``placement="least-contested"`` puts each call where the
requests still to come want the time least (every request spreads its length
evenly over the common hours it could use); the solver starts from the better
of the two plans.
"""

from __future__ import annotations

from itertools import accumulate
from time import perf_counter
from typing import Literal

from pouch.calls.availability import Availability, Occupancy, SlotSet, compute_availability
from pouch.calls.explain import finish_schedule
from pouch.calls.problem import Assignment, Problem, Schedule, rank_order

Placement = Literal["earliest", "least-contested"]


def _contention(availability: Availability) -> list[float]:
    """Running sums of how much the requests want each slot."""
    demand = [0.0] * (availability.problem.grid.slots + 1)
    for entry in availability.requests.values():
        if not entry.starts:
            continue
        share = entry.length / len(entry.common)
        for start, end in entry.common:
            for slot in range(start, end):
                demand[slot] += share
    return list(accumulate(demand, initial=0.0))


def _least_contested(starts: SlotSet, length: int, wanted: list[float]) -> int:
    best_slot, best_cost = -1, float("inf")
    for first, end in starts:
        for slot in range(first, end):
            cost = wanted[slot + length] - wanted[slot]
            if cost < best_cost:
                best_slot, best_cost = slot, cost
    return best_slot


def greedy_assignments(
    availability: Availability, *, placement: Placement = "earliest"
) -> list[Assignment]:
    """Place every request that still fits, highest rank first."""
    problem = availability.problem
    grid = problem.grid
    occupancy = Occupancy(availability)
    wanted = _contention(availability) if placement == "least-contested" else []
    assignments: list[Assignment] = []
    for request in rank_order(problem.requests, problem.rank_policy):
        entry = availability.requests[request.id]
        if not entry.starts:
            continue
        starts, per_interpreter = occupancy.free_starts(request.id)
        if not starts:
            continue
        confirmed = None
        if request.confirmed_start is not None:
            confirmed = grid.slot_at(request.confirmed_start)
        if confirmed is not None and confirmed in starts:
            start = confirmed
        elif wanted:
            start = _least_contested(starts, entry.length, wanted)
        else:
            start = starts.first() or 0
        interpreter_ids = tuple(
            sorted(i for i, free in per_interpreter.items() if start in free)[
                : request.interpreters_needed
            ]
        )
        occupancy.book(request.id, start, interpreter_ids)
        assignments.append(
            Assignment(
                request_id=request.id,
                start=grid.time(start),
                end=grid.time(start + entry.length),
                interpreter_ids=interpreter_ids,
            )
        )
    return assignments


def schedule_greedily(problem: Problem, *, placement: Placement = "earliest") -> Schedule:
    """The greedy baseline's schedule of ``problem``, every left-out request explained."""
    started = perf_counter()
    availability = compute_availability(problem)
    return finish_schedule(
        availability,
        greedy_assignments(availability, placement=placement),
        method="greedy" if placement == "earliest" else f"greedy ({placement})",
        status="FEASIBLE",
        gap=None,
        started=started,
    )
