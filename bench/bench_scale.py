"""A year of data: what the growing lists cost at 10k, 100k and 1M messages, on both backends.

    uv run python bench/bench_scale.py [--sizes 10000,100000 (the default),1000000]
        [--backend sqlite,postgresql] [--requests 200] [--cache DIR]

For each size a database is filled with a year of traffic (``load_year.py``:
the principal's office and 200 foreign offices, every state, replies, holds,
translations, about four log entries a message) or, with ``--cache``, the one
loaded before is reused (SQLite files in DIR; PostgreSQL databases named
``pouch_year_<size>``, kept). Then, through HTTP on a real ``pouch serve``:

- the pages people keep open, as HTML with an API token: the watch floor
  (``/watch``, a watch officer), a sender office's tracking list (``/track``,
  its reader) and a message's page (``/track/{id}``, a different message of
  that office each time); the principal's inbox in its order, unread first
  (``/api/messages?sort=unread``, a member of staff: the list the ``/inbox``
  page shows), the message's status (``/api/messages/{id}/status``), and the
  principal's ledger a page at a time from a random sequence number
  (``/api/offices/{id}/ledger?after=&limit=100``): p50 and p95 over
  ``--requests`` requests each; the ``/inbox`` page itself once (it checks
  the office's whole sequence on each load: it grows with the office);
- ``pouch office check`` of the principal's office (the largest);
- ``pouch log verify`` of the whole log: its time and peak memory, beside the
  SHA-256 ceiling (hashing the same leaves and interior nodes with hashlib,
  in this process: the least a verifier must do);
- the integrator's latency: a message acknowledged through the API, then the
  time until ``/log/checkpoint`` covers its event (p50 of five);
- the database's size per message and the server's memory (RSS) at the end.

The goal (issue 19): each p95 ≤ 50 ms, and growing by less than 2× from the
smallest size to the largest; the growth is printed last, per backend.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_year
from _common import POSTGRES, machine, percentile, postgres_available, table, vm_rss_mb
from _serve import PouchServer
from pouch import migrations
from pouch.db import Database
from pouch.identity import service as identity_service
from pouch.identity.models import Role, User
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.messages.models import Message, MessageState

GOAL_MS = 50.0
GOAL_GROWTH = 2.0
LISTS = ("watch floor", "inbox", "tracking", "message", "status", "office ledger")


@dataclass
class Figures:
    size: int
    load_seconds: float | None  # None: reused from the cache
    timings: dict[str, list[float]] = field(default_factory=dict)
    office_check: float = 0.0
    office_messages: int = 0
    verify_seconds: float = 0.0
    verify_mib: float = 0.0
    entries: int = 0
    sha256_seconds: float = 0.0
    integrator_ms: float = 0.0
    bytes_per_message: float = 0.0
    server_rss_mib: float = 0.0
    inbox_page_ms: float = 0.0


@dataclass(frozen=True)
class Readers:
    """The tokens and ids the requests need."""

    watch: str
    staff: str
    sender: str
    principal: int
    sender_office: int
    tracked: list[str]  # the sender office's messages, to open one by one
    deliverable: list[str]  # delivered to the principal, not acknowledged yet
    highest_sequence: int


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True, connect_timeout=3
    )


@contextmanager
def year_database(
    backend: str, size: int, cache: Path | None, scratch: Path
) -> Iterator[tuple[Database, str, float | None]]:
    """A database holding a year of ``size`` messages, its signing key, and the
    seconds its load took (None when reused from the cache)."""
    key_file = (cache or scratch) / f"{backend}-year-{size}.skey"
    if backend == "sqlite":
        path = (cache or scratch) / f"year-{size}.db"
        url = f"sqlite:///{path}"
        reuse = cache is not None and path.exists() and key_file.exists()
        if not reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        name = f"pouch_year_{size}" if cache is not None else f"pouch_scale_{secrets.token_hex(4)}"
        url = make_url(POSTGRES).set(database=name).render_as_string(False)
        with admin() as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            reuse = cache is not None and exists is not None and key_file.exists()
            if not reuse:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{name}"')
    database = Database.from_url(url)
    try:
        seconds: float | None = None
        if not reuse:
            migrations.upgrade(database)
            skey, _ = generate_key(load_year.ORIGIN)
            loaded = load_year.load(
                database,
                messages=size,
                offices=200,
                signer=Ed25519Signer.from_skey(skey),
                progress=lambda line: print(f"  {backend}{line}", flush=True),
            )
            seconds = loaded.seconds
            print(
                f"  {backend}: {size:,} messages, {loaded.entries:,} log entries loaded in "
                f"{seconds:.0f} s ({size / seconds:,.0f} messages/s, "
                f"{loaded.entries / seconds:,.0f} entries/s)",
                flush=True,
            )
            key_file.write_text(skey)  # written last: its presence marks a whole load
        yield database, key_file.read_text().strip(), seconds
    finally:
        database.dispose()
        if backend == "postgresql" and cache is None:
            with admin() as connection:
                name = make_url(url).database
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def readers(database: Database, rng: random.Random) -> Readers:
    """Tokens for a watch officer, a member of the principal's staff and the busiest
    sender office's reader; the messages they open."""
    now = datetime.now(UTC)
    with database.transaction() as session:

        def token(username: str, role: Role) -> tuple[str, int]:
            user = session.scalars(select(User).where(User.username == username)).one()
            office_id = next(m.office_id for m in user.memberships if m.role == role)
            secret, _ = identity_service.issue_token(
                session,
                user_id=user.id,
                office_id=office_id,
                role=role,
                name="bench",
                now=now,
                lifetime=timedelta(hours=6),
            )
            return secret, office_id

        watch, _ = token("watch-1", Role.WATCH_OFFICER)
        staff, principal = token("staff-0", Role.PRINCIPAL_STAFF)
        busiest = session.scalars(
            select(User.username).where(User.username.like("reader-%")).order_by(User.id)
        ).first()
        assert busiest is not None
        sender, sender_office = token(busiest, Role.SENDER)
        tracked = list(
            session.scalars(
                select(Message.public_id).where(Message.sender_office_id == sender_office)
            )
        )
        deliverable = list(
            session.scalars(
                select(Message.public_id)
                .where(
                    Message.addressee_office_id == principal,
                    Message.state == MessageState.DELIVERED,
                )
                .limit(50)
            )
        )
        highest = session.scalar(
            select(Message.office_sequence)
            .where(Message.addressee_office_id == principal)
            .order_by(Message.office_sequence.desc())
            .limit(1)
        )
    return Readers(
        watch=watch,
        staff=staff,
        sender=sender,
        principal=principal,
        sender_office=sender_office,
        tracked=rng.sample(tracked, min(len(tracked), 500)),
        deliverable=deliverable,
        highest_sequence=int(highest or 0),
    )


