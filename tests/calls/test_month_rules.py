"""The call desk's rules that a realistic month asked for (issue 17): the principal's
own weekends and holidays, urgency able to outrank position (a policy, both ways),
a leader's regional holidays and busy times, and windows in the leader's dates.

Each rule is checked in both schedulers (CP-SAT and the greedy baseline) and by the
independent checker, which must also catch a schedule that breaks it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pouch.calls import snapshot
from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import (
    Assignment,
    CallRequest,
    LocalHours,
    Principal,
    Problem,
    ProblemError,
    RankPolicy,
    Reason,
    Schedule,
    TimeWindow,
    check_schedule,
)
from pouch.calls.solver import SolverOptions, solve

NEW_YORK = ZoneInfo("America/New_York")
# Friday 3 July 2026 (Independence Day observed in the US), then the weekend.
FRIDAY = date(2026, 7, 3)


def request(id: str, **changes: Any) -> CallRequest:
    fields: dict[str, Any] = {
        "id": id,
        "leader_name": f"Leader {id}",
        "leader_country": "IE",
        "leader_time_zone": "Europe/Dublin",
        "leader_languages": ("en",),
        "earliest_date": date(2026, 7, 1),
        "latest_date": date(2026, 7, 1),
        "talk_minutes": 30,
        "precedence_tier": 1,
        "precedence_position": 1,
        "arrived_at": datetime(2026, 6, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return CallRequest(**fields)


def both(problem: Problem) -> list[Schedule]:
    """The schedules of both schedulers, each checked valid; they agree on who is out."""
    schedules = [
        solve(problem, SolverOptions(time_limit_s=5, num_workers=2)),
        schedule_greedily(problem),
    ]
    for schedule in schedules:
        assert check_schedule(problem, schedule) == []
    assert schedules[0].unscheduled == schedules[1].unscheduled
    return schedules


# --- urgency or precedence first ---------------------------------------------------------


def _one_slot_two_requests(policy: RankPolicy) -> Problem:
    """One 30-minute slot on the principal's day; a routine request of the leader one
    place higher, and a FLASH (urgent, today only) request of the leader below."""
    principal = Principal(
        time_zone="America/New_York", daily_window=LocalHours(time(9), time(9, 30))
    )
    routine = request("routine", precedence_position=1, urgency=0)
    flash = request("flash", precedence_position=2, urgency=9)
    return Problem(principal=principal, requests=(routine, flash), rank_policy=policy)


@pytest.mark.parametrize(
    ("policy", "placed", "out"),
    [(RankPolicy.PRECEDENCE, "routine", "flash"), (RankPolicy.URGENCY, "flash", "routine")],
)
def test_the_rank_policy_decides_who_gets_the_only_slot(
    policy: RankPolicy, placed: str, out: str
) -> None:
    for schedule in both(_one_slot_two_requests(policy)):
        assert [a.request_id for a in schedule.assignments] == [placed]
        [left] = schedule.unscheduled
        assert (left.request_id, left.reason) == (out, Reason.CROWDED_OUT)


def test_the_rank_policy_survives_a_runs_snapshot() -> None:
    problem = _one_slot_two_requests(RankPolicy.URGENCY)
    again = snapshot.problem_from_json(snapshot.problem_json(problem, ()))
    assert again.rank_policy is RankPolicy.URGENCY


# --- the principal's days off ------------------------------------------------------------


def test_the_principal_keeps_the_weekends_and_holidays_of_a_country() -> None:
    """Friday 3 July is a US holiday, Sunday 5 a US weekend day (and a working day in
    Saudi Arabia, whose weekend is Friday and Saturday): no day is left to the principal
    who keeps the US's days off; the one who keeps none takes the call on the Friday."""
    keeps = Principal(time_zone="America/New_York", days_off_country="US")
    free = Principal(time_zone="America/New_York")
    friday = request("fri", earliest_date=FRIDAY, latest_date=FRIDAY)
    riyadh = {"leader_country": "SA", "leader_time_zone": "Asia/Riyadh"}
    sunday = request("sun", earliest_date=FRIDAY, latest_date=FRIDAY + timedelta(days=2), **riyadh)
    for schedule in both(Problem(principal=keeps, requests=(friday, sunday))):
        assert schedule.assignments == ()
        why = {left.request_id: (left.reason, left.detail) for left in schedule.unscheduled}
        assert why["fri"][0] == why["sun"][0] == Reason.PRINCIPAL_DAYS_OFF
        assert why["fri"][1].endswith("(Fri 2026-07-03 Independence Day (observed))")
        assert why["sun"][1].endswith("(Sun 2026-07-05 weekend (Sunday))")
    for schedule in both(Problem(principal=free, requests=(friday,))):
        [call] = schedule.assignments
        assert call.start.astimezone(NEW_YORK).date() == FRIDAY


