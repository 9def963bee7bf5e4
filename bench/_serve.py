"""A real ``pouch serve`` for benchmarks: a prepared database, a subprocess, its CPU time.

Not a benchmark itself (``make bench`` runs only ``bench_*.py``).

``prepare(database)`` writes, in one transaction and through the services, what
a sender needs to submit: a foreign (sender) office, a principal's office, a
user holding the ``sender`` role with an API token, and a registered Ed25519
key. ``PouchServer`` then runs ``python -m pouch.cli serve`` on that database
as its own process, configured only by ``POUCH_*`` environment variables, and
waits for ``/readyz``.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy.orm import Session

from pouch.clock import SystemClock
from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.directory.models import OfficeKind
from pouch.directory.schemas import OfficeIn
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.messages import destinations, notify

ORIGIN = "bench.pouch.example/log"


@dataclass(frozen=True)
class Sender:
    """What a sender office's program holds: its token, its key, the office ids."""

    token: str
    key_id: str
    seed: bytes
    sender_office_id: int
    addressee_office_id: int


def _sender(
    session: Session, *, slug: str, name: str, country: str, addressee_office_id: int, now: datetime
) -> Sender:
    office = directory_service.create_office(
        session,
        data=OfficeIn(slug=slug, name=name, kind=OfficeKind.FOREIGN, country_code=country),
        now=now,
    )
    user = identity_service.create_user(
        session,
        username=f"{slug}-sender",
        display_name=f"{name}, sender",
        password=secrets.token_urlsafe(24),  # never used: the sender has a token
        email=None,
        now=now,
    )
    identity_service.grant_role(
        session, user_id=user.id, office_id=office.id, role=Role.SENDER, now=now
    )
    token, _ = identity_service.issue_token(
        session,
        user_id=user.id,
        office_id=office.id,
        role=Role.SENDER,
        name="bench",
        now=now,
        lifetime=timedelta(days=1),
    )
    key_id = f"{slug}-bench-2026"
    seed, public = generate_sender_key(key_id)
    intake_service.register_key(
        session, office_id=office.id, key_id=key_id, public_key=public, now=now
    )
    return Sender(token, key_id, seed, office.id, addressee_office_id)


def prepare(database: Database) -> Sender:
    """Offices, a sender user with an API token, and its registered key (one transaction).

    ``database`` must be migrated already.
    """
    now = SystemClock().now()
    with database.transaction() as session:
        principal = directory_service.create_office(
            session,
            data=OfficeIn(
                slug="president-elect",
                name="Office of the President-elect",
                kind=OfficeKind.PRINCIPAL,
                country_code="US",
            ),
            now=now,
        )
        return _sender(
            session,
            slug="ie-taoiseach",
            name="Department of the Taoiseach",
            country="IE",
            addressee_office_id=principal.id,
            now=now,
        )


#: The sender offices of ``more_senders``, in turn.
OTHER_SENDERS = (
    ("fr-elysee", "Palais de l'Élysée", "FR"),
    ("de-kanzleramt", "Bundeskanzleramt", "DE"),
    ("jp-kantei", "Prime Minister's Office of Japan", "JP"),
    ("br-planalto", "Palácio do Planalto", "BR"),
    ("ke-statehouse", "State House Kenya", "KE"),
)


def more_senders(database: Database, count: int, *, addressee_office_id: int) -> list[Sender]:
    """``count`` more sender offices (at most five), each with its user, token and key."""
    now = SystemClock().now()
    with database.transaction() as session:
        return [
            _sender(
                session,
                slug=slug,
                name=name,
                country=country,
                addressee_office_id=addressee_office_id,
                now=now,
            )
            for slug, name, country in OTHER_SENDERS[:count]
        ]


def set_webhooks(database: Database, office_ids: list[int], url: str | None) -> None:
    """Point the offices' webhooks at ``url`` (None: no webhook), as their administrators
    would; the notices still waiting go there too."""
    anywhere = destinations.Policy(allow_http=True, allow_private=True)
    with database.transaction() as session:
        for office_id in office_ids:
            notify.set_endpoint(
                session, office_id=office_id, webhook_url=url, email=None, policy=anywhere
            )


