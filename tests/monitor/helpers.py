"""A real Pouch over HTTP for the monitors, and the parties that watch it.

``Pouch`` is the application (``create_app``) served by uvicorn on a free port
of 127.0.0.1, in a thread, on a database of its own (SQLite or PostgreSQL),
with a clock the test moves; its background work is stopped (the test runs
the deadline worker and publishes checkpoints by hand), as after an operator
stopped it. ``Party`` is an office's or a sender's monitor: its token, the
tag keys its administrator was handed (``POST /api/offices/{id}/tag-key``,
written to a key file as the administrator would), its state directory; it
runs ``pouch monitor --once`` in-process through typer's CliRunner, with the
monitor's clock the test's.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from pouch.cli import app as cli
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import acceptance, worker
from pouch.messages import service as message_service
from pouch.messages.rules import Precedence
from tests.factories import World, make_token, make_user
from tests.messages.helpers import submit


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` on 127.0.0.1 in a background thread, with its lifespan; yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="none",
        http="h11",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # start-up, not a business deadline
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("Pouch did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@dataclass
class Pouch:
    url: str
    database: Database
    clock: ManualClock
    world: World
    app: FastAPI
    vkey_file: Path

    def publish(self) -> None:
        """What the log's integrator does every second: a checkpoint over everything."""
        self.app.state.ledger.integrate_now()

    def submit(self, **kwargs: Any) -> acceptance.Accepted:
        return submit(self.database, self.clock, self.world, **kwargs)

    def route(self, public_id: str) -> None:
        """A watch officer delivers the message now."""
        with self.database.transaction() as session:
            message_service.route(
                session,
                public_id=public_id,
                actor_user_id=self.world.users[Role.WATCH_OFFICER].id,
                now=self.clock.now(),
            )

    def run_worker(self) -> worker.Done:
        """One pass of the deadline worker (which the operator otherwise stopped)."""
        return worker.run_due_in_batches(self.database, clock=self.clock)

    def office_id(self, slug: str) -> int:
        return self.world.offices[slug].id


@dataclass
class Party:
    """An office's monitor on its own machine."""

    pouch: Pouch
    flag: str  # --office or --sender
    office_id: int
    token: str
    admin: dict[str, str]
    state: Path
    key_file: Path
    extra: list[str] = field(default_factory=list)
    keys: bool = True  # whether it walks the log with its tag keys (--office-key)
    named: str | None = None  # the office as given after the flag (its id when None)

    def rotate(self, *, keep: bool = True) -> str:
        """The office's administrator asks for a new tag key and (``keep``) adds it to the
        key file; returns the lines it got."""
        answer = httpx.post(
            f"{self.pouch.url}/api/offices/{self.office_id}/tag-key", headers=self.admin
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        lines = ""
        if body["previous"] is not None:
            lines += f"{body['previous']['from_counter']} {body['previous']['key']}\n"
        lines += f"{body['from_counter']} {body['key']}\n"
        if keep:
            self.add_keys(lines)
        return lines

    def add_keys(self, lines: str) -> None:
        held = self.key_file.read_text() if self.key_file.exists() else ""
        self.key_file.write_text(held + lines)

    def args(self, *extra: str) -> list[str]:
        return [
            "monitor",
            "--url",
            self.pouch.url,
            "--vkey",
            str(self.pouch.vkey_file),
            "--state",
            str(self.state),
            self.flag,
            self.named or str(self.office_id),
            "--token",
            self.token,
            *(["--office-key", str(self.key_file)] if self.keys else []),
            *self.extra,
            *extra,
        ]

    def poll(self, *extra: str) -> Result:
        """``pouch monitor … --once``, in this process, with the test's clock."""
        return run_monitor(self.pouch.clock, self.args("--once", *extra))

    def state_files(self) -> dict[str, str]:
        """What the monitor keeps of the log and the office (not its alarms)."""
        return {
            name: hashlib.sha256((self.state / name).read_bytes()).hexdigest()
            for name in ("state.json", "checkpoint", "leaves")
            if (self.state / name).exists()
        }


@dataclass(frozen=True)
class Result:
    code: int
    output: str

    def kinds(self) -> list[str]:
        return [
            line.split(":", 1)[0].removeprefix("ALARM ")
            for line in self.output.splitlines()
            if line.startswith("ALARM ")
        ]


def run_monitor(clock: ManualClock, args: list[str], env: dict[str, str] | None = None) -> Result:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pouch.monitor.cli.CLOCK", clock)
        result = CliRunner().invoke(cli, args, env={"COLUMNS": "300", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.output)


def party(
    pouch: Pouch, tmp: Path, slug: str, role: Role, flag: str, token: str, *, by_slug: bool = False
) -> Party:
    """An administrator for the office ``slug`` (who gets its tag keys) and its monitor,
    which uses ``token``."""
    office = pouch.world.offices[slug]
    with pouch.database.transaction() as session:
        admin = make_user(session, pouch.clock, f"{slug}-admin", [(Role.ADMINISTRATOR, office)])
        admin_token = make_token(session, pouch.clock, admin, Role.ADMINISTRATOR, office)
    home = tmp / f"{slug}-monitor"
    home.mkdir()
    return Party(
        pouch=pouch,
        flag=flag,
        office_id=office.id,
        token=token,
        admin={"Authorization": f"Bearer {admin_token}"},
        state=home / "state",
        key_file=home / "tag-keys.txt",
        named=slug if by_slug else None,
    )


def letter(n: int) -> dict[str, Any]:
    return {
        "subject": f"Letter {n}",
        "body": f"Dear President-elect, letter {n}.",
        "precedence": Precedence.ROUTINE,
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
