"""kill -9 during a load run loses no message that got a 201 (invariant 1).

A real ``pouch serve`` runs as its own process on a database of its own (the
``fresh_database`` fixture: a SQLite file, or a PostgreSQL database). A few
threads submit signed messages as fast as it answers and record every 201;
after ``KILL_AFTER`` of them the server gets SIGKILL while requests are still
in flight. With the server dead, the database is opened directly: every
message that got a 201 is there, with its ``accepted`` event, its log entry at
``accepted_index``, and the very opening its sender received, which recomputes
that entry; the addressee office's sequence numbers run 1..n without a gap and
the log's entries 0..head-1 without a hole. Then the server restarts on the
same database and becomes ready, a checkpoint covers every entry, the whole
log verifies from its tiles over HTTP and extends the checkpoint published
before the crash, and every receipt a sender can now fetch verifies offline.

A message whose 201 was lost with the connection may or may not be stored;
either way it must be whole.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pouch.clock import SystemClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key, sign_request
from pouch.ledger import service as ledger_service
from pouch.ledger.checkpoint import open_checkpoint
from pouch.ledger.events import Opening
from pouch.ledger.note import Ed25519Verifier, generate_key
from pouch.ledger.receipt import verify_receipt
from pouch.ledger.store import LedgerEntry, TileCache
from pouch.ledger.verify import HttpSource, verify_log
from pouch.messages.models import Message, MessageEvent, OfficeSequence
from tests.factories import make_office, make_token, make_user

pytestmark = pytest.mark.slow

ORIGIN = "crash.pouch.example/log"
KEY_ID = "ie-crash-2026"
SUBMITTERS = 4
KILL_AFTER = 150
PRECEDENCES = ("ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH")


@dataclass(frozen=True)
class SenderOffice:
    token: str
    seed: bytes
    office_id: int
    addressee_id: int


def _prepare(database: Database) -> SenderOffice:
    """A foreign office with a sender, its token and key, and a principal's office."""
    clock = SystemClock()
    with database.transaction() as session:
        sender = make_office(session, clock, "ie-taoiseach", OfficeKind.FOREIGN, "IE")
        principal = make_office(session, clock, "president-elect", OfficeKind.PRINCIPAL, "US")
        user = make_user(session, clock, "ie-sender", [(Role.SENDER, sender)])
        token = make_token(session, clock, user, Role.SENDER, sender)
        seed, public = generate_sender_key(KEY_ID)
        intake_service.register_key(
            session, office_id=sender.id, key_id=KEY_ID, public_key=public, now=clock.now()
        )
        return SenderOffice(token, seed, sender.id, principal.id)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``python -m pouch.cli serve`` as a child process, configured by environment."""

    def __init__(self, database_url: str, directory: Path, skey: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = directory / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("POUCH_")}
        env.update(
            POUCH_DATABASE_URL=database_url,
            POUCH_PORT=str(self.port),
            POUCH_PUBLIC_URL=self.base_url,
            POUCH_DATA_DIR=str(directory),
            POUCH_LOG_ORIGIN=ORIGIN,
            POUCH_LOG_SIGNING_KEY=skey,
        )
        with self.log.open("wb") as log:
            # The test's directory as working directory: no stray .env is read.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pouch.cli", "serve", "--port", str(self.port)],
                env=env,
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    pytest.fail(f"pouch serve exited ({self.process.returncode}):\n{self.output()}")
                # Only once this process has bound the port (uvicorn says so): another
                # test's server may have taken the port picked for this one.
                bound = "Uvicorn running on" in self.output()
                try:
                    response = client.get(f"{self.base_url}/readyz")
                    if bound and response.status_code == 200 and response.json()["status"] == "ok":
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"pouch serve not ready after {timeout} s:\n{self.output()}")
                time.sleep(0.05)  # polling for start-up, not a business deadline

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no final commit, no final integration."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def output(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture
def servers(tmp_path: Path) -> Any:
    """Starts servers; any still running at the end is killed."""
    started: list[Server] = []

    def start(database_url: str, skey: str) -> Server:
        server = Server(database_url, tmp_path, skey)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()


@dataclass(frozen=True)
class Acknowledged:
    """A 201 as the sender kept it."""

    id: str
    office_sequence: int
    opening: dict[str, Any]


@dataclass
class LoadRun:
    """What the submitting threads saw."""

    acknowledged: list[Acknowledged] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # answers other than 201
    cut_off: list[str] = field(default_factory=list)  # how each thread's last request ended
    progress: threading.Condition = field(default_factory=threading.Condition)


def _submit_until_cut_off(base_url: str, sender: SenderOffice, run: LoadRun, worker: int) -> None:
    url = f"{base_url}/api/messages"
    with httpx.Client(timeout=30.0) as client:
        for n in range(1_000_000):
            body = json.dumps(
                {
                    "sender_office_id": sender.office_id,
                    "addressee_office_id": sender.addressee_id,
                    "subject": f"Congratulations ({worker}-{n})",
                    "body": "A Uachtaráin tofa, congratulations on your election.",
                    "precedence": PRECEDENCES[n % len(PRECEDENCES)],
                }
            ).encode()
            headers = {
                "Authorization": f"Bearer {sender.token}",
                "Content-Type": "application/json",
            }
            headers.update(
                sign_request(
                    method="POST",
                    url=url,
                    headers=headers,
                    body=body,
                    key_id=KEY_ID,
                    private_key=sender.seed,
                )
            )
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.TransportError as error:  # the server died under this request
                with run.progress:
                    run.cut_off.append(type(error).__name__)
                    run.progress.notify_all()
                return
            try:
                data = response.json()
                acknowledged = Acknowledged(
                    data["id"], data["office_sequence"], data["receipt"]["opening"]
                )
            except (ValueError, KeyError, TypeError):
                acknowledged = None
            with run.progress:
                if response.status_code != 201 or acknowledged is None:
                    run.unexpected.append(f"{response.status_code} {response.text[:300]}")
                    run.progress.notify_all()
                    return
                run.acknowledged.append(acknowledged)
                run.progress.notify_all()


def _load_then_kill(server: Server, sender: SenderOffice) -> LoadRun:
    run = LoadRun()
    threads = [
        threading.Thread(target=_submit_until_cut_off, args=(server.base_url, sender, run, i))
        for i in range(SUBMITTERS)
    ]
    for thread in threads:
        thread.start()
    try:
        with run.progress:
            reached = run.progress.wait_for(
                lambda: (
                    len(run.acknowledged) >= KILL_AFTER
                    or bool(run.unexpected)
                    or len(run.cut_off) == SUBMITTERS
                ),
                timeout=60,
            )
    finally:
        server.kill()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a submitter still runs after the kill"
    assert run.unexpected == [], f"answers other than 201 before the kill: {run.unexpected[:3]}"
    assert reached and len(run.acknowledged) >= KILL_AFTER, (
        f"only {len(run.acknowledged)} acceptances before the kill:\n{server.output()}"
    )
    # Every submitter was still at work when the server died.
    assert len(run.cut_off) == SUBMITTERS, run.cut_off
    return run


def _check_database_after_crash(
    database: Database, sender: SenderOffice, acknowledged: list[Acknowledged]
) -> int:
    """Every acknowledged message whole in the database; no gap. Returns the log's size."""
    with database.transaction(write=False) as session:
        stored = {m.public_id: m for m in session.scalars(select(Message))}
        missing = [a.id for a in acknowledged if a.id not in stored]
        assert missing == [], f"{len(missing)} messages got a 201 and were lost: {missing[:10]}"

        events: dict[int, list[MessageEvent]] = {}
        for event in session.scalars(select(MessageEvent)):
            events.setdefault(event.message_id, []).append(event)
        # Every stored message is whole, acknowledged or not.
        broken = []
        for message in stored.values():
            accepted = [e for e in events.get(message.id, []) if e.kind == "accepted"]
            if len(accepted) != 1 or accepted[0].ledger_index != message.accepted_index:
                broken.append((message.public_id, "accepted event"))
                continue
            entry = ledger_service.entry(session, message.accepted_index)
            opening = ledger_service.opening(session, message.accepted_index)
            if entry is None or opening is None or opening.entry() != entry:
                broken.append((message.public_id, "log entry or opening"))
            elif opening.event["message"] != message.public_id or (
                opening.event["office_sequence"] != message.office_sequence
            ):
                broken.append((message.public_id, "opening of another message"))
        assert broken == []

        for ack in acknowledged:
            message = stored[ack.id]
            assert message.office_sequence == ack.office_sequence, ack.id
            assert ack.opening["index"] == message.accepted_index, ack.id
            kept = ledger_service.opening(session, message.accepted_index)
            assert kept is not None and kept.to_json() == ack.opening, ack.id

        sequences = sorted(
            m.office_sequence
            for m in stored.values()
            if m.addressee_office_id == sender.addressee_id
        )
        assert sequences == list(range(1, len(stored) + 1))
        counter = session.get(OfficeSequence, sender.addressee_id)
        assert counter is not None and counter.next_sequence == len(stored) + 1

        size = ledger_service.sequenced_size(session)
        indexes = list(session.scalars(select(LedgerEntry.idx).order_by(LedgerEntry.idx)))
        assert indexes == list(range(size))
        return size