def requests_of(who: Readers, count: int, rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """(token, path) of each request of each list, ``count`` of them."""
    pages = [rng.randint(0, max(0, who.highest_sequence - 100)) for _ in range(count)]
    messages = [who.tracked[i % len(who.tracked)] for i in range(count)]
    return {
        "watch floor": [(who.watch, "/watch")] * count,
        "inbox": [(who.staff, "/api/messages?sort=unread")] * count,
        "tracking": [(who.sender, "/track")] * count,
        "message": [(who.sender, f"/track/{m}") for m in messages],
        "status": [(who.sender, f"/api/messages/{m}/status") for m in messages],
        "office ledger": [
            (who.staff, f"/api/offices/{who.principal}/ledger?after={after}&limit=100")
            for after in pages
        ],
    }


def measure_lists(
    base_url: str, who: Readers, count: int, rng: random.Random
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for name, requests in requests_of(who, count, rng).items():
            for token, path in requests[:5]:  # warm
                client.get(path, headers={"Authorization": f"Bearer {token}"}).raise_for_status()
            spent = []
            for token, path in requests:
                started = time.perf_counter()
                answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
                spent.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
            timings[name] = spent
    return timings


def inbox_page(base_url: str, who: Readers) -> float:
    """Milliseconds of one ``/inbox`` page (the second: the first warms the caches)."""
    headers = {"Authorization": f"Bearer {who.staff}"}
    with httpx.Client(base_url=base_url, timeout=600) as client:
        client.get("/inbox", headers=headers).raise_for_status()
        started = time.perf_counter()
        client.get("/inbox", headers=headers).raise_for_status()
        return (time.perf_counter() - started) * 1000


def cli(*arguments: str) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, output) of one ``pouch`` command, as its own process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("POUCH_")},
    )
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"pouch {' '.join(arguments[:2])} failed:\n{output[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, output.strip()


def sha256_ceiling(entries: int) -> float:
    """Seconds to hash ``entries`` leaves (85 bytes, as Pouch's) and the tree's interior
    nodes with hashlib: what verifying the log cannot do faster."""
    leaf = b"\x00" + os.urandom(85)
    node = b"\x01" + os.urandom(64)
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for _ in range(entries):
        sha256(leaf).digest()
    for _ in range(max(0, entries - 1)):
        sha256(node).digest()
    return time.perf_counter() - started


def checkpoint_size(client: httpx.Client) -> int:
    return int(client.get("/log/checkpoint").text.splitlines()[1])


