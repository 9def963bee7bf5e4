"""The call desk from the command line, on the demo scenario (a SQLite file) served over
HTTP: each officer logged in with a token of their own, no database in reach."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from pouch.identity.models import Role
from tests.officers import Demo, Person, served_demo

CALL_ID = re.compile(r"c-[0-9a-f]{20}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with served_demo(tmp_path_factory.mktemp("calls-demo")) as served:
        assert "Call desk: 30 call requests" in served.summary
        yield served


@pytest.fixture(scope="module")
def watch1(demo: Demo) -> Person:
    return demo.officer("watch1", Role.WATCH_OFFICER)


@pytest.fixture(scope="module")
def watch2(demo: Demo) -> Person:
    return demo.officer("watch2", Role.WATCH_OFFICER)


@pytest.fixture(scope="module")
def protocol(demo: Demo) -> Person:
    return demo.officer("protocol", Role.PROTOCOL_OFFICER)


@pytest.fixture(scope="module")
def principal(demo: Demo) -> Person:
    return demo.officer("principal", Role.PRINCIPAL, "president-elect")


def _statuses(output: str) -> dict[str, str]:
    """The call sheet's last column by call, from the squeezed output."""
    rows = re.findall(r"(c-[0-9a-f]{20}) │(.*?)(?=│ c-[0-9a-f]{20}|Left out|$)", output)
    return {call: row.rstrip(" │").rsplit("│", 1)[-1].strip() for call, row in rows}


def _days_ahead(days: int) -> str:
    today = datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).date()
    return (today + timedelta(days=days)).isoformat()


def test_the_demo_sheet_lists_calls_and_the_requests_left_out(watch1: Person) -> None:
    code, output = watch1.run("calls", "sheet")
    assert code == 0, output
    for column in ("UTC", "Principal's time", "Leader's time", "Interpreters", "Mode"):
        assert column in output
    assert "Marc-André Tremblay" in output and "Akiko Mori" in output and "confirmed" in output
    assert "Left out" in output and "no interpreter for Amharic" in output
    assert " EST " in output or " EDT " in output
    # For scripts, the same sheet as the API's JSON.
    code, output = watch1.run("calls", "sheet", "--json")
    assert code == 0, output
    sheet = json.loads(output)
    assert "Marc-André Tremblay" in json.dumps(sheet, ensure_ascii=False)
    assert "no interpreter for Amharic" in json.dumps(sheet, ensure_ascii=False)


def test_precedence_show_set_round_trip(watch1: Person, protocol: Person, tmp_path: Path) -> None:
    code, output = watch1.run("calls", "precedence", "show")
    assert code == 0 and "Marc-André Tremblay" in output and "Lin Mei-hua" in output
    ranking = tmp_path / "ranking.yaml"
    code, output = watch1.run("calls", "precedence", "show", "--output", str(ranking))
    assert code == 0 and ranking.read_text(encoding="utf-8").count("\n  - ") >= 27
    code, output = watch1.run("calls", "precedence", "set", str(ranking), "--reason", "Again")
    assert code == 1 and "administrator, protocol_officer" in output
    code, output = protocol.run(
        "calls",
        "precedence",
        "set",
        str(ranking),
        "--reason",
        "Unchanged, re-read",
    )
    assert code == 0 and "30 leaders" in output, output
    table = tmp_path / "ranking.csv"
    table.write_text("person,tier,position\nNobody Known,1,1\n", encoding="utf-8")
    code, output = protocol.run("calls", "precedence", "set", str(table), "--reason", "x")
    assert code == 1 and "line 2: no person named 'Nobody Known'" in output


