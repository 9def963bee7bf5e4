"""The watch floor and the sender's tools from the command line, on the demo scenario served
over HTTP: each officer logged in with a token of their own, no database in reach."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pouch.cli import app
from pouch.identity.models import Role
from tests.officers import Demo, Person, person, served_demo, token_for


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with served_demo(tmp_path_factory.mktemp("demo")) as served:
        yield served


@pytest.fixture(scope="module")
def watch1(demo: Demo) -> Person:
    return demo.officer("watch1", Role.WATCH_OFFICER)


@pytest.fixture(scope="module")
def watch2(demo: Demo) -> Person:
    return demo.officer("watch2", Role.WATCH_OFFICER)


def test_queue_shows_the_held_and_overdue_demo_messages(watch1: Person) -> None:
    code, output = watch1.run("messages", "queue")
    assert code == 0, output
    assert "OVERDUE" in output and "held since" in output and "FLASH" in output


def test_two_officers_hold_then_release(demo: Demo, watch1: Person, watch2: Person) -> None:
    code, output = watch1.run("messages", "queue")
    candidates = list(re.findall(r"(m-[0-9a-f]{20})", output))
    held_or_not = []
    for public_id in candidates:
        _, shown = watch1.run("messages", "show", public_id)
        if "hold.approved" not in shown:
            held_or_not.append(public_id)
    public_id = held_or_not[0]
    code, output = watch1.run(
        "messages", "hold", public_id, "--minutes", "30", "--reason", "verify"
    )
    assert code == 0, output
    hold_id = re.search(r"hold (\d+) requested", output).group(1)  # type: ignore[union-attr]
    code, output = watch1.run("messages", "approve", public_id, hold_id)
    assert code == 1 and "second officer" in output
    code, output = watch2.run("messages", "approve", public_id, hold_id)
    assert code == 0 and "active" in output
    code, output = watch2.run("messages", "release", public_id, hold_id)
    assert code == 0 and "released" in output
    _, shown = watch1.run("messages", "show", public_id)
    assert "hold.released" in shown and "delivered" in shown
    principal = demo.officer("principal", Role.PRINCIPAL, "president-elect")
    code, output = principal.run("messages", "route", public_id)
    assert code == 1 and "watch officer" in output
    code, output = watch1.run("messages", "route", public_id, "--as", "watch2")
    assert code == 2 and "No such option: --as" in output


def test_due_is_the_operators_and_runs_the_worker(demo: Demo) -> None:
    result = CliRunner().invoke(
        app,
        ["messages", "due"],
        env=demo.operator_env,
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 0 and "delivered" in output and "notifications sent" in output


def test_a_sender_signs_and_submits_from_the_command_line(demo: Demo, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pouch.directory import service as directory_service
    from pouch.intake import service as intake_service
    from pouch.intake.signatures import decode_public_key

    sender = person(tmp_path, "sender-ie")
    key_file = tmp_path / "ie.seed"
    code, output = sender.run("sender", "keygen", "--key-id", "ie-cli", "--output", str(key_file))
    assert code == 0, output
    assert key_file.stat().st_mode & 0o777 == 0o600
    public = output.split()[-1]
    with demo.database.transaction() as session:
        ireland = directory_service.get_office_by_slug(session, "ie-taoiseach")
        principal = directory_service.get_office_by_slug(session, "president-elect")
        intake_service.register_key(
            session,
            office_id=ireland.id,
            key_id="ie-cli",
            public_key=decode_public_key(public),
            now=datetime.now(UTC),
        )
        ids = (ireland.id, principal.id)
    token = token_for(demo.database, "sender-ie", Role.SENDER, "ie-taoiseach")
    code, output = person(tmp_path, "sender-ie", POUCH_TOKEN=token).run(
        "sender",
        "send",
        "--url",
        demo.url,
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
    assert re.search(r"accepted m-[0-9a-f]{20} \(sequence 41 for the addressee\)", output), output
    assert '"kind": "accepted"' in output


def test_an_office_administrator_rotates_its_tag_key_from_the_command_line(
    demo: Demo, watch1: Person
) -> None:
    import base64

    from pouch.directory import service as directory_service
    from pouch.ledger import events, tags
    from pouch.ledger import service as ledger_service

    database = demo.database
    with database.transaction(write=False) as session:
        office = directory_service.get_office_by_slug(session, "president-elect").id
    code, output = watch1.run("office", "tag-key", "--office", str(office))
    assert code == 1 and "only an administrator of this office" in output
    admin = demo.officer("admin", Role.ADMINISTRATOR, "president-elect")
    code, output = admin.run("office", "tag-key", "--office", str(office))
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


def test_an_office_checks_the_log_from_its_own_machine_reading_side_by_side(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pouch office check` against a served Pouch: the ledger's and the inbox's pages
    read side by side and the log walked reading ahead (``WALK_FROM`` lowered, so that
    the demo's office is walked as a large one is)."""
    from pouch.clock import SystemClock
    from pouch.ledger.service import Ledger
    from pouch.messages import check
    from pouch.settings import Settings

    monkeypatch.setattr(check, "WALK_FROM", 1)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=demo.operator_env["POUCH_DATABASE_URL"], data_dir=demo.root
    )
    Ledger.from_settings(settings, database=demo.database, clock=SystemClock()).integrate_now()
    shown = CliRunner().invoke(app, ["keys", "show"], env=demo.operator_env)
    assert shown.exit_code == 0, shown.output
    principal = demo.officer("principal", Role.PRINCIPAL, "president-elect")
    code, output = principal.run(
        "office", "check", "--office", "president-elect", "--vkey", shown.output.strip()
    )
    assert code == 0, output
    assert "messages verified in the log" in output and "no gaps" in output
