"""The greedy baseline: rank order, earliest feasible slot, first free interpreters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import (
    CallRequest,
    Interpretation,
    Interpreter,
    LocalHours,
    Principal,
    Problem,
    Reason,
    TimeWindow,
    check_schedule,
)

DAY = date(2025, 6, 3)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), tzinfo=UTC)


def request(id: str, position: int, **changes: Any) -> CallRequest:
    fields: dict[str, Any] = {
        "id": id,
        "leader_name": id,
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


def test_rank_order_at_the_earliest_slot_with_buffers() -> None:
    problem = Problem(
        principal=Principal(time_zone="UTC", buffer_minutes=10),
        requests=(request("c", 3), request("a", 1), request("b", 2)),
    )
    schedule = schedule_greedily(problem)
    assert check_schedule(problem, schedule) == []
    assert [(a.request_id, a.start) for a in schedule.assignments] == [
        ("a", at(8)),
        ("b", at(8, 40)),
        ("c", at(9, 20)),
    ]
    assert (schedule.method, schedule.status, schedule.gap) == ("greedy", "FEASIBLE", None)
    assert schedule.weighted_score == 6 + 5 + 4 and schedule.inversions == 0


def test_first_free_interpreter_by_id_and_the_next_when_busy() -> None:
    german = {
        "leader_country": "DE",
        "leader_languages": ("de",),
        "principal_languages": ("en",),
        "interpretation": Interpretation.SIMULTANEOUS,
    }
    whole_day = (TimeWindow(at(0), at(23)),)
    problem = Problem(
        principal=Principal(time_zone="UTC", daily_window=LocalHours(time(8), time(9))),
        requests=(request("a", 1, **german), request("b", 2, **german)),
        interpreters=(
            Interpreter(id="z", name="Z", language_pairs=(("en", "de"),), availability=whole_day),
            Interpreter(
                id="y",
                name="Y",
                language_pairs=(("de", "en"),),
                availability=whole_day,
                max_minutes_per_day=30,
            ),
        ),
    )
    schedule = schedule_greedily(problem)
    assert check_schedule(problem, schedule) == []
    assert [(a.request_id, a.interpreter_ids) for a in schedule.assignments] == [
        ("a", ("y",)),
        ("b", ("z",)),
    ]


def test_earliest_placement_can_crowd_out_what_least_contested_placement_keeps() -> None:
    # The top call could go anywhere; the second only at 08:00. Earliest takes 08:00 first.
    problem = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(
            request("top", 1),
            request("narrow", 2, leader_hours=LocalHours(time(8), time(8, 30))),
        ),
    )
    earliest = schedule_greedily(problem)
    assert earliest.scheduled_count == 1
    reason = earliest.reason("narrow")
    assert reason is not None and reason.reason is Reason.CROWDED_OUT
    contested = schedule_greedily(problem, placement="least-contested")
    assert check_schedule(problem, contested) == []
    assert contested.scheduled_count == 2
    assert contested.method == "greedy (least-contested)"
    assert contested.assignment("narrow").start == at(8)  # type: ignore[union-attr]