def integrator_latency(base_url: str, who: Readers) -> float:
    """Milliseconds from an acknowledgement's request to a checkpoint that covers its
    event (p50 of five)."""
    spent = []
    headers = {"Authorization": f"Bearer {who.staff}"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for public_id in who.deliverable[:5]:
            started = time.perf_counter()
            client.post(
                f"/api/messages/{public_id}/acknowledge", headers=headers
            ).raise_for_status()
            status = client.get(f"/api/messages/{public_id}/status", headers=headers).json()
            index = max(event["ledger_index"] for event in status["events"])
            while checkpoint_size(client) <= index:
                time.sleep(0.005)  # polling the published checkpoint
            spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent) if spent else float("nan")


def measure(backend: str, size: int, args: argparse.Namespace, scratch: Path) -> Figures:
    rng = random.Random(size)
    with year_database(backend, size, args.cache, scratch) as (database, skey, seconds):
        figures = Figures(size, seconds)
        who = readers(database, rng)
        url = database.engine.url.render_as_string(hide_password=False)
        data_dir = scratch / f"{backend}-{size}"
        with PouchServer(url, data_dir=data_dir, skey=skey) as server:
            vkey = server.vkey
            figures.timings = measure_lists(server.base_url, who, args.requests, rng)
            figures.inbox_page_ms = inbox_page(server.base_url, who)
            figures.integrator_ms = integrator_latency(server.base_url, who)
            try:
                figures.office_check, _, said = cli(
                    "office", "check", "--office", str(who.principal), "--vkey", vkey,
                    "--url", server.base_url, "--token", who.staff,
                )  # fmt: skip
                figures.office_messages = int(said.split()[0])
            except RuntimeError as failure:  # said in the table; the other figures stand
                figures.office_check = float("nan")
                print(f"  {backend} {size:,}: {failure}\n{server.tail(20)}", flush=True)
            figures.verify_seconds, figures.verify_mib, said = cli(
                "log", "verify", "--url", f"{server.base_url}/log", "--vkey", vkey
            )
            figures.entries = int(said.split(" has ")[1].split()[0])
            figures.server_rss_mib = sum(vm_rss_mb(pid) for pid in server.processes())
        figures.sha256_seconds = sha256_ceiling(figures.entries)
        figures.bytes_per_message = load_year.database_bytes(database) / size
    return figures


def report(backend: str, rows: list[Figures]) -> bool:
    print(f"\n### {backend}\n")
    headers = ["messages", "load s"] + [f"{name} p50 / p95 ms" for name in LISTS]
    print(
        table(
            headers,
            [
                [f"{f.size:,}", "cached" if f.load_seconds is None else f"{f.load_seconds:.0f}"]
                + [
                    f"{statistics.median(times):.1f} / {percentile(times, 95):.1f}"
                    for times in (f.timings[name] for name in LISTS)
                ]
                for f in rows
            ],
        )
    )
    print()
    print(
        table(
            [
                "messages",
                "/inbox page ms",
                "office check (messages) s",
                "log verify s",
                "SHA-256 ceiling s",
                "verify / ceiling",
                "verify peak MiB",
                "integrator p50 ms",
                "bytes / message",
                "server RSS MiB",
            ],
            [
                [
                    f"{f.size:,}",
                    f"{f.inbox_page_ms:,.0f}",
                    f"{f.office_check:.1f} ({f.office_messages:,})",
                    f"{f.verify_seconds:.1f} ({f.entries:,} entries)",
                    f"{f.sha256_seconds:.2f}",
                    f"{f.verify_seconds / f.sha256_seconds:.0f}×",
                    f"{f.verify_mib:.0f}",
                    f"{f.integrator_ms:.0f}",
                    f"{f.bytes_per_message:,.0f}",
                    f"{f.server_rss_mib:.0f}",
                ]
                for f in rows
            ],
        )
    )
    small, large = rows[0], rows[-1]
    verdicts = []
    growth = []
    for name in LISTS:
        before, after = percentile(small.timings[name], 95), percentile(large.timings[name], 95)
        ratio = after / before
        verdicts.append(ratio < GOAL_GROWTH and after <= GOAL_MS)
        growth.append(f"{name} {ratio:.2f}×")
    print(
        f"\np95 growth from {small.size:,} to {large.size:,} messages (goal < {GOAL_GROWTH:.0f}×, "
        f"p95 ≤ {GOAL_MS:.0f} ms): " + ", ".join(growth)
    )
    return all(verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="e.g. 10000,100000,1000000")
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--cache", type=Path, help="keep each year loaded here and reuse it")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    backends = args.backend.split(",")
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not running on 127.0.0.1:5432: its half is left out")
        backends.remove("postgresql")
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    print(f"{machine()}; sizes {', '.join(f'{s:,}' for s in sizes)}; {args.requests} requests each")
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="pouch-bench-scale-") as scratch:
        for backend in backends:
            rows = [measure(backend, size, args, Path(scratch)) for size in sizes]
            verdicts.append(report(backend, rows))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