def test_request_then_schedule_with_the_solver(watch1: Person, principal: Person) -> None:
    code, output = watch1.run(
        "calls",
        "request",
        "--leader",
        "Ciarán Ó Dálaigh",
        "--from",
        _days_ahead(15),
        "--to",
        _days_ahead(17),
        "--minutes",
        "20",
        "--leader-hours",
        "04:00-06:00",
    )
    assert code == 1 and "no common hour: leader 04:00–06:00 Europe/Dublin" in output
    code, output = watch1.run(
        "calls",
        "request",
        "--leader",
        "Ciarán Ó Dálaigh",
        "--from",
        _days_ahead(15),
        "--to",
        _days_ahead(21),
        "--minutes",
        "20",
        "--notes",
        "A second call",
    )
    assert code == 0, output
    new = CALL_ID.search(output)
    assert new is not None
    code, output = watch1.run("calls", "sheet")
    confirmed_before = {c for c, status in _statuses(output).items() if status == "confirmed"}
    code, output = watch1.run("calls", "schedule", "--time-limit", "0.5", "--seed", "3")
    assert code == 0, output
    assert "(cp-sat," in output and "Call sheet" in output and new.group(0) in output
    assert "confirmed calls moved 0" in output
    after = _statuses(output)
    assert len(confirmed_before) == 2
    assert all(after[call] == "confirmed" for call in confirmed_before), after
    code, output = principal.run("calls", "schedule", "--method", "greedy")
    assert code == 1 and "protocol_officer, watch_officer" in output


def test_confirm_cancel_list_and_ical(watch1: Person, watch2: Person, tmp_path: Path) -> None:
    code, output = watch1.run("calls", "schedule", "--method", "greedy")
    assert code == 0 and "(greedy," in output
    code, output = watch1.run("calls", "requests", "--status", "scheduled")
    scheduled = CALL_ID.findall(output)
    assert scheduled, output
    code, output = watch2.run("calls", "confirm", scheduled[0])
    assert code == 0 and f"{scheduled[0]} confirmed" in output
    code, output = watch2.run("calls", "confirm", scheduled[0])
    assert code == 1 and "already confirmed" in output
    code, output = watch1.run("calls", "cancel", scheduled[1], "--reason", "Withdrawn")
    assert code == 0 and "cancelled" in output
    code, output = watch1.run("calls", "requests", "--status", "unscheduled")
    assert "no-interpreter" in output and "Dawit Tesfaye" in output
    code, output = watch1.run("calls", "requests", "--status", "lost")
    assert code == 1 and "error: --status: Input should be 'requested'" in output, output
    whole = tmp_path / "calls.ics"
    code, output = watch1.run("calls", "ical", "--output", str(whole))
    assert code == 0 and "wrote" in output
    calendar = icalendar.Calendar.from_ical(whole.read_bytes())
    uids = {str(e["uid"]) for e in calendar.walk("VEVENT")}
    assert any(scheduled[0] in uid for uid in uids)
    assert not any(scheduled[1] in uid for uid in uids)  # cancelled
    one = tmp_path / "one.ics"
    code, output = watch1.run("calls", "ical", "--output", str(one), "--call", scheduled[0])
    assert code == 0 and "(1 call)" in output
    [event] = icalendar.Calendar.from_ical(one.read_bytes()).walk("VEVENT")
    assert str(event["status"]) == "CONFIRMED"
    assert event["dtstart"].params["TZID"] == "America/New_York"


