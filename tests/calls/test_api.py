"""The call desk's API: who may do what, bad input as precise problems, iCalendar files."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from typing import Any

import icalendar
import pytest
from dateutil import tz
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pouch.calls import scheduling as scheduling_service
from pouch.calls.models import CallRequest, PrecedenceVersion
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import acceptance
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.calls.helpers import Desk, build_desk, request_body
from tests.factories import World

PROBLEM = "application/problem+json"
REQUESTS = "/api/calls/requests"


@pytest.fixture
def desk(database: Database, clock: ManualClock, world: World) -> Desk:
    with database.transaction() as session:
        return build_desk(session, clock, existing=world.offices)


def _count(database: Database, model: type[Any]) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _problem(response: Any, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == "/problems/invalid-request"
    assert "Traceback" not in response.text
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def _request(client: TestClient, world: World, desk: Desk, key: str, **changes: Any) -> str:
    response = client.post(
        REQUESTS, json=request_body(desk, key, **changes), headers=world.auth(Role.WATCH_OFFICER)
    )
    assert response.status_code == 201, response.text
    public_id: str = response.json()["id"]
    return public_id


def _schedule(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/api/calls/schedule",
        json={"method": "greedy", **body},
        headers=world.auth(Role.WATCH_OFFICER),
    )
    assert response.status_code == 201, response.text
    schedule: dict[str, Any] = response.json()
    return schedule


# --- requests and who sees them ----------------------------------------------------


def test_a_sender_office_requests_and_sees_only_its_own(
    app_client: TestClient, world: World, desk: Desk, database: Database, clock: ManualClock
) -> None:
    with database.transaction() as session:
        letter = acceptance.accept(
            session,
            submission=acceptance.Submission(
                sender_office_id=world.offices["ie-taoiseach"].id,
                addressee_office_id=world.offices["president-elect"].id,
                subject="A call?",
                body="Might we speak next week?",
                body_format="text",
                language="en",
                precedence=Precedence.ROUTINE,
                security_label=None,
            ),
            submitted_by_user_id=world.users[Role.SENDER].id,
            signature=None,
            idempotency_key=None,
            request_hash=None,
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
            limits=acceptance.Limits(1024, 1),
        ).message.public_id
    sender = world.auth(Role.SENDER)
    response = app_client.post(
        REQUESTS, json=request_body(desk, "ie", message_id=letter), headers=sender
    )
    assert response.status_code == 201, response.text
    mine = response.json()
    assert mine["requested_by_office_id"] == world.offices["ie-taoiseach"].id
    assert (mine["message_id"], mine["status"], mine["interpretation"]) == (
        letter,
        "requested",
        "none",
    )
    foreign = app_client.post(REQUESTS, json=request_body(desk, "fr"), headers=sender)
    assert foreign.status_code == 403
    assert foreign.json()["errors"][0]["field"] == "leader_id"
    _problem(
        app_client.post(
            REQUESTS, json=request_body(desk, "ie", message_id="m-unknown"), headers=sender
        ),
        "message_id",
    )
    french = _request(app_client, world, desk, "fr")
    listed = app_client.get(REQUESTS, headers=sender).json()
    assert [r["id"] for r in listed] == [mine["id"]]
    assert app_client.get(f"{REQUESTS}/{french}", headers=sender).status_code == 404
    everything = app_client.get(REQUESTS, headers=world.auth(Role.AUDITOR)).json()
    assert {r["id"] for r in everything} == {mine["id"], french}
    principal = app_client.get(REQUESTS, headers=world.auth(Role.PRINCIPAL)).json()
    assert len(principal) == 2
    translator = app_client.get(REQUESTS, headers=world.auth(Role.TRANSLATOR))
    assert translator.status_code == 403


BAD_REQUESTS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    # name: (leader, changes, field, words of the detail)
    "inverted window": (
        "fr",
        {"earliest_date": "2026-11-13", "latest_date": "2026-11-09"},
        "latest_date",
        "2026-11-09 is before earliest_date 2026-11-13",
    ),
    "window passed": (
        "fr",
        {"earliest_date": "2026-11-02", "latest_date": "2026-11-04"},
        "latest_date",
        "2026-11-04 has passed (today is 2026-11-05 in America/New_York)",
    ),
    "too long for the leader's hours": (
        "jp",
        {"talk_minutes": 400},
        "talk_minutes",
        "the call takes 800 min (consecutive interpretation) but the leader's reasonable "
        "hours 08:00–20:00 last only 720 min",
    ),
    "too long for any common stretch": (
        "au",
        {"talk_minutes": 200},
        "talk_minutes",
        "duration 200 min does not fit in any common window (longest 180 min: leader "
        "08:00–20:00 Australia/Perth",
    ),
    "on holiday every day": (
        "ie",
        {"earliest_date": "2026-12-25", "latest_date": "2026-12-27"},
        "earliest_date",
        "leader on holiday or weekend every day of the window (Fri 2026-12-25 Christmas Day, "
        "Sat 2026-12-26 Saint Stephen's Day, Sun 2026-12-27 weekend (Sunday))",
    ),
    "no common hour": (
        "ie",
        {"leader_hours": {"start": "04:00", "end": "06:00"}},
        "leader_hours",
        "no common hour: leader 04:00–06:00 Europe/Dublin vs principal 07:00–22:00 "
        "America/New_York",
    ),
    "inverted leader hours": (
        "ie",
        {"leader_hours": {"start": "18:00", "end": "09:00"}},
        "leader_hours.end",
        "18:00 (a daily window can neither be inverted nor cross midnight)",
    ),
    "no interpretation, no shared language": (
        "et",
        {"interpretation": "none"},
        "interpretation",
        "no interpretation, yet the leader's languages (am) and the principal's (en)",
    ),
    "unknown leader": ("fr", {"leader_id": 999_999}, "leader_id", "no person with id 999999"),
    "unknown language": ("fr", {"languages": ["xx"]}, "body.languages.0", "not an ISO 639"),
}


def test_bad_requests_get_a_precise_problem_and_write_nothing(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    # One world for every case: building it is most of the cost of a test.
    for case, (leader, changes, field, words) in BAD_REQUESTS.items():
        response = app_client.post(
            REQUESTS,
            json=request_body(desk, leader, **changes),
            headers=world.auth(Role.WATCH_OFFICER),
        )
        body = _problem(response, field)
        assert words in body["detail"], (case, body["detail"])
    assert _count(database, CallRequest) == 0


def test_bad_calendars_and_rankings_get_a_precise_problem(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    calendar = f"/api/calls/calendars/{desk.principal.id}"
    watch = world.auth(Role.WATCH_OFFICER)
    unknown = app_client.put(calendar, json={"time_zone": "Mars/Olympus"}, headers=watch)
    assert (
        "'Mars/Olympus' is not an IANA time zone" in _problem(unknown, "body.time_zone")["detail"]
    )
    inverted = app_client.put(
        calendar, json={"window_start": "22:00", "window_end": "07:00"}, headers=watch
    )
    assert "07:00 is not after 22:00" in _problem(inverted, "window_end")["detail"]
    busy = app_client.post(
        f"{calendar}/busy",
        json={"start": "2026-11-09T15:00:00Z", "end": "2026-11-09T14:00:00Z"},
        headers=watch,
    )
    _problem(busy, "end")
    naive = app_client.post(
        f"{calendar}/busy",
        json={"start": "2026-11-09T15:00:00", "end": "2026-11-09T16:00:00"},
        headers=watch,
    )
    _problem(naive, "body.start")
    foreign = app_client.put(
        f"/api/calls/calendars/{world.offices['ie-taoiseach'].id}", json={}, headers=watch
    )
    assert "is not a principal's office" in _problem(foreign, "office_id")["detail"]
    protocol = world.auth(Role.PROTOCOL_OFFICER)
    fr = desk.leaders["fr"].id
    twice = app_client.put(
        "/api/calls/precedence",
        json={
            "reason": "x",
            "ranks": [
                {"person_id": fr, "tier": 1, "position": 1},
                {"person_id": fr, "tier": 1, "position": 2},
            ],
        },
        headers=protocol,
    )
    assert "ranked twice" in _problem(twice, "ranks.1.person_id")["detail"]
    assert _count(database, PrecedenceVersion) == 0


# --- the order of precedence, the calendar -----------------------------------------


def test_protocol_keeps_the_order_of_precedence(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    assert (
        app_client.get("/api/calls/precedence", headers=world.auth(Role.AUDITOR)).status_code == 404
    )
    ranks = [
        {"person_id": desk.leaders[key].id, "tier": tier, "position": position}
        for key, tier, position in (("fr", 1, 1), ("jp", 1, 2), ("ie", 2, 1))
    ]
    made = app_client.put(
        "/api/calls/precedence",
        json={"reason": "Transition week", "ranks": ranks},
        headers=world.auth(Role.PROTOCOL_OFFICER),
    )
    assert made.status_code == 200, made.text
    assert made.json()["number"] == 1
    assert made.json()["author_user_id"] == world.users[Role.PROTOCOL_OFFICER].id
    again = app_client.put(
        "/api/calls/precedence",
        json={"reason": "The Taoiseach first", "ranks": [{**ranks[2], "tier": 1, "position": 0}]},
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert again.json()["number"] == 2
    current = app_client.get("/api/calls/precedence", headers=world.auth(Role.WATCH_OFFICER))
    assert [r["name"] for r in current.json()["ranks"]] == ["Ciarán Ó Dálaigh"]
    first = app_client.get(
        "/api/calls/precedence", params={"version": 1}, headers=world.auth(Role.AUDITOR)
    )
    assert [r["name"] for r in first.json()["ranks"]] == [
        "Hélène Marchand",
        "Hiroshi Tanabe",
        "Ciarán Ó Dálaigh",
    ]
    versions = app_client.get(
        "/api/calls/precedence/versions", headers=world.auth(Role.AUDITOR)
    ).json()
    assert [(v["number"], v["reason"], v["leaders"]) for v in versions] == [
        (2, "The Taoiseach first", 1),
        (1, "Transition week", 3),
    ]


def test_the_principal_calendar(app_client: TestClient, world: World, desk: Desk) -> None:
    calendar = f"/api/calls/calendars/{desk.principal.id}"
    default = app_client.get(calendar, headers=world.auth(Role.PRINCIPAL_STAFF)).json()
    assert default["is_default"] and default["time_zone"] == "America/New_York"
    assert (default["window_start"], default["window_end"]) == ("07:00:00", "22:00:00")
    watch = world.auth(Role.WATCH_OFFICER)
    updated = app_client.put(
        calendar,
        json={"window_start": "08:00", "window_end": "21:00", "max_calls_per_day": 4},
        headers=watch,
    ).json()
    assert not updated["is_default"] and updated["max_calls_per_day"] == 4
    block = app_client.post(
        f"{calendar}/busy",
        json={"start": "2026-11-09T09:00:00-05:00", "end": "2026-11-09T12:00:00-05:00"},
        headers=watch,
    )
    assert block.status_code == 201
    assert block.json()["start"] == "2026-11-09T14:00:00Z"
    shown = app_client.get(calendar, headers=world.auth(Role.PRINCIPAL)).json()
    assert [b["id"] for b in shown["busy"]] == [block.json()["id"]]
    gone = app_client.delete(f"{calendar}/busy/{block.json()['id']}", headers=watch)
    assert gone.status_code == 204
    assert app_client.get(calendar, headers=watch).json()["busy"] == []


# --- schedules ---------------------------------------------------------------------


def test_a_schedule_through_the_api(
    app_client: TestClient, world: World, desk: Desk, clock: ManualClock
) -> None:
    nepal = _request(app_client, world, desk, "np")
    japan = _request(app_client, world, desk, "jp", interpretation="consecutive")
    ethiopia = _request(app_client, world, desk, "et")
    sender = world.auth(Role.SENDER)
    irish = app_client.post(REQUESTS, json=request_body(desk, "ie"), headers=sender).json()["id"]
    assert (
        app_client.get("/api/calls/schedule", headers=world.auth(Role.PRINCIPAL)).status_code == 404
    )
    schedule = _schedule(app_client, world, method="solver", time_limit_s=1)
    calls = {c["request_id"]: c for c in schedule["calls"]}
    assert set(calls) == {nepal, japan, irish}
    assert schedule["principal_time_zone"] == "America/New_York"
    # Kathmandu is 5:45 ahead of UTC; New York 5 hours behind in November.
    assert calls[nepal]["leader_local"].endswith("+05:45")
    assert calls[nepal]["principal_local"].endswith("-05:00")
    assert calls[japan]["interpreters"] == ["Akiko Mori"] and calls[japan]["mode"] == "consecutive"
    assert calls[japan]["minutes"] == 60
    [left] = schedule["left_out"]
    assert (left["request_id"], left["reason"]) == (ethiopia, "no-interpreter")
    assert "no interpreter for Amharic" in left["detail"]
    # The principal's office reads its schedule; a sender office does not.
    read = app_client.get("/api/calls/schedule", headers=world.auth(Role.PRINCIPAL))
    assert read.json() == schedule
    assert app_client.get("/api/calls/schedule", headers=sender).status_code == 403
    runs = app_client.get("/api/calls/runs", headers=world.auth(Role.AUDITOR)).json()
    assert [r["run_id"] for r in runs] == [schedule["run"]["run_id"]]
    assert runs[0]["scheduled"] == 3 and runs[0]["left_out"] == 1
    run = app_client.get(f"/api/calls/runs/{runs[0]['run_id']}", headers=world.auth(Role.AUDITOR))
    assert run.json() == schedule
    # A sender sees its request's status and why, but a call only once it is confirmed.
    mine = app_client.get(f"{REQUESTS}/{irish}", headers=sender).json()
    assert mine["status"] == "scheduled" and mine["call"] is None
    assert app_client.get(f"{REQUESTS}/{irish}/ical", headers=sender).status_code == 404
    confirmed = app_client.post(
        f"{REQUESTS}/{irish}/confirm", headers=world.auth(Role.PROTOCOL_OFFICER)
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    mine = app_client.get(f"{REQUESTS}/{irish}", headers=sender).json()
    assert mine["call"]["confirmed"] and mine["call"]["start"] == calls[irish]["start"]
    ical = app_client.get(f"{REQUESTS}/{irish}/ical", headers=sender)
    assert ical.status_code == 200 and ical.headers["content-type"].startswith("text/calendar")
    # The Ethiopian request: left out, and the sender-facing view hides no reason code.
    detail = app_client.get(f"{REQUESTS}/{ethiopia}", headers=world.auth(Role.WATCH_OFFICER))
    assert detail.json()["left_out"]["reason"] == "no-interpreter"
    # Re-planning keeps the confirmed call (nothing better for precedence comes along).
    clock.advance(timedelta(hours=1))
    replanned = _schedule(app_client, world, method="solver", time_limit_s=1)
    kept = next(c for c in replanned["calls"] if c["request_id"] == irish)
    assert kept["confirmed"] and kept["start"] == calls[irish]["start"]
    assert replanned["run"]["moves"] == 0


def test_icalendar_endpoints_serve_text_calendar_that_parses_back(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    japan = _request(app_client, world, desk, "jp")
    _request(app_client, world, desk, "fr")
    schedule = _schedule(app_client, world)
    whole = app_client.get("/api/calls/schedule/ical", headers=world.auth(Role.PRINCIPAL_STAFF))
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("text/calendar")
    assert whole.headers["content-disposition"] == 'attachment; filename="calls.ics"'
    calendar = icalendar.Calendar.from_ical(whole.content)
    events = calendar.walk("VEVENT")
    assert len(events) == len(schedule["calls"]) == 2
    for event in events:
        assert event["dtstart"].params["TZID"] == "America/New_York"
        assert str(event["status"]) == "TENTATIVE"
        assert str(event["uid"]).endswith("@127.0.0.1")
    one = app_client.get(f"{REQUESTS}/{japan}/ical", headers=world.auth(Role.WATCH_OFFICER))
    assert one.headers["content-type"].startswith("text/calendar")
    [event] = icalendar.Calendar.from_ical(one.content).walk("VEVENT")
    assert str(event["summary"]) == "Call: Jordan Avery – Hiroshi Tanabe"
    names = {a.params["CN"] for a in event.get("attendee")}
    assert names == {"Jordan Avery", "Hiroshi Tanabe", "Akiko Mori"}
    start = next(c["start"] for c in schedule["calls"] if c["request_id"] == japan)
    # The principal's local time, the same instant as the sheet's UTC.
    assert str(event["dtstart"].dt.tzinfo) == "America/New_York"
    assert event["dtstart"].dt == datetime.fromisoformat(start)
    # And as a client that reads the file's own VTIMEZONE (dateutil's) reads it.
    zone = tz.tzical(io.StringIO(one.text)).get("America/New_York")
    wall = event["dtstart"].dt.replace(tzinfo=None)
    assert wall.replace(tzinfo=zone) == datetime.fromisoformat(start)


def test_cancel_and_confirm_errors(app_client: TestClient, world: World, desk: Desk) -> None:
    french = _request(app_client, world, desk, "fr")
    watch = world.auth(Role.WATCH_OFFICER)
    early = app_client.post(f"{REQUESTS}/{french}/confirm", headers=watch)
    assert early.status_code == 409
    assert "only a scheduled call can be confirmed" in early.json()["detail"]
    cancelled = app_client.post(
        f"{REQUESTS}/{french}/cancel", json={"reason": "The Élysée withdrew it"}, headers=watch
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = app_client.post(f"{REQUESTS}/{french}/cancel", json={"reason": "x"}, headers=watch)
    assert again.status_code == 409
    empty = app_client.post(f"{REQUESTS}/{french}/cancel", json={"reason": " "}, headers=watch)
    _problem(empty, "body.reason")
    schedule = _schedule(app_client, world)
    assert schedule["calls"] == [] and schedule["left_out"] == []
    bad = app_client.post(
        "/api/calls/schedule",
        json={"principal_office_id": world.offices["ops"].id},
        headers=watch,
    )
    _problem(bad, "principal_office_id")
    too_long = app_client.post("/api/calls/schedule", json={"time_limit_s": 60}, headers=watch)
    _problem(too_long, "body.time_limit_s")


def test_the_solve_holds_no_transaction_and_a_run_made_meanwhile_wins(
    app_client: TestClient,
    database: Database,
    world: World,
    desk: Desk,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _request(app_client, world, desk, "np")
    writes: list[float] = []
    database.observers.append(lambda write, held: writes.append(held) if write else None)
    solve = scheduling_service.compute_schedule
    during: list[int] = []

    def slow_solve(*args: Any, **kwargs: Any) -> Any:
        # A long solve, during which another officer's run is written: the database is
        # free (no transaction of this request is open), and that run makes this one stale.
        if during:  # the other officer's own solve
            return solve(*args, **kwargs)
        during.append(0)
        time.sleep(1.0)
        with database.transaction() as session:
            during.append(
                scheduling_service.run_schedule(
                    session,
                    office_id=None,
                    method="greedy",
                    time_limit_s=1,
                    seed=0,
                    by_user_id=None,
                    now=clock.now(),
                ).id
            )
        return solve(*args, **kwargs)

    monkeypatch.setattr(scheduling_service, "compute_schedule", slow_solve)
    stale = app_client.post(
        "/api/calls/schedule", json={"method": "greedy"}, headers=world.auth(Role.WATCH_OFFICER)
    )
    assert stale.status_code == 409, stale.text
    assert (
        f"schedule run {during[-1]} was made while this one was being solved"
        in (stale.json()["detail"])
    )
    # Every write transaction was short: none spanned the second-long solve.
    assert writes and max(writes) < 0.5
    monkeypatch.setattr(scheduling_service, "compute_schedule", solve)
    assert _schedule(app_client, world)["calls"]


# --- the rules a realistic month asked for -------------------------------------------


def test_the_principals_days_off_and_the_rank_policy_through_the_api(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    calendar = f"/api/calls/calendars/{desk.principal.id}"
    watch = world.auth(Role.WATCH_OFFICER)
    default = app_client.get(calendar, headers=watch).json()
    assert (default["days_off_country"], default["rank_policy"]) == (None, "precedence")
    wrong_part = app_client.put(
        calendar, json={"days_off_country": "US", "days_off_subdivision": "BY"}, headers=watch
    )
    assert (
        "'BY' is not a subdivision of US" in _problem(wrong_part, "days_off_subdivision")["detail"]
    )
    _problem(app_client.put(calendar, json={"rank_policy": "loudest"}, headers=watch))
    kept = app_client.put(
        calendar,
        json={"days_off_country": "US", "days_off_subdivision": "NY", "max_calls_per_day": 1},
        headers=watch,
    )
    assert kept.status_code == 200, kept.text
    assert (kept.json()["days_off_country"], kept.json()["days_off_subdivision"]) == ("US", "NY")
    # Wednesday 11 November is Veterans Day: a request for that day alone is refused.
    holiday = app_client.post(
        REQUESTS,
        json=request_body(desk, "jp", earliest_date="2026-11-11", latest_date="2026-11-11"),
        headers=watch,
    )
    assert (
        "principal's day off every day the hours meet"
        in _problem(holiday, "earliest_date")["detail"]
    )
    assert "Veterans Day" in holiday.json()["detail"]
    # One call a day, two requests for Monday: the Élysée ranks above Dublin, Dublin is urgent.
    ranks = [
        {"person_id": desk.leaders[key].id, "tier": 1, "position": position}
        for key, position in (("fr", 1), ("ie", 2))
    ]
    app_client.put(
        "/api/calls/precedence",
        json={"reason": "Transition week", "ranks": ranks},
        headers=world.auth(Role.PROTOCOL_OFFICER),
    ).raise_for_status()
    monday = {"earliest_date": "2026-11-09", "latest_date": "2026-11-09"}
    paris = _request(app_client, world, desk, "fr", **monday)
    dublin = _request(app_client, world, desk, "ie", urgency=9, **monday)
    placed = {c["request_id"] for c in _schedule(app_client, world)["calls"]}
    assert placed == {paris}
    app_client.put(
        calendar,
        json={"days_off_country": "US", "max_calls_per_day": 1, "rank_policy": "urgency"},
        headers=watch,
    ).raise_for_status()
    schedule = _schedule(app_client, world)
    assert {c["request_id"] for c in schedule["calls"]} == {dublin}
    [left] = schedule["left_out"]
    assert (left["request_id"], left["reason"]) == (paris, "crowded-out")


def test_a_leaders_busy_times_own_dates_and_regional_holidays_at_intake(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    watch = world.auth(Role.WATCH_OFFICER)
    every_day = [{"start": "2026-11-09T00:00:00Z", "end": "2026-11-14T00:00:00Z"}]
    always_busy = app_client.post(
        REQUESTS, json=request_body(desk, "ie", leader_busy=every_day), headers=watch
    )
    assert "leader busy at every common hour" in _problem(always_busy, "leader_busy")["detail"]
    naive = app_client.post(
        REQUESTS,
        json=request_body(
            desk, "ie", leader_busy=[{"start": "2026-11-09T09:00", "end": "2026-11-09T10:00"}]
        ),
        headers=watch,
    )
    _problem(naive, "body.leader_busy.0.start")
    morning = [{"start": "2026-11-09T09:00:00+01:00", "end": "2026-11-09T12:00:00+01:00"}]
    made = app_client.post(
        REQUESTS,
        json=request_body(desk, "jp", leader_busy=morning, dates_in_leader_zone=True),
        headers=watch,
    )
    assert made.status_code == 201, made.text
    assert made.json()["leader_busy"] == [
        {"start": "2026-11-09T08:00:00Z", "end": "2026-11-09T11:00:00Z"}
    ]
    assert made.json()["dates_in_leader_zone"] is True and made.json()["notice"] is None
    # A leader in England keeps Easter Monday (29 March 2027); one in Scotland does not.
    protocol = world.auth(Role.PROTOCOL_OFFICER)
    person = {
        "name": "Alex Morgan",
        "title": "First Minister",
        "form_of_address": "First Minister",
        "country_code": "GB",
        "languages": ["en"],
    }
    bad = app_client.post("/api/people", json={**person, "subdivision": "BY"}, headers=protocol)
    assert "not a subdivision of GB" in _problem(bad, "subdivision")["detail"]
    english = app_client.post(
        "/api/people", json={**person, "subdivision": "ENG"}, headers=protocol
    )
    assert english.status_code == 201 and english.json()["subdivision"] == "ENG"
    easter_monday = {
        "leader_id": english.json()["id"],
        "earliest_date": "2027-03-29",
        "latest_date": "2027-03-29",
        "talk_minutes": 30,
    }
    refused = app_client.post(REQUESTS, json=easter_monday, headers=watch)
    assert "Easter Monday" in _problem(refused, "earliest_date")["detail"]
    scottish = app_client.patch(
        f"/api/people/{english.json()['id']}",
        json={"subdivision": "SCT"},
        headers=protocol,
    )
    assert scottish.json()["subdivision"] == "SCT"
    waits = app_client.post(REQUESTS, json=easter_monday, headers=watch)
    assert waits.status_code == 201, waits.text
    # Beyond the 100-day horizon from Thursday 5 November 2026: accepted, and told so.
    assert waits.json()["notice"] == (
        "the window opens on 2027-03-29, beyond the 100-day planning horizon (until "
        "2027-02-12): the request waits, and runs place it from 2026-12-20 on"
    )
    listed = app_client.get(f"{REQUESTS}/{waits.json()['id']}", headers=watch).json()
    assert listed["notice"] is None


def test_a_leaders_busy_time_that_ends_before_it_starts_is_refused(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    inverted = [{"start": "2026-11-09T12:00:00Z", "end": "2026-11-09T09:00:00Z"}]
    response = app_client.post(
        REQUESTS,
        json=request_body(desk, "ie", leader_busy=inverted),
        headers=world.auth(Role.WATCH_OFFICER),
    )
    assert "is not after start" in _problem(response, "body.leader_busy.0")["detail"]
    assert _count(database, CallRequest) == 0