def _checkpoint_note(database: Database) -> bytes | None:
    with database.transaction(write=False) as session:
        published = ledger_service.latest_checkpoint(session)
        return published.note if published is not None else None


def _wait_for_checkpoint(server: Server, verifier: Ed25519Verifier, size: int) -> None:
    """Poll until the restarted server's integrator publishes a checkpoint of ``size``."""
    deadline = time.monotonic() + 120  # a bound for a loaded machine; it normally takes < 1 s
    seen = None
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            response = client.get(f"{server.base_url}/log/checkpoint")
            if response.status_code == 200:
                seen = open_checkpoint(response.content, log=verifier).checkpoint.size
                if seen >= size:
                    return
            time.sleep(0.05)  # the background integrator's start-up
    pytest.fail(f"no checkpoint covers the {size} entries after the restart (latest: {seen})")


def test_kill_9_loses_no_acknowledged_message(fresh_database: Database, servers: Any) -> None:
    sender = _prepare(fresh_database)
    url = fresh_database.engine.url.render_as_string(hide_password=False)
    fresh_database.dispose()
    skey, vkey = generate_key(ORIGIN)
    verifier = Ed25519Verifier.from_vkey(vkey)

    first = servers(url, skey)
    run = _load_then_kill(first, sender)
    acknowledged = list(run.acknowledged)
    assert len({a.id for a in acknowledged}) == len(acknowledged)

    size = _check_database_after_crash(fresh_database, sender, acknowledged)
    before = _checkpoint_note(fresh_database)
    fresh_database.dispose()

    second = servers(url, skey)
    _wait_for_checkpoint(second, verifier, size)
    with httpx.Client(timeout=30.0) as client:
        source = HttpSource(f"{second.base_url}/log", client=client)
        verified = verify_log(source, verifier, since=before)
    assert verified.entries >= size
    # Each sender's receipt, as the restarted log now proves it, verifies offline.
    with fresh_database.transaction(write=False) as session:
        cache = TileCache()
        for ack in acknowledged:
            index = ack.opening["index"]
            receipt = ledger_service.receipt(session, index=index, cache=cache)
            proven = verify_receipt(receipt, Opening.from_json(ack.opening).entry(), log=verifier)
            assert proven.index == index, ack.id
    fresh_database.dispose()