class Tarpit:
    """A webhook receiver that never answers: it accepts each connection and holds it
    open, reading nothing and writing nothing, until it is closed."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/pouch-webhook"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, name="tarpit", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


class Sink:
    """A webhook receiver that answers every notice at once (204): the reference the
    tarpit is compared with, the same notices sent, none of them held."""

    def __init__(self) -> None:
        class Answer(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pouch-webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, name="sink", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _clock_ticks(pid: int) -> int:
    # /proc/<pid>/stat: utime and stime are fields 14 and 15 (after the
    # parenthesised command name, which may contain spaces).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants that are alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return [p for p in found if Path(f"/proc/{p}/stat").exists()]


def _ticks_or_zero(pid: int) -> int:
    try:
        return _clock_ticks(pid)
    except OSError:
        return 0


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which is counted in user already
    return total - idle, total


TICKS = os.sysconf("SC_CLK_TCK")


class PouchServer:
    """``python -m pouch.cli serve`` on ``database_url``, as its own process (session).

    Its output goes to ``log``; ``tail()`` shows the end of it when something fails.
    """

    def __init__(
        self,
        database_url: str,
        *,
        data_dir: Path,
        port: int | None = None,
        language_process: bool = False,
        workers: int = 1,
        settings: dict[str, str] | None = None,
        skey: str | None = None,
    ) -> None:
        self.database_url = database_url
        self.settings = settings or {}
        self.workers = workers
        self.language_process = language_process
        self.language: subprocess.Popen[bytes] | None = None
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"serve-{self.port}.log"
        # A log keeps its key: a second server on the same database is given the first's.
        if skey is None:
            self.skey, self.vkey = generate_key(ORIGIN)
        else:
            self.skey, self.vkey = skey, Ed25519Signer.from_skey(skey).verifier.vkey
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POUCH_")}
        env.update(
            POUCH_DATABASE_URL=self.database_url,
            POUCH_PORT=str(self.port),
            POUCH_PUBLIC_URL=self.base_url,
            POUCH_DATA_DIR=str(self.data_dir),
            POUCH_LOG_ORIGIN=ORIGIN,
            POUCH_LOG_SIGNING_KEY=self.skey,
        )
        if self.language_process:
            env["POUCH_LANGUAGE_IN_PROCESS"] = "false"
        env.update(self.settings)
        return env

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def start(self, *, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            # The data directory as working directory: no stray .env is read.
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pouch.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                env=self.environment(),
                cwd=self.data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(timeout)
        if self.language_process:
            # The language desk as production runs it under load: its own process,
            # at the lowest priority (it never delays acceptance; it catches up).
            with self.log.open("ab") as log:
                self.language = subprocess.Popen(
                    ["nice", "-n", "19", sys.executable, "-m", "pouch.cli", "language", "work"],
                    env=self.environment(),
                    cwd=self.data_dir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            # With autogroup scheduling (Linux's default) a process's nice value
            # counts only within its session; the session's own weight is set here.
            with contextlib.suppress(OSError):
                Path(f"/proc/{self.language.pid}/autogroup").write_text("19")

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        said = ""
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(
                        f"pouch serve exited ({self.process.returncode}):\n{self.tail()}"
                    )
                try:
                    ready = client.get(f"{self.base_url}/readyz")
                    if ready.status_code == 200:
                        return
                    said = ready.text
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"pouch serve not ready after {timeout} s ({said}):\n{self.tail()}"
                    )
                time.sleep(0.05)  # polling for start-up

    def processes(self) -> list[int]:
        """The server's process ids: the supervisor and its workers, when it has some."""
        return _process_tree(self.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server's processes so far (with workers,
        the supervisor and its worker processes)."""
        return sum(_ticks_or_zero(pid) for pid in _process_tree(self.pid)) / TICKS

    def language_cpu_seconds(self) -> float:
        """CPU time of the language desk's own process so far (0 when it runs inside)."""
        return _clock_ticks(self.language.pid) / TICKS if self.language is not None else 0.0

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM), or kill after ten seconds."""
        if self.language is not None:
            self.language.send_signal(signal.SIGTERM)
            try:
                self.language.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.language.kill()
                self.language.wait()
            self.language = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def exited(self) -> int | None:
        """The exit status when the server has died, else None."""
        return None if self.process is None else self.process.poll()

    def logged_exceptions(self) -> Counter[str]:
        """The exceptions in the log's tracebacks, by their last line."""
        try:
            log = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return Counter()
        found: Counter[str] = Counter()
        in_traceback = False
        for line in log:
            if line.startswith("Traceback"):
                in_traceback = True
            elif (
                in_traceback
                and line
                and not line[0].isspace()
                and not line.startswith(("The above exception", "During handling"))
            ):
                found[line[:160]] += 1
                in_traceback = False
        return found

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> PouchServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
