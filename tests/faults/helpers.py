"""Real processes and real servers for the fault tests: `pouch serve` and the
`pouch` command as subprocesses, a private PostgreSQL server, a tmpfs, webhook
receivers and a tarpit.

Nothing here sleeps for one of Pouch's deadlines: ``eventually`` polls for a
condition under a generous overall timeout. What a test needs and cannot have
(root, PostgreSQL's binaries) fails it with a message saying so; it never skips.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from pouch.clock import SystemClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key, sign_request
from pouch.ledger.events import Opening
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.messages import destinations, notify
from tests.factories import make_office, make_token, make_user

PROBLEM_JSON = "application/problem+json"
#: Start-up and set-up only (a loaded two-core CI machine is slow); never a deadline of Pouch's.
START_TIMEOUT = 120.0

T = TypeVar("T")


def eventually(
    condition: Callable[[], T],
    *,
    what: str,
    timeout: float = 60.0,
    explain: Callable[[], str] | None = None,
) -> T:
    """``condition()`` once it is truthy, polled; the test fails naming ``what`` after
    ``timeout`` seconds, with what ``explain`` says of the last try."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            pytest.fail(f"{what}: not within {timeout:.0f} s{detail}")
        time.sleep(0.05)


def need_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.fail(
            f"{what} needs root (CI runs the suite as root); run the fault tests as root",
            pytrace=False,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the `pouch` command and `pouch serve` ------------------------------------------------


def environment(*, database_url: str, data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of a `pouch` process: this one's, with no POUCH_* of its own, and
    the given settings (``notify_lease="PT3S"`` is POUCH_NOTIFY_LEASE)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("POUCH_")}
    env |= {
        "POUCH_DATABASE_URL": database_url,
        "POUCH_DATA_DIR": str(data_dir),
        "POUCH_HOST": "127.0.0.1",
        "POUCH_PORT": str(port),
        "POUCH_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # The background loops go round often and the worker delivers a FLASH message
        # as soon as it is accepted, so that notices fall due within a test.
        "POUCH_WORKER_INTERVAL": "PT0.2S",
        "POUCH_LOG_INTEGRATE_INTERVAL": "PT0.2S",
        "POUCH_TRIAGE_FLASH": "PT0S",
        # Webhooks on this machine, over plain http.
        "POUCH_NOTIFY_ALLOW_HTTP": "true",
        "POUCH_NOTIFY_ALLOW_PRIVATE": "true",
        # No language models loaded: they are not under test and cost memory and CPU.
        "POUCH_LANGUAGE_IN_PROCESS": "false",
    }
    env |= {f"POUCH_{name.upper()}": value for name, value in settings.items()}
    return env


def pouch(*args: str, env: dict[str, str], cwd: Path) -> str:
    """Run the `pouch` command; its standard output, or the test fails with all it said."""
    done = subprocess.run(
        [sys.executable, "-m", "pouch.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    if done.returncode != 0:
        pytest.fail(f"pouch {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


class Served:
    """`pouch serve` in a process of its own; what it prints goes to ``log``."""

    def __init__(self, env: dict[str, str], *, workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{env['POUCH_PORT']}"
        self.log = workdir / f"serve-{env['POUCH_PORT']}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
        return self.launch().ready()

    def launch(self) -> Served:
        """The process started; ``ready`` waits for it to answer (start several, then
        wait for each: each takes seconds to import and migrate)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pouch.cli", "serve"],
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def ready(self) -> Served:
        process = self.process
        assert process is not None, "launch() first"

        def answers() -> bool:
            if process.poll() is not None:
                pytest.fail(f"pouch serve exited {process.returncode}:\n{self.output()}")
            # Its own port: another test's server may have taken the port picked for this
            # one, and would answer /healthz too; uvicorn says so only once it has bound it.
            if "Uvicorn running on" not in self.output():
                return False
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        eventually(answers, what="pouch serve answering /healthz", timeout=START_TIMEOUT)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9: no shutdown, no clean-up, no last words."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def output(self) -> str:
        """The end of what the server printed, for a failing test's message."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-6000:]

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


# -- the directory the tests submit in ----------------------------------------------------


@dataclass(frozen=True)
class Office:
    """A foreign office, with its sender's API token and its signing key."""

    id: int
    slug: str
    token: str
    key_id: str
    seed: bytes


@dataclass
class Seeded:
    principal: int  # the office every test message is addressed to
    auditor_token: str  # reads GET /api/outbox
    offices: dict[str, Office] = field(default_factory=dict)


COUNTRIES = ["IE", "FR", "DE", "IT", "ES", "PT", "NL", "BE", "AT", "DK"]


def seed(database_url: str, *, webhooks: dict[str, str | None]) -> Seeded:
    """Into a migrated database, through Pouch's services: the operations office with an
    auditor, the principal's office, and a foreign office per key of ``webhooks`` with a
    sender, a registered signing key and that webhook (or none)."""
    clock = SystemClock()
    database = Database.from_url(database_url)
    local = destinations.Policy(allow_http=True, allow_private=True)
    try:
        with database.transaction() as session:
            ops = make_office(session, clock, "ops", OfficeKind.OPERATIONS, "US")
            principal = make_office(session, clock, "president-elect", OfficeKind.PRINCIPAL, "US")
            auditor = make_user(session, clock, "auditor", [(Role.AUDITOR, ops)])
            seeded = Seeded(
                principal=principal.id,
                auditor_token=make_token(session, clock, auditor, Role.AUDITOR, ops),
            )
            for number, (slug, webhook) in enumerate(webhooks.items()):
                office = make_office(
                    session, clock, slug, OfficeKind.FOREIGN, COUNTRIES[number % len(COUNTRIES)]
                )
                sender = make_user(session, clock, f"sender-{slug}", [(Role.SENDER, office)])
                key_id = f"{slug}-2026"
                private, public = generate_sender_key(key_id)
                intake_service.register_key(
                    session, office_id=office.id, key_id=key_id, public_key=public, now=clock.now()
                )
                if webhook is not None:
                    notify.set_endpoint(
                        session, office_id=office.id, webhook_url=webhook, email=None, policy=local
                    )
                seeded.offices[slug] = Office(
                    id=office.id,
                    slug=slug,
                    token=make_token(session, clock, sender, Role.SENDER, office),
                    key_id=key_id,
                    seed=private,
                )
    finally:
        database.dispose()
    return seeded


def submit(
    client: httpx.Client,
    url: str,
    office: Office,
    *,
    to: int,
    subject: str,
    body: str = "With warm congratulations on your election.",
    idempotency_key: str | None = None,
) -> httpx.Response:
    """A FLASH message signed by ``office`` (RFC 9421), as a sender office's program sends it."""
    content = json.dumps(
        {
            "sender_office_id": office.id,
            "addressee_office_id": to,
            "subject": subject,
            "body": body,
            "precedence": "FLASH",
        }
    ).encode()
    target = f"{url}/api/messages"
    headers = {**bearer(office.token), "Content-Type": "application/json"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    headers |= sign_request(
        method="POST",
        url=target,
        headers=headers,
        body=content,
        key_id=office.key_id,
        private_key=office.seed,
    )
    return client.post(target, content=content, headers=headers, timeout=60)


def refusal(response: httpx.Response) -> str | None:
    """Why ``response`` is not a clear 503 problem document with a Retry-After; None when it is."""
    if response.status_code != 503:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    if response.headers.get("content-type") != PROBLEM_JSON:
        return f"503 as {response.headers.get('content-type')}: {response.text[:300]}"
    retry_after = response.headers.get("retry-after", "")
    if not retry_after.isdigit() or int(retry_after) < 1:
        return f"503 with Retry-After {retry_after!r}"
    return None


def problem_type(response: httpx.Response) -> str:
    kind: str = response.json()["type"]
    return kind


# -- what must hold afterwards ------------------------------------------------------------


def verifier_key(env: dict[str, str], *, workdir: Path) -> str:
    return pouch("keys", "show", env=env, cwd=workdir).strip()


def verify_log(env: dict[str, str], url: str, *, workdir: Path) -> str:
    """`pouch log verify` over HTTP: the signature, every tile from the entries, the root."""
    vkey = verifier_key(env, workdir=workdir)
    return pouch("log", "verify", "--url", f"{url}/log", "--vkey", vkey, env=env, cwd=workdir)


def stored_and_logged(
    client: httpx.Client, url: str, office: Office, accepted: dict[str, Any], *, vkey: str
) -> None:
    """The accepted message is there, and its ``accepted`` event is in the log: its
    receipt proves the entry under a checkpoint the log's key signed."""
    public_id = accepted["id"]
    shown = client.get(f"{url}/api/messages/{public_id}", headers=bearer(office.token))
    assert shown.status_code == 200, f"{public_id} accepted, then: {shown.text}"
    opening = Opening.from_json(accepted["receipt"]["opening"])

    def proof() -> str | None:
        answer = client.get(
            f"{url}/api/messages/{public_id}/events/{opening.index}/receipt",
            headers=bearer(office.token),
        )
        assert answer.status_code == 200, answer.text
        found: str | None = answer.json()["receipt"]
        return found

    receipt = eventually(proof, what=f"a checkpoint covering {public_id}'s acceptance")
    assert receipt is not None
    verified = verify_receipt(
        receipt.encode(), opening.entry(), log=Ed25519Verifier.from_vkey(vkey)
    )
    assert verified.index == opening.index


# -- a private PostgreSQL server ----------------------------------------------------------


def _postgres_binaries() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "PostgreSQL's server binaries are not installed (no /usr/lib/postgresql/*/bin/"
            "initdb): apt-get install postgresql",
            pytrace=False,
        )
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("no `postgres` OS user to run PostgreSQL as", pytrace=False)
    return found[-1].parent


class Postgres:
    """A PostgreSQL server of the test's own: initdb into a directory of its own (as the
    ``postgres`` OS user), trust authentication, a free port, its socket beside its data."""

    def __init__(self) -> None:
        need_root("a private PostgreSQL server (initdb and pg_ctl as the postgres user)")
        self.bin = _postgres_binaries()
        # Not under pytest's tmp_path, which only root may enter.
        self.root = Path(tempfile.mkdtemp(prefix="pouch-pg-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self.server_log = self.root / "server.log"
        self._as_postgres(
            self.bin / "initdb",
            "--pgdata",
            str(self.data),
            "--auth",
            "trust",
            "--username",
            "postgres",
            "--encoding",
            "UTF8",
            "--no-sync",
        )

    def _as_postgres(self, *command: str | Path) -> str:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, command)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        if done.returncode != 0:
            log = self.server_log.read_text() if self.server_log.exists() else ""
            pytest.fail(f"{command[0]} exited {done.returncode}:\n{done.stdout}{done.stderr}{log}")
        return done.stdout

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            self.bin / "pg_ctl",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.server_log),
            "--options",
            options,
            "--wait",
            "--timeout",
            str(int(START_TIMEOUT)),
            "start",
        )

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: every session is ended, nothing waits for clients."""
        self._as_postgres(
            self.bin / "pg_ctl", "--pgdata", str(self.data), "--mode", "fast", "--wait", "stop"
        )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# -- a small disk -------------------------------------------------------------------------


@contextmanager
def tmpfs(where: Path, *, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` for the block; unmounted after it."""
    need_root("mounting a tmpfs")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs at {where}: {mounted.stderr}", pytrace=False)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True, timeout=60)


def fill(disk: Path) -> Path:
    """A file that takes every free byte of ``disk``."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1):
            block = bytes(size)
            while True:
                try:
                    os.write(descriptor, block)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(descriptor)
    assert shutil.disk_usage(disk).free == 0
    return filler


# -- webhook receivers --------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One request a receiver was sent: its Idempotency-Key and its body."""

    key: str
    body: dict[str, Any]


class Receiver:
    """A webhook receiver that records every request as it arrives and answers 204, or,
    while closed, holds each request unanswered until ``release()``."""

    def __init__(self, *, hold: bool = False) -> None:
        self.arrivals: list[Arrival] = []
        self.holding = 0  # requests waiting for an answer now
        self._lock = threading.Lock()
        self._open = threading.Event()
        if not hold:
            self._open.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.arrivals.append(Arrival(self.headers["Idempotency-Key"], body))
                    receiver.holding += 1
                try:
                    receiver._open.wait(120)
                finally:
                    with receiver._lock:
                        receiver.holding -= 1
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (killed): nobody to answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Answer what is held, and everything from now on at once."""
        self._open.set()

    def received(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def close(self) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass
class Connection:
    opened: float  # time.monotonic()
    closed: float | None = None


class Tarpit:
    """Accepts connections, reads what it is sent, and never answers; remembers when each
    connection opened and when its peer closed it."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                peer, _ = self._listener.accept()
            except TimeoutError:
                continue
            connection = Connection(opened=time.monotonic())
            with self._lock:
                self.connections.append(connection)
                self._sockets.append(peer)
            thread = threading.Thread(target=self._drain, args=(peer, connection), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _drain(self, peer: socket.socket, connection: Connection) -> None:
        try:
            while peer.recv(65536):
                pass
        except OSError:
            pass
        connection.closed = time.monotonic()

    def open_now(self) -> int:
        with self._lock:
            return sum(1 for c in self.connections if c.closed is None)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            for peer in self._sockets:
                with suppress(OSError):
                    peer.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=30)
        for peer in self._sockets:
            peer.close()
        self._listener.close()

    def __enter__(self) -> Tarpit:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
