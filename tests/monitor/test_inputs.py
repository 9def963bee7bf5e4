"""Bad input to ``pouch monitor`` is exit status 2 and one line naming the flag, before
anything is asked of the server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pouch.clock import ManualClock
from pouch.ledger.note import generate_cosigner_key, generate_key
from tests.monitor.helpers import run_monitor

CLOCK = ManualClock(datetime(2026, 11, 5, 14, 0, tzinfo=UTC))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    vkey = generate_key("test.pouch/log")[1]
    (tmp_path / "log.vkey").write_text(vkey + "\n")
    (tmp_path / "keys.txt").write_text("0 " + "A" * 43 + "=\n")
    (tmp_path / "policy").write_text(f"log {vkey}\nquorum none\n")
    (tmp_path / "a-file").write_text("not a directory\n")
    return {
        "vkey": tmp_path / "log.vkey",
        "keys": tmp_path / "keys.txt",
        "policy": tmp_path / "policy",
        "file": tmp_path / "a-file",
        "state": tmp_path / "state",
        "root": tmp_path,
    }


def args(files: dict[str, Path], **changes: str | None) -> list[str]:
    given: dict[str, str | None] = {
        "--url": "http://127.0.0.1:9",  # nothing listens there: never reached
        "--vkey": str(files["vkey"]),
        "--state": str(files["state"]),
        "--office": "2",
        "--token": "pouch_test",
        "--office-key": str(files["keys"]),
        "--policy": str(files["policy"]),
    }
    given.update(changes)
    flat = ["monitor", "--once"]
    for flag, value in given.items():
        if value is not None:
            flat += [flag, value]
    return flat


def refused(arguments: list[str], env: dict[str, str] | None = None) -> str:
    result = run_monitor(CLOCK, arguments, env)
    assert result.code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_each_bad_input_is_exit_2_with_one_line_naming_its_flag(
    files: dict[str, Path], tmp_path: Path
) -> None:
    witness = generate_cosigner_key("w.example/w")[1]
    other_log = generate_key("other.example/log")[1]
    (tmp_path / "bad.vkey").write_text("not a key\n")
    (tmp_path / "short-keys.txt").write_text("0 AAAA\n")
    (tmp_path / "unordered-keys.txt").write_text(f"5 {'A' * 43}=\n5 {'B' * 43}=\n")
    (tmp_path / "bad.policy").write_text("quorum nobody\n")
    (tmp_path / "other.policy").write_text(f"log {other_log}\nwitness w {witness}\nquorum w\n")
    cases = {
        "--vkey": [
            {"--vkey": str(tmp_path / "missing.vkey")},
            {"--vkey": str(tmp_path / "bad.vkey")},
        ],
        "--office-key": [
            {"--office-key": str(tmp_path / "missing.txt")},
            {"--office-key": str(tmp_path / "short-keys.txt")},
            {"--office-key": str(tmp_path / "unordered-keys.txt")},
        ],
        "--policy": [
            {"--policy": str(tmp_path / "missing.policy")},
            {"--policy": str(tmp_path / "bad.policy")},
            {"--policy": str(tmp_path / "other.policy")},
        ],
        "--office/--sender": [{"--sender": "3"}, {"--office": None}],
        # A slug is looked up in the directory: Pouch cannot be reached here.
        "--office": [{"--office": "atlantis"}],
        "--url": [{"--url": "ftp://pouch.example"}, {"--url": "pouch.example"}],
        "--state": [{"--state": str(files["file"])}],
        "--keep": [{"--keep": str(files["file"])}],
        "--alert-webhook": [{"--alert-webhook": "mailto:ops@example"}],
        "--alert-email": [{"--alert-email": "ops@example"}],
    }
    for flag, variants in cases.items():
        for changes in variants:
            line = refused(args(files, **changes), env={"POUCH_SMTP_HOST": ""})
            assert line.startswith(f"error: {flag}: "), (changes, line)
    assert not files["state"].exists()  # nothing was made for a refused command


def test_a_state_directory_of_another_monitor_or_damaged_is_refused(
    files: dict[str, Path],
) -> None:
    files["state"].mkdir()
    state = files["state"] / "state.json"
    empty_log = {"checkpoint": None, "size": 0, "edge": [], "pending": []}
    owner = {"log": files["vkey"].read_text().strip(), "office": 9, "role": "office"}
    state.write_text(json.dumps({"version": 1, "owner": owner, "log": empty_log, "party": None}))
    line = refused(args(files))
    assert line.startswith("error: --state: ") and "belongs to another monitor" in line
    state.write_text("{not json")
    line = refused(args(files))
    assert line.startswith("error: --state: ") and "damaged" in line