def test_the_calendar_busy_blocks_and_interpreters_from_the_command_line(
    watch1: Person, principal: Person
) -> None:
    code, output = watch1.run("calls", "calendar", "show", "--json")
    assert code == 0, output
    before = json.loads(output)
    try:
        code, output = watch1.run(
            "calls", "calendar", "set", "--days-off", "GB/XX", "--rank-policy", "urgency"
        )
        assert code == 1 and "--days-off: 'XX' is not a subdivision of GB" in output, output
        code, output = watch1.run("calls", "calendar", "set", "--rank-policy", "loudest")
        assert code == 1 and "--rank-policy" in output, output
        code, output = watch1.run(
            "calls", "calendar", "set", "--days-off", "us/ny", "--rank-policy", "urgency"
        )
        assert code == 0, output
        assert "days off of US/NY" in output and "urgency first" in output
        # What was not given stays as it was.
        assert f"{before['window_start'][:5]}–{before['window_end'][:5]}" in output
        code, output = watch1.run(
            "calls",
            "busy",
            "add",
            "2031-01-06T09:00-05:00/2031-01-06T12:00-05:00",
            "--note",
            "Trip",
        )
        assert code == 0 and "2031-01-06 14:00 to 2031-01-06 17:00 UTC" in output, output
        block = re.search(r"busy block (\d+)", output)
        assert block is not None
        code, output = principal.run("calls", "calendar", "show")
        assert code == 0 and "Trip" in output and "2031-01-06 14:00" in output
        code, output = principal.run("calls", "busy", "remove", block.group(1))
        assert code == 1 and "watch_officer" in output
        code, output = watch1.run("calls", "busy", "add", "2031-01-06T09:00/2031-01-06T12:00")
        assert code == 2 and "with offsets" in output
        code, output = watch1.run("calls", "busy", "remove", block.group(1))
        assert code == 0 and "removed" in output
        code, output = watch1.run("calls", "calendar", "show", "--json")
        assert json.loads(output)["busy"] == before["busy"]
    finally:
        flags = ["--days-off", before["days_off_country"] or "none"]
        flags += ["--rank-policy", before["rank_policy"]]
        assert watch1.run("calls", "calendar", "set", *flags)[0] == 0


def test_interpreters_from_the_command_line(watch1: Person, protocol: Person) -> None:
    code, output = protocol.run(
        "calls",
        "interpreters",
        "add",
        "--name",
        "Ngozi Okafor",
        "--pairs",
        "ha-en,yo-en",
        "--available",
        "2031-01-06T12:00Z/2031-01-06T20:00Z",
        "--max-minutes",
        "180",
    )
    assert code == 0, output
    found = re.search(r"interpreter (\d+): Ngozi Okafor", output)
    assert found is not None
    ident = found.group(1)
    code, output = protocol.run(
        "calls", "interpreters", "available", ident, "2031-01-07T12:00Z/2031-01-07T20:00Z"
    )
    assert code == 0 and "2 windows" in output, output
    code, output = watch1.run("calls", "interpreters", "list", "--json")
    entry = next(e for e in json.loads(output) if e["id"] == int(ident))
    assert entry["language_pairs"] == [["en", "ha"], ["en", "yo"]]  # stored in order
    assert [w["start"] for w in entry["availability"]] == [
        "2031-01-06T12:00:00Z",
        "2031-01-07T12:00:00Z",
    ]
    code, output = protocol.run("calls", "interpreters", "add", "--name", "X", "--pairs", "ha")
    assert code == 2 and "--pairs" in output
    code, output = watch1.run("calls", "interpreters", "list")
    assert code == 0 and "Ngozi Okafor" in output and "en–ha, en–yo" in output
    code, output = watch1.run("calls", "interpreters", "remove", ident)
    assert code == 1 and "protocol_officer" in output
    code, output = protocol.run("calls", "interpreters", "remove", ident)
    assert code == 0 and "removed" in output
    code, output = watch1.run("calls", "interpreters", "list", "--json")
    assert int(ident) not in [e["id"] for e in json.loads(output)]


def test_a_request_far_ahead_is_told_it_waits(watch1: Person) -> None:
    code, output = watch1.run(
        "calls",
        "request",
        "--leader",
        "Marc-André Tremblay",
        "--from",
        _days_ahead(150),
        "--to",
        _days_ahead(152),
        "--minutes",
        "20",
        "--leader-dates",
        "--leader-busy",
        f"{_days_ahead(150)}T00:00-05:00/{_days_ahead(150)}T12:00-05:00",
    )
    assert code == 0, output
    assert "note: the window opens on" in output and "100-day planning horizon" in output
    call = CALL_ID.search(output)
    assert call is not None
    code, output = watch1.run("calls", "requests", "--json")
    made = next(r for r in json.loads(output) if r["id"] == call.group(0))
    assert made["dates_in_leader_zone"] is True and len(made["leader_busy"]) == 1
    assert watch1.run("calls", "cancel", call.group(0), "--reason", "A test")[0] == 0