def test_the_checker_catches_a_call_on_the_principals_day_off() -> None:
    problem = Problem(
        principal=Principal(time_zone="America/New_York", days_off_country="US"),
        requests=(request("r", earliest_date=FRIDAY, latest_date=FRIDAY),),
    )
    start = datetime(2026, 7, 3, 13, 0, tzinfo=UTC)  # 09:00 in New York
    schedule = replace(
        schedule_greedily(problem),
        assignments=(Assignment("r", start, start + timedelta(minutes=30)),),
        unscheduled=(),
    )
    assert check_schedule(problem, schedule) == ["r: 2026-07-03 is a day off of the principal"]


def test_a_subdivision_must_be_one_of_the_country() -> None:
    with pytest.raises(ProblemError) as refused:
        Principal(time_zone="Europe/London", days_off_country="GB", days_off_subdivision="BY")
    assert refused.value.field == "days_off_subdivision"
    assert "ENG" in refused.value.message
    with pytest.raises(ProblemError) as alone:
        Principal(time_zone="Europe/London", days_off_subdivision="ENG")
    assert alone.value.field == "days_off_subdivision"


# --- the leader's regional holidays and busy times ---------------------------------------


def test_easter_monday_is_a_day_off_for_a_leader_in_england_not_in_scotland() -> None:
    easter_monday = {"earliest_date": date(2027, 3, 29), "latest_date": date(2027, 3, 29)}
    london = {"leader_country": "GB", "leader_time_zone": "Europe/London", **easter_monday}
    principal = Principal(time_zone="Europe/London")
    england = request("eng", leader_subdivision="ENG", **london)
    scotland = request("sct", leader_subdivision="SCT", **london)
    for schedule in both(Problem(principal=principal, requests=(england, scotland))):
        assert [a.request_id for a in schedule.assignments] == ["sct"]
        [left] = schedule.unscheduled
        assert (left.request_id, left.reason) == ("eng", Reason.LEADER_DAYS_OFF)
        assert "Easter Monday" in left.detail


def test_a_call_avoids_the_leaders_busy_times() -> None:
    """The leader is busy 09:00–16:00 Dublin time (08:00–15:00 UTC): the call goes after."""
    busy = (TimeWindow(datetime(2026, 7, 1, 8, tzinfo=UTC), datetime(2026, 7, 1, 15, tzinfo=UTC)),)
    problem = Problem(
        principal=Principal(time_zone="Europe/Dublin"),
        requests=(request("r", leader_busy=busy),),
    )
    for schedule in both(problem):
        [call] = schedule.assignments
        assert not busy[0].overlaps(call.start, call.end)
    # The checker catches a call in the busy time.
    start = datetime(2026, 7, 1, 9, tzinfo=UTC)
    bad = replace(
        schedule_greedily(problem),
        assignments=(Assignment("r", start, start + timedelta(minutes=30)),),
        unscheduled=(),
    )
    assert check_schedule(problem, bad) == [
        "r: overlaps the leader's busy time from 2026-07-01T08:00:00+00:00"
    ]


def test_a_leader_busy_at_every_common_hour_is_the_reason() -> None:
    whole_day = (
        TimeWindow(datetime(2026, 7, 1, 0, tzinfo=UTC), datetime(2026, 7, 2, 0, tzinfo=UTC)),
    )
    problem = Problem(
        principal=Principal(time_zone="Europe/Dublin"),
        requests=(request("r", leader_busy=whole_day),),
    )
    for schedule in both(problem):
        [left] = schedule.unscheduled
        assert left.reason == Reason.LEADER_BUSY
        assert left.detail.startswith("leader busy at every common hour")


# --- windows in the leader's dates -------------------------------------------------------


def test_a_window_in_the_leaders_dates_is_the_leaders_day() -> None:
    """Tokyo's Wednesday 1 July runs from 11:00 on Tuesday in New York: a call on the
    leader's 1 July is on the principal's 30 June, where the principal's dates would
    put it on 1 July."""
    tokyo = {
        "leader_country": "JP",
        "leader_time_zone": "Asia/Tokyo",
        "leader_languages": ("en",),
    }
    principal = Principal(time_zone="America/New_York", daily_window=LocalHours(time(7), time(22)))
    theirs = request("theirs", dates_in_leader_zone=True, **tokyo)
    ours = request("ours", **tokyo)
    tokyo_zone = ZoneInfo("Asia/Tokyo")
    for schedule in both(Problem(principal=principal, requests=(theirs, ours))):
        starts = {a.request_id: a.start for a in schedule.assignments}
        assert starts["theirs"].astimezone(tokyo_zone).date() == date(2026, 7, 1)
        assert starts["theirs"].astimezone(NEW_YORK).date() == date(2026, 6, 30)
        assert starts["ours"].astimezone(NEW_YORK).date() == date(2026, 7, 1)
    again = snapshot.request_from_json(snapshot.request_json(theirs))
    assert again == theirs
