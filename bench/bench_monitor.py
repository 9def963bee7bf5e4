"""``pouch monitor --once`` for an office with 10,000 messages, against a real ``pouch serve``.

    uv run python bench/bench_monitor.py [--messages N] [--backend sqlite|postgresql]
        [--workers N] [--concurrency C]

Goal (issue 14): ``--once`` finishes in at most 30 s for an office with 10,000
messages. Reference, in the same run and on the same log: ``pouch log verify``
(which rehashes every entry and compares every tile, and asks nothing else),
and the ratio between the two.

The database is loaded through the services, as the other benchmarks do
(``bench/_serve.py``): a sender office and the president-elect's office,
``N`` messages accepted (500 per transaction, ``acceptance.accept_many``) and
delivered by the deadline worker at the end of their triage window (each
message's ``accepted`` and ``delivered`` events carry the office's tag), a
principal with an API token, and the office's tag key rotated once by its
administrator (the key file the monitor reads). Then ``pouch serve`` runs
on it as its own process, publishes the log, and this process runs, as
subprocesses:

- ``pouch log verify --url …/log --vkey …`` (the reference);
- ``pouch monitor --office … --office-key … --once`` on an empty state: the
  catch-up, which opens every entry the office's tags find (the acceptances
  from the office's listing in one request, every other one on its own);
- 100 more messages accepted and delivered, then ``pouch monitor --once``
  again on that state: a poll as the monitor runs it every minute.

Each must exit 0 (the log is honest). Times are wall-clock.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, postgres_available, postgres_database, sqlite_database, table
from _serve import PouchServer, Sender, prepare
from pouch.clock import ManualClock, SystemClock
from pouch.db import Database
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.messages import acceptance, office_tags, worker
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence

GOAL_SECONDS = 30.0
BATCH = 500
LETTER = (
    "A Uachtaráin tofa, on behalf of the Government and people of Ireland I send you "
    "warm congratulations on your election. Our two nations share a long friendship. "
)


def load(database: Database, sender: Sender, count: int, *, start: int, at: datetime) -> None:
    """``count`` messages accepted at ``at``, then delivered at the end of triage."""
    limits = acceptance.Limits(max_attachment_bytes=1 << 20, max_attachments=5)
    for first in range(start, start + count, BATCH):
        batch = [
            acceptance.Acceptance(
                acceptance.Submission(
                    sender_office_id=sender.sender_office_id,
                    addressee_office_id=sender.addressee_office_id,
                    subject=f"Letter {n}",
                    body=LETTER,
                    body_format="text",
                    language="en",
                    precedence=Precedence.ROUTINE,
                    security_label=None,
                ),
                submitted_by_user_id=None,
            )
            for n in range(first, min(start + count, first + BATCH))
        ]
        with database.transaction() as session:
            acceptance.accept_many(
                session, batch, now=at, timetable=DEFAULT_TIMETABLE, limits=limits
            )
    triage_over = ManualClock(
        at + DEFAULT_TIMETABLE.triage[Precedence.ROUTINE] + timedelta(seconds=1)
    )
    worker.run_due_in_batches(database, clock=triage_over, batch=BATCH)


def office_party(database: Database, sender: Sender, home: Path) -> tuple[str, Path]:
    """The principal's API token, and the office's key file as its administrator keeps it."""
    now = SystemClock().now()
    office = sender.addressee_office_id
    with database.transaction() as session:
        users = {}
        for role in (Role.PRINCIPAL, Role.ADMINISTRATOR):
            user = identity_service.create_user(
                session,
                username=f"pe-{role.value}",
                display_name=role.value,
                password=secrets.token_urlsafe(24),
                email=None,
                now=now,
            )
            identity_service.grant_role(
                session, user_id=user.id, office_id=office, role=role, now=now
            )
            users[role] = user
        token, _ = identity_service.issue_token(
            session,
            user_id=users[Role.PRINCIPAL].id,
            office_id=office,
            role=Role.PRINCIPAL,
            name="monitor",
            now=now,
            lifetime=timedelta(days=1),
        )
        admin = identity_service.actor_for_user(session, users[Role.ADMINISTRATOR])
        rotation = office_tags.rotate_key(session, office_id=office, actor=admin, now=now)
    lines = []
    if rotation.previous is not None:
        key, first = rotation.previous
        lines.append(f"{first} {base64.b64encode(key).decode()}")
    lines.append(f"{rotation.from_counter} {base64.b64encode(rotation.key).decode()}")
    key_file = home / "tag-keys.txt"
    key_file.write_text("\n".join(lines) + "\n")
    return token, key_file


def wait_published(server: PouchServer, sequenced_at_least: int) -> int:
    """Until the server's checkpoint covers everything sequenced; returns its size."""
    deadline = time.monotonic() + 120
    while True:  # start-up and integration, not a business deadline
        info = httpx.get(f"{server.base_url}/api/log", timeout=10).json()
        if info["size"] >= sequenced_at_least and info["size"] == info["sequenced"]:
            return int(info["size"])
        if time.monotonic() > deadline:
            raise RuntimeError(f"the log was not published in 120 s: {info}")
        time.sleep(0.2)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:5])}… exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return elapsed, done.stdout.strip().splitlines()[-1]


