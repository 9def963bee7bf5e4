"""A run's snapshot of the problem it solved, as JSON, and back.

Pure: plain values in and out. A run stores it so that its call sheet and
calendar read the same later (leaders' names, zones and languages as they were).

>>> from datetime import UTC, date, datetime
>>> request = core.CallRequest(
...     id="c-1", leader_name="Hélène Marchand", leader_country="FR",
...     leader_time_zone="Europe/Paris", leader_languages=("fr", "en"),
...     earliest_date=date(2026, 11, 9), latest_date=date(2026, 11, 13), talk_minutes=30,
...     precedence_tier=1, precedence_position=1,
...     arrived_at=datetime(2026, 11, 5, 14, tzinfo=UTC))
>>> request_from_json(request_json(request)) == request
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from pouch.calls import problem as core


def request_json(request: core.CallRequest) -> dict[str, Any]:
    """A request as JSON; ``request_from_json`` reads it back."""
    return {
        "id": request.id,
        "leader_name": request.leader_name,
        "leader_country": request.leader_country,
        "leader_time_zone": request.leader_time_zone,
        "leader_languages": list(request.leader_languages),
        "earliest_date": request.earliest_date.isoformat(),
        "latest_date": request.latest_date.isoformat(),
        "talk_minutes": request.talk_minutes,
        "precedence_tier": request.precedence_tier,
        "precedence_position": request.precedence_position,
        "arrived_at": request.arrived_at.isoformat(),
        "urgency": request.urgency,
        "principal_languages": list(request.principal_languages),
        "interpretation": request.interpretation.value,
        "leader_hours": [
            request.leader_hours.start.isoformat(),
            request.leader_hours.end.isoformat(),
        ],
        "confirmed_start": request.confirmed_start.isoformat() if request.confirmed_start else None,
        "leader_email": request.leader_email,
        "leader_subdivision": request.leader_subdivision,
        "leader_busy": [[w.start.isoformat(), w.end.isoformat()] for w in request.leader_busy],
        "dates_in_leader_zone": request.dates_in_leader_zone,
    }


def request_from_json(data: Mapping[str, Any]) -> core.CallRequest:
    """A request as ``request_json`` wrote it."""
    confirmed = data["confirmed_start"]
    return core.CallRequest(
        id=data["id"],
        leader_name=data["leader_name"],
        leader_country=data["leader_country"],
        leader_time_zone=data["leader_time_zone"],
        leader_languages=tuple(data["leader_languages"]),
        earliest_date=date.fromisoformat(data["earliest_date"]),
        latest_date=date.fromisoformat(data["latest_date"]),
        talk_minutes=data["talk_minutes"],
        precedence_tier=data["precedence_tier"],
        precedence_position=data["precedence_position"],
        arrived_at=datetime.fromisoformat(data["arrived_at"]),
        urgency=data["urgency"],
        principal_languages=tuple(data["principal_languages"]),
        interpretation=core.Interpretation(data["interpretation"]),
        leader_hours=core.LocalHours(*(time.fromisoformat(t) for t in data["leader_hours"])),
        confirmed_start=datetime.fromisoformat(confirmed) if confirmed else None,
        leader_email=data["leader_email"],
        # Runs written before these existed lack them.
        leader_subdivision=data.get("leader_subdivision"),
        leader_busy=tuple(
            core.TimeWindow(datetime.fromisoformat(a), datetime.fromisoformat(b))
            for a, b in data.get("leader_busy", [])
        ),
        dates_in_leader_zone=data.get("dates_in_leader_zone", False),
    )


def problem_json(problem: core.Problem, carried: Sequence[core.CallRequest]) -> dict[str, Any]:
    """What a run's outputs need of its problem: the principal, the requests (with those
    carried over unsolved), the interpreters' names."""
    principal = problem.principal
    return {
        "principal": {
            "time_zone": principal.time_zone,
            "window": [
                principal.daily_window.start.isoformat(),
                principal.daily_window.end.isoformat(),
            ],
            "name": principal.name,
            "email": principal.email,
            "days_off": [principal.days_off_country, principal.days_off_subdivision],
        },
        "rank_policy": problem.rank_policy.value,
        "requests": [request_json(r) for r in (*problem.requests, *carried)],
        "interpreters": [
            {
                "id": i.id,
                "name": i.name,
                "email": i.email,
                "language_pairs": [list(pair) for pair in i.language_pairs],
            }
            for i in problem.interpreters
        ],
    }


def problem_from_json(data: Mapping[str, Any]) -> core.Problem:
    """The problem a run solved, as far as its outputs need it (interpreters without
    their availability)."""
    principal = data["principal"]
    return core.Problem(
        principal=core.Principal(
            time_zone=principal["time_zone"],
            daily_window=core.LocalHours(*(time.fromisoformat(t) for t in principal["window"])),
            name=principal["name"],
            email=principal["email"],
            days_off_country=principal.get("days_off", [None, None])[0],
            days_off_subdivision=principal.get("days_off", [None, None])[1],
        ),
        requests=tuple(request_from_json(r) for r in data["requests"]),
        interpreters=tuple(
            core.Interpreter(
                id=i["id"],
                name=i["name"],
                email=i["email"],
                language_pairs=tuple((a, b) for a, b in i["language_pairs"]),
                availability=(),
            )
            for i in data["interpreters"]
        ),
        rank_policy=core.RankPolicy(data.get("rank_policy", core.RankPolicy.PRECEDENCE)),
    )
