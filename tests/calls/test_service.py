"""The call desk's service on both backends: precedence, requests, runs, re-planning, outputs."""

from __future__ import annotations

import json
from datetime import time, timedelta
from pathlib import Path

import icalendar
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.calls import access as call_access
from pouch.calls import calendar as calendar_service
from pouch.calls import ical as ical_service
from pouch.calls import precedence as precedence_service
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls import scheduling as scheduling_service
from pouch.calls.models import (
    CallRequest,
    CallStatus,
    PrecedenceVersion,
    ScheduledCall,
    ScheduleRun,
    UnscheduledRequest,
)
from pouch.calls.problem import rank_order
from pouch.calls.schemas import BusyBlockIn, CalendarIn, CallRequestIn, PrecedenceIn, RankIn
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pouch.ledger import service as ledger_service
from tests.calls.helpers import NEW_YORK, Desk, build_desk, request


@pytest.fixture
def desk(database: Database, clock: ManualClock) -> Desk:
    with database.transaction() as session:
        return build_desk(session, clock)


def _event(session: Session, index: int) -> dict[str, object]:
    opening = ledger_service.opening(session, index)
    assert opening is not None
    return dict(opening.event)


def _rank(desk: Desk, *keys: str) -> PrecedenceIn:
    return PrecedenceIn(
        reason="Transition week",
        ranks=[
            RankIn(person_id=desk.leaders[key].id, tier=1, position=i)
            for i, key in enumerate(keys, start=1)
        ],
    )


def _run(
    session: Session, clock: ManualClock, *, method: scheduling_service.Method = "greedy"
) -> ScheduleRun:
    return scheduling_service.run_schedule(
        session,
        office_id=None,
        method=method,
        time_limit_s=0.5,
        seed=0,
        by_user_id=None,
        now=clock.now(),
    )


# --- order of precedence -----------------------------------------------------------


