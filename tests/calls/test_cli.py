"""The call desk from the command line, on the demo scenario (a SQLite file)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from typer.testing import CliRunner

from pouch.cli import app

CALL_ID = re.compile(r"c-[0-9a-f]{20}")


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("calls-demo")
    env = {"POUCH_DATABASE_URL": f"sqlite:///{root / 'demo.sqlite3'}", "POUCH_DATA_DIR": str(root)}
    result = CliRunner().invoke(app, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    assert "Call desk: 30 call requests" in " ".join(result.output.split())
    return env


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    # Wide enough that Rich never wraps a table cell.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400", **env})
    return result.exit_code, " ".join(result.output.split())


def _statuses(output: str) -> dict[str, str]:
    """The call sheet's last column by call, from the squeezed output."""
    rows = re.findall(r"(c-[0-9a-f]{20}) │(.*?)(?=│ c-[0-9a-f]{20}|Left out|$)", output)
    return {call: row.rstrip(" │").rsplit("│", 1)[-1].strip() for call, row in rows}


def _days_ahead(days: int) -> str:
    today = datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).date()
    return (today + timedelta(days=days)).isoformat()


def test_the_demo_sheet_lists_calls_and_the_requests_left_out(demo_env: dict[str, str]) -> None:
    code, output = run(demo_env, "calls", "sheet")
    assert code == 0, output
    for column in ("UTC", "Principal's time", "Leader's time", "Interpreters", "Mode"):
        assert column in output
    assert "Marc-André Tremblay" in output and "Akiko Mori" in output and "confirmed" in output
    assert "Left out" in output and "no interpreter for Amharic" in output
    assert " EST " in output or " EDT " in output


def test_precedence_show_set_round_trip(demo_env: dict[str, str], tmp_path: Path) -> None:
    code, output = run(demo_env, "calls", "precedence", "show")
    assert code == 0 and "Marc-André Tremblay" in output and "Lin Mei-hua" in output
    ranking = tmp_path / "ranking.yaml"
    code, output = run(demo_env, "calls", "precedence", "show", "--output", str(ranking))
    assert code == 0 and ranking.read_text(encoding="utf-8").count("\n  - ") >= 27
    code, output = run(
        demo_env, "calls", "precedence", "set", str(ranking), "--reason", "Again", "--as", "watch1"
    )
    assert code == 1 and "not a protocol officer or administrator" in output
    code, output = run(
        demo_env,
        "calls",
        "precedence",
        "set",
        str(ranking),
        "--reason",
        "Unchanged, re-read",
        "--as",
        "protocol",
    )
    assert code == 0 and "30 leaders" in output, output
    table = tmp_path / "ranking.csv"
    table.write_text("person,tier,position\nNobody Known,1,1\n", encoding="utf-8")
    code, output = run(
        demo_env, "calls", "precedence", "set", str(table), "--reason", "x", "--as", "protocol"
    )
    assert code == 1 and "line 2: no person named 'Nobody Known'" in output


def test_request_then_schedule_with_the_solver(demo_env: dict[str, str], tmp_path: Path) -> None:
    code, output = run(
        demo_env,
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
        "--as",
        "watch1",
    )
    assert code == 1 and "no common hour: leader 04:00–06:00 Europe/Dublin" in output
    code, output = run(
        demo_env,
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
        "--as",
        "watch1",
    )
    assert code == 0, output
    new = CALL_ID.search(output)
    assert new is not None
    code, output = run(demo_env, "calls", "sheet")
    confirmed_before = {c for c, status in _statuses(output).items() if status == "confirmed"}
    code, output = run(
        demo_env, "calls", "schedule", "--time-limit", "0.5", "--seed", "3", "--as", "watch1"
    )
    assert code == 0, output
    assert "(cp-sat," in output and "Call sheet" in output and new.group(0) in output
    assert "confirmed calls moved 0" in output
    after = _statuses(output)
    assert len(confirmed_before) == 2
    assert all(after[call] == "confirmed" for call in confirmed_before), after
    code, output = run(demo_env, "calls", "schedule", "--method", "greedy", "--as", "principal")
    assert code == 1 and "not a watch officer or protocol officer" in output


def test_confirm_cancel_list_and_ical(demo_env: dict[str, str], tmp_path: Path) -> None:
    code, output = run(demo_env, "calls", "schedule", "--method", "greedy", "--as", "watch1")
    assert code == 0 and "(greedy," in output
    code, output = run(demo_env, "calls", "requests", "--status", "scheduled")
    scheduled = CALL_ID.findall(output)
    assert scheduled, output
    code, output = run(demo_env, "calls", "confirm", scheduled[0], "--as", "watch2")
    assert code == 0 and f"{scheduled[0]} confirmed" in output
    code, output = run(demo_env, "calls", "confirm", scheduled[0], "--as", "watch2")
    assert code == 1 and "already confirmed" in output
    code, output = run(
        demo_env, "calls", "cancel", scheduled[1], "--reason", "Withdrawn", "--as", "watch1"
    )
    assert code == 0 and "cancelled" in output
    code, output = run(demo_env, "calls", "requests", "--status", "unscheduled")
    assert "no-interpreter" in output and "Dawit Tesfaye" in output
    code, output = run(demo_env, "calls", "requests", "--status", "lost")
    assert code == 2 and "one of requested" in output
    whole = tmp_path / "calls.ics"
    code, output = run(demo_env, "calls", "ical", "--output", str(whole))
    assert code == 0 and "wrote" in output
    calendar = icalendar.Calendar.from_ical(whole.read_bytes())
    uids = {str(e["uid"]) for e in calendar.walk("VEVENT")}
    assert any(scheduled[0] in uid for uid in uids)
    assert not any(scheduled[1] in uid for uid in uids)  # cancelled
    one = tmp_path / "one.ics"
    code, output = run(demo_env, "calls", "ical", "--output", str(one), "--call", scheduled[0])
    assert code == 0 and "(1 call)" in output
    [event] = icalendar.Calendar.from_ical(one.read_bytes()).walk("VEVENT")
    assert str(event["status"]) == "CONFIRMED"
    assert event["dtstart"].params["TZID"] == "America/New_York"
