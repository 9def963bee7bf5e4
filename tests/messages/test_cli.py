"""The watch floor and the sender's tools from the command line, on the demo scenario."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pouch.cli import app


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("demo")
    env = {"POUCH_DATABASE_URL": f"sqlite:///{root / 'demo.sqlite3'}", "POUCH_DATA_DIR": str(root)}
    result = CliRunner().invoke(app, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    return env


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    # Wide enough that Rich never wraps a table cell.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400", **env})
    return result.exit_code, " ".join(result.output.split())


def _first_routine(env: dict[str, str]) -> str:
    code, output = run(env, "messages", "queue")
    assert code == 0
    ids = re.findall(r"m-[0-9a-f]{20}", output)
    assert ids, output
    return ids[-1]


def test_queue_shows_the_held_and_overdue_demo_messages(demo_env: dict[str, str]) -> None:
    code, output = run(demo_env, "messages", "queue")
    assert code == 0
    assert "OVERDUE" in output and "held since" in output and "FLASH" in output


def test_two_officers_hold_then_release(demo_env: dict[str, str]) -> None:
    code, output = run(demo_env, "messages", "queue")
    candidates = list(re.findall(r"(m-[0-9a-f]{20})", output))
    held_or_not = []
    for public_id in candidates:
        _, shown = run(demo_env, "messages", "show", public_id)
        if "hold.approved" not in shown:
            held_or_not.append(public_id)
    public_id = held_or_not[0]
    code, output = run(
        demo_env,
        "messages",
        "hold",
        public_id,
        "--minutes",
        "30",
        "--reason",
        "verify",
        "--as",
        "watch1",
    )
    assert code == 0, output
    hold_id = re.search(r"hold (\d+) requested", output).group(1)  # type: ignore[union-attr]
    code, output = run(demo_env, "messages", "approve", public_id, hold_id, "--as", "watch1")
    assert code == 1 and "second officer" in output
    code, output = run(demo_env, "messages", "approve", public_id, hold_id, "--as", "watch2")
    assert code == 0 and "active" in output
    code, output = run(demo_env, "messages", "release", public_id, hold_id, "--as", "watch2")
    assert code == 0 and "released" in output
    _, shown = run(demo_env, "messages", "show", public_id)
    assert "hold.released" in shown and "delivered" in shown
    code, output = run(demo_env, "messages", "route", public_id, "--as", "principal")
    assert code == 1 and "not a watch officer" in output


def test_due_runs_the_worker(demo_env: dict[str, str]) -> None:
    code, output = run(demo_env, "messages", "due")
    assert code == 0 and "delivered" in output and "notifications sent" in output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_sender_signs_and_submits_from_the_command_line(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from pouch.db import Database
    from pouch.directory import service as directory_service
    from pouch.identity import service as identity_service
    from pouch.identity.models import Role
    from pouch.intake import service as intake_service
    from pouch.intake.signatures import decode_public_key

    key_file = tmp_path / "ie.seed"
    code, output = run(
        demo_env, "sender", "keygen", "--key-id", "ie-cli", "--output", str(key_file)
    )
    assert code == 0, output
    assert key_file.stat().st_mode & 0o777 == 0o600
    public = output.split()[-1]
    database = Database.from_url(demo_env["POUCH_DATABASE_URL"])
    now = datetime.now(UTC)
    with database.transaction() as session:
        ireland = directory_service.get_office_by_slug(session, "ie-taoiseach")
        principal = directory_service.get_office_by_slug(session, "president-elect")
        intake_service.register_key(
            session,
            office_id=ireland.id,
            key_id="ie-cli",
            public_key=decode_public_key(public),
            now=now,
        )
        sender = identity_service.get_user_by_username(session, "sender-ie")
        token, _ = identity_service.issue_token(
            session,
            user_id=sender.id,
            office_id=ireland.id,
            role=Role.SENDER,
            name="cli",
            now=now,
            lifetime=timedelta(days=1),
        )
        ids = (ireland.id, principal.id)
    database.dispose()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", "serve", "--port", str(port)],
        env={**os.environ, **demo_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # start-up only; a loaded CI machine is slow
        while True:  # start-up
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        code, output = run(
            {**demo_env, "POUCH_TOKEN": token},
            "sender",
            "send",
            "--url",
            base,
            "--key-id",
            "ie-cli",
            "--key-file",
            str(key_file),
            "--from",
            str(ids[0]),
            "--to",
            str(ids[1]),
            "--subject",
            "From the command line",
            "--body",
            "Dia duit.",
            "--precedence",
            "IMMEDIATE",
        )
        assert code == 0, output
        assert re.search(r"accepted m-[0-9a-f]{20} \(sequence 41 for the addressee\)", output), (
            output
        )
        assert '"kind": "accepted"' in output
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_office_administrator_rotates_its_tag_key_from_the_command_line(
    demo_env: dict[str, str],
) -> None:
    import base64

    from pouch.db import Database
    from pouch.directory import service as directory_service
    from pouch.ledger import events, tags
    from pouch.ledger import service as ledger_service

    database = Database.from_url(demo_env["POUCH_DATABASE_URL"])
    try:
        with database.transaction(write=False) as session:
            office = directory_service.get_office_by_slug(session, "president-elect").id
        code, output = run(demo_env, "office", "tag-key", "--office", str(office), "--as", "watch1")
        assert code == 1 and "only an administrator of this office" in output
        code, output = run(demo_env, "office", "tag-key", "--office", str(office), "--as", "admin")
        assert code == 0, output
        # The first rotation: the key made at the office's first event, then the new one.
        (first, start), (key, from_counter) = re.findall(r"key (\S+) from counter (\d+)", output)
        assert start == "0" and "never shows them again" in output
        history = [(base64.b64decode(first), 0), (base64.b64decode(key), int(from_counter))]
        with database.transaction(write=False) as session:
            size = ledger_service.sequenced_size(session)
            log = sorted(ledger_service.entries(session, indexes=range(size)).items())
            found = tags.find(history, log)
            # Every event of the demo about the office, ending with the rotation.
            assert [c for c, _ in found.found] == list(range(int(from_counter)))
            opening = ledger_service.opening(session, found.found[-1][1])
        assert opening is not None and opening.event["kind"] == "tag-key.rotated"
        assert opening.event["from_counter"] == int(from_counter)
        assert events.parse_entry(opening.entry()).tags == opening.tags
    finally:
        database.dispose()