def test_each_precedence_change_is_a_new_logged_version(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        first = precedence_service.set_precedence(
            session, data=_rank(desk, "fr", "jp"), author_user_id=None, now=clock.now()
        )
        second = precedence_service.set_precedence(
            session,
            data=_rank(desk, "jp", "fr").model_copy(update={"reason": "After the summit"}),
            author_user_id=None,
            now=clock.now(),
        )
        assert (first.version.number, second.version.number) == (1, 2)
        event = _event(session, second.version.ledger_index)
        assert event["kind"] == "precedence.changed"
        assert event["version"] == 2 and event["reason"] == "After the summit"
        assert event["leaders"] == 2
        current = precedence_service.get_precedence(session)
        assert [p.name for _, p in current.ranks] == ["Hiroshi Tanabe", "Hélène Marchand"]
        earlier = precedence_service.get_precedence(session, number=1)
        assert [p.name for _, p in earlier.ranks] == ["Hélène Marchand", "Hiroshi Tanabe"]
        assert [v.number for v, _ in precedence_service.list_precedence_versions(session)] == [2, 1]
        with pytest.raises(NotFound):
            precedence_service.get_precedence(session, number=9)


def test_a_ranking_that_contradicts_itself_is_refused(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    fr, jp = desk.leaders["fr"].id, desk.leaders["jp"].id
    cases = {
        "ranks.1.person_id": [RankIn(person_id=fr, tier=1, position=1)] * 2,
        "ranks.1.position": [
            RankIn(person_id=fr, tier=1, position=1),
            RankIn(person_id=jp, tier=1, position=1),
        ],
        "ranks.0.person_id": [RankIn(person_id=999_999, tier=1, position=1)],
    }
    with database.transaction() as session:
        for field, ranks in cases.items():
            with pytest.raises(InvalidInput) as raised:
                precedence_service.set_precedence(
                    session,
                    data=PrecedenceIn(reason="x", ranks=ranks),
                    author_user_id=None,
                    now=clock.now(),
                )
            assert raised.value.field_errors[0].field == field
        assert session.scalar(select(func.count()).select_from(PrecedenceVersion)) == 0


def test_rankings_read_from_yaml_and_csv(database: Database, desk: Desk) -> None:
    with database.transaction() as session:
        yaml_ranks = precedence_service.ranking_from_text(
            session,
            text=f"tiers:\n  - [Hélène Marchand, hiroshi tanabe]\n  - [{desk.leaders['et'].id}]\n",
            format="yaml",
        )
        csv_ranks = precedence_service.ranking_from_text(
            session, text="person,tier,position\nCIARÁN Ó DÁLAIGH,2,5\n", format="csv"
        )
        with pytest.raises(InvalidInput, match="no person named 'Nobody'"):
            precedence_service.ranking_from_text(session, text="tiers: [[Nobody]]", format="yaml")
    assert [(r.person_id, r.tier, r.position) for r in yaml_ranks] == [
        (desk.leaders["fr"].id, 1, 1),
        (desk.leaders["jp"].id, 1, 2),
        (desk.leaders["et"].id, 2, 1),
    ]
    assert [(r.person_id, r.tier, r.position) for r in csv_ranks] == [(desk.leaders["ie"].id, 2, 5)]


# --- requests ----------------------------------------------------------------------


def test_a_request_is_logged_with_sensible_defaults(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        french = request(session, desk, "fr", clock)
        japanese = request(session, desk, "jp", clock)
        assert french.public_id.startswith("c-") and french.status == CallStatus.REQUESTED
        assert french.languages == ["fr", "en"] and french.interpretation == "none"
        assert japanese.interpretation == "consecutive"
        event = _event(session, french.ledger_index)
        assert event["kind"] == "call.requested"
        assert event["call"] == french.public_id
        assert event["leader"] == desk.leaders["fr"].id


def test_a_sender_office_requests_for_its_own_leaders_only(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    french_office = frozenset({desk.offices["fr"].id})
    with database.transaction() as session:
        data = CallRequestIn.model_validate(
            {
                "leader_id": desk.leaders["fr"].id,
                "earliest_date": "2026-11-09",
                "latest_date": "2026-11-13",
                "talk_minutes": 20,
            }
        )
        made = request_service.create_request(
            session,
            data=data,
            sender_offices=french_office,
            entered_by_user_id=None,
            now=clock.now(),
        )
        assert made.requested_by_office_id == desk.offices["fr"].id
        other = data.model_copy(update={"leader_id": desk.leaders["jp"].id})
        with pytest.raises(PermissionDenied, match="its own leaders"):
            request_service.create_request(
                session,
                data=other,
                sender_offices=french_office,
                entered_by_user_id=None,
                now=clock.now(),
            )
        viewer = call_access.Viewer(sender_offices=french_office)
        assert [
            v.request.public_id for v in request_service.list_requests(session, viewer=viewer)
        ] == [made.public_id]
        japanese = request(session, desk, "jp", clock)
        with pytest.raises(NotFound):
            request_service.get_request(session, public_id=japanese.public_id, viewer=viewer)


# --- runs --------------------------------------------------------------------------


def test_a_run_stores_its_calls_and_every_reason(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        french = request(session, desk, "fr", clock)
        japanese = request(session, desk, "jp", clock)
        amharic = request(session, desk, "et", clock)
        run = _run(session, clock)
        calls = {
            c.request_id: c
            for c in session.scalars(select(ScheduledCall).where(ScheduledCall.run_id == run.id))
        }
        assert set(calls) == {french.id, japanese.id}
        assert calls[japanese.id].interpreter_ids == [str(desk.interpreter.id)]  # type: ignore[union-attr]
        (left,) = session.scalars(
            select(UnscheduledRequest).where(UnscheduledRequest.run_id == run.id)
        )
        assert left.request_id == amharic.id and left.reason == "no-interpreter"
        assert "no interpreter for Amharic" in left.detail
        assert (french.status, amharic.status) == (CallStatus.SCHEDULED, CallStatus.UNSCHEDULED)
        event = _event(session, run.ledger_index)
        assert event["kind"] == "calls.scheduled"
        assert (event["scheduled"], event["left_out"], event["requests"]) == (2, 1, 3)
        # Counts, never names.
        assert "Marchand" not in json.dumps(event) and "Amharic" not in json.dumps(event)
        view = run_service.schedule_view(session, run=run)
        assert [c.row.start_utc for c in view.calls] == sorted(c.row.start_utc for c in view.calls)
        assert all(c.row.start_utc >= clock.now() for c in view.calls)
        assert view.left_out[0].leader_name == "Dawit Tesfaye"


def test_rank_is_precedence_then_urgency_then_arrival(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        precedence_service.set_precedence(
            session, data=_rank(desk, "jp", "ie"), author_user_id=None, now=clock.now()
        )
        ids = {}
        for key, urgency in (("fr", 0), ("ie", 0), ("np", 1), ("et", 0), ("jp", 0)):
            ids[request(session, desk, key, clock, urgency=urgency).public_id] = key
            clock.advance(timedelta(minutes=1))
        prepared = scheduling_service.prepare_schedule(session, office_id=None, now=clock.now())
    ordered = [ids[r.id] for r in rank_order(prepared.problem.requests)]
    # Ranked leaders first; the others by urgency, then by arrival.
    assert ordered == ["jp", "ie", "np", "fr", "et"]
    tiers = {ids[r.id]: r.precedence_tier for r in prepared.problem.requests}
    assert tiers["fr"] == precedence_service.UNRANKED_TIER and tiers["jp"] == 1


def test_the_solver_runs_deterministically_and_reports_its_stages(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        for key in ("fr", "jp", "np"):
            request(session, desk, key, clock)
        first = _run(session, clock, method="solver")
        starts = [c.row.start_utc for c in run_service.schedule_view(session, run=first).calls]
        second = _run(session, clock, method="solver")
        again = [c.row.start_utc for c in run_service.schedule_view(session, run=second).calls]
    assert first.method == "cp-sat" and first.status == "OPTIMAL" and first.gap == 0
    assert first.details["stages"][0]["name"] == "scheduled weight"
    assert starts == again and len(starts) == 3


def test_replanning_keeps_a_confirmed_call_and_reports_a_moved_one(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        french = request(session, desk, "fr", clock)
        _run(session, clock)
        with pytest.raises(Conflict, match="only a scheduled call"):
            request_service.confirm_call(
                session,
                public_id=request(session, desk, "ie", clock).public_id,
                by_user_id=None,
                now=clock.now(),
            )
        confirmed = request_service.confirm_call(
            session, public_id=french.public_id, by_user_id=None, now=clock.now()
        )
        assert confirmed.status == CallStatus.CONFIRMED
        with pytest.raises(Conflict, match="already confirmed"):
            request_service.confirm_call(
                session, public_id=french.public_id, by_user_id=None, now=clock.now()
            )
        slot = request_service.get_request(
            session, public_id=french.public_id, viewer=call_access.DESK
        ).call
        assert slot is not None and slot.confirmed
        # Another leader wants the same days: the confirmed call stays. (Had a higher-ranked
        # one come, fewer precedence inversions would come first, then fewer moves.)
        precedence_service.set_precedence(
            session, data=_rank(desk, "fr", "ie"), author_user_id=None, now=clock.now()
        )
        prepared = scheduling_service.prepare_schedule(session, office_id=None, now=clock.now())
        kept = next(r for r in prepared.problem.requests if r.id == french.public_id)
        assert kept.confirmed_start == slot.start
        rerun = _run(session, clock, method="solver")
        again = request_service.get_request(
            session, public_id=french.public_id, viewer=call_access.DESK
        )
        assert again.call is not None and (again.call.start, again.call.confirmed) == (
            slot.start,
            True,
        )
        assert rerun.moves == 0 and again.request.status == CallStatus.CONFIRMED
        # The principal becomes busy at that hour: the call moves, to be confirmed anew.
        calendar_service.add_busy_block(
            session,
            office_id=desk.principal.id,
            data=BusyBlockIn(start=slot.start, end=slot.end, note="Briefing"),
        )
        moved_run = _run(session, clock, method="solver")
        moved = request_service.get_request(
            session, public_id=french.public_id, viewer=call_access.DESK
        )
        assert moved_run.moves == 1
        assert moved.call is not None and moved.call.start != slot.start
        assert not moved.call.confirmed and moved.request.status == CallStatus.SCHEDULED


def test_the_past_is_busy_and_a_passed_window_is_reported_once(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    today = clock.now().astimezone(NEW_YORK).date()
    with database.transaction() as session:
        french = request(
            session,
            desk,
            "fr",
            clock,
            earliest_date=today.isoformat(),
            latest_date=today.isoformat(),
        )
        _run(session, clock)
        slot = request_service.get_request(
            session, public_id=french.public_id, viewer=call_access.DESK
        ).call
        assert slot is not None and slot.start >= clock.now()
        clock.advance(timedelta(days=2))
        run = _run(session, clock)
        (left,) = run_service.schedule_view(session, run=run).left_out
        assert left.reason == scheduling_service.WINDOW_PASSED and "has passed" in (
            left.detail or ""
        )
        later = _run(session, clock)
        assert run_service.schedule_view(session, run=later).left_out == ()


def test_a_confirmed_call_under_way_is_carried_over(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        calendar_service.set_calendar(
            session,
            office_id=desk.principal.id,
            data=CalendarIn(buffer_minutes=10, max_calls_per_day=3),
        )
        french = request(
            session, desk, "fr", clock, earliest_date="2026-11-09", latest_date="2026-11-09"
        )
        _run(session, clock)
        request_service.confirm_call(
            session, public_id=french.public_id, by_user_id=None, now=clock.now()
        )
        slot = request_service.get_request(
            session, public_id=french.public_id, viewer=call_access.DESK
        ).call
        assert slot is not None
        request(session, desk, "ie", clock, earliest_date="2026-11-09", latest_date="2026-11-09")
        clock.set(slot.start + timedelta(minutes=5))
        run = _run(session, clock)
        view = run_service.schedule_view(session, run=run)
        carried = view.call(french.public_id)
        assert carried is not None and carried.confirmed and carried.row.start_utc == slot.start
        irish = next(c for c in view.calls if c.request.public_id != french.public_id)
        assert irish.row.start_utc >= slot.end + timedelta(minutes=10)


def test_a_request_the_calendar_no_longer_fits_is_left_out_with_why(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        long = request(session, desk, "jp", clock, talk_minutes=45)  # 90 min, consecutive
        calendar_service.set_calendar(
            session,
            office_id=desk.principal.id,
            data=CalendarIn(window_start=time(9), window_end=time(10)),
        )
        run = _run(session, clock)
        (left,) = run_service.schedule_view(session, run=run).left_out
    assert (left.request_id, left.reason) == (long.public_id, "too-long")
    assert left.detail == (
        "the call takes 90 min (consecutive interpretation) but the principal's daily "
        "window 09:00–10:00 lasts only 60 min"
    )


def test_a_cancelled_request_leaves_the_outputs(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        french = request(session, desk, "fr", clock)
        request(session, desk, "ie", clock)
        run = _run(session, clock)
        cancelled = request_service.cancel_request(
            session,
            public_id=french.public_id,
            by_user_id=None,
            reason="Withdrawn",
            now=clock.now(),
        )
        assert _event(session, run.ledger_index + 1)["kind"] == "call.cancelled"
        assert cancelled.status == CallStatus.CANCELLED
        with pytest.raises(Conflict):
            request_service.cancel_request(
                session, public_id=french.public_id, by_user_id=None, reason="x", now=clock.now()
            )
        view = run_service.schedule_view(session, run=run)
        assert [c.row.leader_name for c in view.calls] == ["Ciarán Ó Dálaigh"]
        prepared = scheduling_service.prepare_schedule(session, office_id=None, now=clock.now())
        assert french.public_id not in prepared.problem.requests_by_id
        with pytest.raises(Conflict):
            request_service.confirm_call(
                session, public_id=french.public_id, by_user_id=None, now=clock.now()
            )


def test_icalendar_files_parse_back_with_zones_attendees_and_status(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        french = request(session, desk, "fr", clock)
        japanese = request(session, desk, "jp", clock)
        run = _run(session, clock)
        request_service.confirm_call(
            session, public_id=french.public_id, by_user_id=None, now=clock.now()
        )
        view = run_service.schedule_view(session, run=run)
        whole = icalendar.Calendar.from_ical(ical_service.schedule_ical(view, domain="pouch.test"))
        one = icalendar.Calendar.from_ical(
            ical_service.call_ical(
                session, public_id=japanese.public_id, viewer=call_access.DESK, domain="pouch.test"
            )
        )
    events = {str(e["uid"]): e for e in whole.walk("VEVENT")}
    assert set(events) == {
        f"call-{french.public_id}@pouch.test",
        f"call-{japanese.public_id}@pouch.test",
    }
    confirmed = events[f"call-{french.public_id}@pouch.test"]
    assert str(confirmed["status"]) == "CONFIRMED"
    assert confirmed["dtstart"].dt.tzinfo is not None
    assert confirmed["dtstart"].params["TZID"] == "America/New_York"
    attendees = {a.params["CN"] for a in confirmed.get("attendee")}
    assert attendees == {"Jordan Avery", "Hélène Marchand"}
    [alone] = one.walk("VEVENT")
    assert str(alone["status"]) == "TENTATIVE"
    assert {a.params["CN"] for a in alone.get("attendee")} >= {"Hiroshi Tanabe", "Akiko Mori"}
    assert [tz["tzid"] for tz in whole.walk("VTIMEZONE")] == ["America/New_York"]


def test_outputs_read_from_the_runs_snapshot(
    database: Database, clock: ManualClock, desk: Desk
) -> None:
    with database.transaction() as session:
        request(session, desk, "au", clock)
        run = _run(session, clock)
        desk.leaders["au"].time_zone = "Australia/Sydney"  # moved since the run
        desk.leaders["au"].name = "Someone Else"
        session.flush()
        (call,) = run_service.schedule_view(session, run=run).calls
    assert call.leader_time_zone == "Australia/Perth"
    assert call.row.leader_name == "Rebecca Lawson"
    assert call.row.leader_local.utcoffset() == timedelta(hours=8)


# --- the demo ----------------------------------------------------------------------


def test_the_demo_loads_thirty_requests_and_a_schedule_once(
    database: Database, clock: ManualClock
) -> None:
    from pouch.demo import DEMO_USERS
    from pouch.demo.calls import ASKS, INTERPRETERS, load_calls
    from pouch.directory import service as directory_service
    from pouch.directory import transfer
    from pouch.identity import service as identity_service

    text = (Path(__file__).parents[2] / "src/pouch/demo/directory.yaml").read_text("utf-8")
    with database.transaction() as session:
        transfer.import_directory(session, text=text, now=clock.now())
        for username, display_name, grants in DEMO_USERS:
            user = identity_service.create_user(
                session,
                username=username,
                display_name=display_name,
                password="x" * 12,
                email=None,
                now=clock.now(),
            )
            for role, slug in grants:
                office = directory_service.get_office_by_slug(session, slug)
                identity_service.grant_role(
                    session, user_id=user.id, office_id=office.id, role=role, now=clock.now()
                )
        summary = load_calls(session, now=clock.now())
        assert "30 call requests" in summary and "refused" not in summary
        assert session.scalar(select(func.count()).select_from(CallRequest)) == len(ASKS) == 30
        view = run_service.get_schedule(session, office_id=None, viewer=call_access.DESK)
        assert len(view.calls) + len(view.left_out) == 30
        reasons = " ".join(out.detail or "" for out in view.left_out)
        assert "no interpreter for Amharic" in reasons
        assert sum(call.confirmed for call in view.calls) == 2
        assert len(precedence_service.get_precedence(session).ranks) == 30
        calendar = calendar_service.get_calendar(
            session, office_id=view.run.principal_office_id, viewer=call_access.DESK
        )
        assert (calendar.time_zone, calendar.window_start, calendar.window_end) == (
            "America/New_York",
            time(7),
            time(22),
        )
        assert calendar.busy and calendar.buffer_minutes == 10 and calendar.max_calls_per_day
        assert len(view.problem.interpreters) == len(INTERPRETERS)
        assert load_calls(session, now=clock.now()) == "Call desk: already loaded."
        assert session.scalar(select(func.count()).select_from(ScheduleRun)) == 1
    assert view.calls[0].row.start_utc > clock.now()