@contextmanager
def backend_database(backend: str, home: Path) -> Iterator[tuple[Database, str]]:
    if backend == "sqlite":
        path = home / "pouch.sqlite3"
        database = sqlite_database(path)
        try:
            yield database, f"sqlite:///{path}"
        finally:
            database.dispose()
    else:
        with postgres_database() as database:
            yield database, database.engine.url.render_as_string(hide_password=False)


def run(backend: str, messages: int, workers: int, concurrency: int) -> list[object]:
    with tempfile.TemporaryDirectory(prefix="pouch-bench-monitor-") as tmp:
        home = Path(tmp)
        with backend_database(backend, home) as (database, url):
            sender = prepare(database)
            token, key_file = office_party(database, sender, home)
            started = time.perf_counter()
            load(database, sender, messages, start=0, at=SystemClock().now())
            loading = time.perf_counter() - started
            server = PouchServer(url, data_dir=home / "serve", workers=workers)
            vkey_file = home / "log.vkey"
            vkey_file.write_text(server.vkey + "\n")
            server.start(timeout=120)
            try:
                size = wait_published(server, 2 * messages)
                env = {k: v for k, v in os.environ.items() if not k.startswith("POUCH_")}
                env["COLUMNS"] = "300"  # one line per verdict
                verify, verified = timed(
                    [sys.executable, "-m", "pouch.cli", "log", "verify", "--url",
                     f"{server.base_url}/log", "--vkey", str(vkey_file)],
                    env,
                )  # fmt: skip
                monitor = [
                    sys.executable, "-m", "pouch.cli", "monitor", "--url", server.base_url,
                    "--vkey", str(vkey_file), "--state", str(home / "monitor"),
                    "--office", str(sender.addressee_office_id), "--token", token,
                    "--office-key", str(key_file), "--concurrency", str(concurrency), "--once",
                ]  # fmt: skip
                catch_up, first_line = timed(monitor, env)
                load(database, sender, 100, start=messages, at=SystemClock().now())
                wait_published(server, size + 200)
                poll, poll_line = timed(monitor, env)
            finally:
                server.stop()
    print(f"  load {messages} messages: {loading:.1f} s; log verify: {verified}")
    print(f"  monitor, first poll: {first_line}")
    print(f"  monitor, next poll:  {poll_line}")
    goal = "met" if catch_up <= GOAL_SECONDS else "NOT met"
    return [
        backend,
        f"{messages:,}",
        f"{size:,}",
        f"{verify:.1f} s",
        f"{catch_up:.1f} s",
        f"{catch_up / verify:.1f}",
        f"{poll:.1f} s",
        f"≤ {GOAL_SECONDS:.0f} s: {goal}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="pouch serve processes")
    parser.add_argument("--concurrency", type=int, default=8, help="openings asked at once")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.1f}")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = []
    for backend in backends:
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL is not available at 127.0.0.1:5432: skipped")
            continue
        print(f"{backend}:")
        rows.append(run(backend, args.messages, args.workers, args.concurrency))
    print()
    print(
        table(
            [
                "backend",
                "messages",
                "log entries",
                "pouch log verify",
                "monitor --once (first)",
                "ratio",
                "monitor --once (next, +100)",
                "goal (first)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
