"""Scheduling across DST changes, odd offsets, the date line and multi-zone countries.

Each test asserts the actual local times of the scheduled calls: inside the
leader's reasonable hours, on a working day of the leader's country (read
from the ``holidays`` package here, not through the code under test).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest

from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import (
    CallRequest,
    LocalHours,
    Principal,
    Problem,
    Reason,
    Schedule,
    check_schedule,
)
from pouch.calls.solver import SolverOptions, solve

Scheduler = Callable[[Problem], Schedule]


def _solve(problem: Problem) -> Schedule:
    return solve(problem, SolverOptions(time_limit_s=5, num_workers=2))


SCHEDULERS = [pytest.param(_solve, id="cp-sat"), pytest.param(schedule_greedily, id="greedy")]


def request(id: str, country: str, zone: str, day: date, **changes: Any) -> CallRequest:
    fields: dict[str, Any] = {
        "id": id,
        "leader_name": f"Leader {id}",
        "leader_country": country,
        "leader_time_zone": zone,
        "leader_languages": ("en",),
        "earliest_date": day,
        "latest_date": day,
        "talk_minutes": 30,
        "precedence_tier": 1,
        "precedence_position": 1,
        "arrived_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return CallRequest(**fields)


def assert_at_reasonable_local_times(problem: Problem, schedule: Schedule) -> None:
    assert check_schedule(problem, schedule) == []
    for call in schedule.assignments:
        leader = problem.requests_by_id[call.request_id]
        zone = ZoneInfo(leader.leader_time_zone)
        begins, ends = call.start.astimezone(zone), call.end.astimezone(zone)
        assert begins.date() == ends.date()
        assert leader.leader_hours.start <= begins.time() and ends.time() <= leader.leader_hours.end
        calendar = holidays.country_holidays(leader.leader_country, years=begins.year)
        assert begins.date() not in calendar
        assert begins.weekday() not in calendar.weekend


def start_of(schedule: Schedule, request_id: str) -> datetime:
    call = schedule.assignment(request_id)
    assert call is not None, schedule.reason(request_id)
    return call.start


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_window_spanning_the_us_and_eu_dst_changes(scheduler: Scheduler) -> None:
    # Berlin 13:00–14:00 is 12:00 UTC before 30 March and 11:00 UTC after it;
    # New York is on summer time from 9 March, so its clock reads 07:00, 08:00, 07:00.
    one_hour = LocalHours(time(13), time(14))
    berlin = {"leader_hours": one_hour, "talk_minutes": 60, "leader_languages": ("de", "en")}
    problem = Problem(
        principal=Principal(time_zone="America/New_York"),
        requests=(
            request("before", "DE", "Europe/Berlin", date(2025, 3, 7), **berlin),
            request("between", "DE", "Europe/Berlin", date(2025, 3, 10), **berlin),
            request("after", "DE", "Europe/Berlin", date(2025, 3, 31), **berlin),
            request(
                "anywhere",
                "DE",
                "Europe/Berlin",
                date(2025, 3, 7),
                latest_date=date(2025, 4, 1),
                leader_languages=("de", "en"),
                talk_minutes=45,
                precedence_position=2,
            ),
        ),
    )
    schedule = scheduler(problem)
    assert_at_reasonable_local_times(problem, schedule)
    new_york = ZoneInfo("America/New_York")
    assert start_of(schedule, "before") == datetime(2025, 3, 7, 12, tzinfo=UTC)
    assert start_of(schedule, "between") == datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert start_of(schedule, "after") == datetime(2025, 3, 31, 11, tzinfo=UTC)
    local = [
        start_of(schedule, r).astimezone(new_york).hour for r in ("before", "between", "after")
    ]
    assert local == [7, 8, 7]
    assert schedule.scheduled_count == 4


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_half_hour_and_three_quarter_hour_offsets(scheduler: Scheduler) -> None:
    first_slot = {"leader_hours": LocalHours(time(8), time(8, 30))}
    day = date(2025, 3, 4)
    problem = Problem(
        principal=Principal(time_zone="Asia/Singapore"),
        requests=(
            request("delhi", "IN", "Asia/Kolkata", day, **first_slot),
            request(
                "kathmandu",
                "NP",
                "Asia/Kathmandu",
                day + timedelta(days=1),
                leader_languages=("ne", "en"),
                **first_slot,
            ),
        ),
    )
    schedule = scheduler(problem)
    assert_at_reasonable_local_times(problem, schedule)
    assert start_of(schedule, "delhi") == datetime(2025, 3, 4, 2, 30, tzinfo=UTC)
    assert start_of(schedule, "kathmandu") == datetime(2025, 3, 5, 2, 15, tzinfo=UTC)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_principal_at_a_three_quarter_hour_offset(scheduler: Scheduler) -> None:
    # Kathmandu's midnight is 18:15 UTC: the grid starts there and stays on five minutes.
    problem = Problem(
        principal=Principal(
            time_zone="Asia/Kathmandu", daily_window=LocalHours(time(13), time(22))
        ),
        requests=(
            request(
                "london",
                "GB",
                "Europe/London",
                date(2025, 3, 4),
                leader_hours=LocalHours(time(9, 15), time(10)),
            ),
        ),
    )
    schedule = scheduler(problem)
    assert_at_reasonable_local_times(problem, schedule)
    assert problem.grid.start == datetime(2025, 3, 3, 18, 15, tzinfo=UTC)
    begins = start_of(schedule, "london")
    assert begins == datetime(2025, 3, 4, 9, 15, tzinfo=UTC)
    assert begins.astimezone(ZoneInfo("Asia/Kathmandu")).time() == time(15, 0)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_either_side_of_the_date_line(scheduler: Scheduler) -> None:
    # Kiritimati (UTC+14) and Pago Pago (UTC-11) read the same clock a day apart:
    # New York's Friday afternoon is Saturday in Kiritimati but Friday in Pago Pago,
    # and its Sunday afternoon is Monday in Kiritimati but Sunday in Pago Pago.
    friday, sunday = date(2025, 2, 7), date(2025, 2, 9)
    problem = Problem(
        principal=Principal(time_zone="America/New_York"),
        requests=(
            request("kiritimati-friday", "KI", "Pacific/Kiritimati", friday),
            request("pago-pago-friday", "AS", "Pacific/Pago_Pago", friday),
            request("kiritimati-sunday", "KI", "Pacific/Kiritimati", sunday),
            request("pago-pago-sunday", "AS", "Pacific/Pago_Pago", sunday),
        ),
    )
    schedule = scheduler(problem)
    assert_at_reasonable_local_times(problem, schedule)
    kiritimati = start_of(schedule, "kiritimati-sunday").astimezone(ZoneInfo("Pacific/Kiritimati"))
    pago_pago = start_of(schedule, "pago-pago-friday").astimezone(ZoneInfo("Pacific/Pago_Pago"))
    assert kiritimati.date() == date(2025, 2, 10)  # Monday
    assert pago_pago.date() == friday
    for left_out, weekday in (("kiritimati-friday", "Saturday"), ("pago-pago-sunday", "Sunday")):
        reason = schedule.reason(left_out)
        assert reason is not None and reason.reason is Reason.LEADER_DAYS_OFF
        assert f"weekend ({weekday})" in reason.detail


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_countries_with_several_zones_use_each_leaders_own_zone(scheduler: Scheduler) -> None:
    half_hour = {"leader_hours": LocalHours(time(10), time(10, 30))}
    day = date(2025, 2, 12)
    problem = Problem(
        principal=Principal(time_zone="Asia/Singapore"),
        requests=(
            request("perth", "AU", "Australia/Perth", day, **half_hour),
            request("sydney", "AU", "Australia/Sydney", day, **half_hour),
            request(
                "vladivostok",
                "RU",
                "Asia/Vladivostok",
                day,
                leader_languages=("ru", "en"),
                leader_hours=LocalHours(time(11), time(11, 30)),
            ),
        ),
    )
    schedule = scheduler(problem)
    assert_at_reasonable_local_times(problem, schedule)
    assert start_of(schedule, "perth") == datetime(2025, 2, 12, 2, tzinfo=UTC)  # UTC+8
    assert start_of(schedule, "sydney") == datetime(2025, 2, 11, 23, tzinfo=UTC)  # UTC+11 (DST)
    assert start_of(schedule, "vladivostok") == datetime(2025, 2, 12, 1, tzinfo=UTC)  # UTC+10


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_friday_saturday_weekends_and_holidays_are_avoided(scheduler: Scheduler) -> None:
    # Riyadh: Friday and Saturday off; Eid al-Fitr holidays from 30 March 2025.
    # Only Sunday 9 March (a working day there) and Thursday 27 March remain.
    week = [date(2025, 3, 7), date(2025, 3, 8), date(2025, 3, 9)]
    eid = [date(2025, 3, 27) + timedelta(days=i) for i in range(7)]
    problem = Problem(
        principal=Principal(time_zone="Europe/London"),
        requests=(
            request(
                "weekend",
                "SA",
                "Asia/Riyadh",
                week[0],
                latest_date=week[-1],
                leader_languages=("ar", "en"),
            ),
            request(
                "eid",
                "SA",
                "Asia/Riyadh",
                eid[0],
                latest_date=eid[-1],
                leader_languages=("ar", "en"),
                precedence_position=2,
            ),
        ),
    )
    schedule = scheduler(problem)
    assert_at_reasonable_local_times(problem, schedule)
    riyadh = ZoneInfo("Asia/Riyadh")
    assert start_of(schedule, "weekend").astimezone(riyadh).date() == date(2025, 3, 9)
    assert start_of(schedule, "eid").astimezone(riyadh).date() == date(2025, 3, 27)
