"""Helpers shared by the ledger benchmarks: scratch databases, entries, tables.

Not a benchmark itself (``make bench`` runs only ``bench_*.py``).
"""

from __future__ import annotations

import os
import platform
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from pouch import migrations
from pouch.db import Database
from pouch.ledger import events
from pouch.ledger.note import Ed25519Signer, generate_key

ORIGIN = "bench.pouch.example/log"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
EVENT_KINDS = ("accepted", "routed", "translated", "delivered", "read", "acknowledged")


def new_signer(origin: str = ORIGIN) -> Ed25519Signer:
    return Ed25519Signer.from_skey(generate_key(origin)[0])


def event_entries(count: int, *, start: int = 0) -> list[bytes]:
    """``count`` realistic log entries: salted commitments to Pouch events
    (``events.entry_for``), 85 bytes each, all different."""
    base = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
    entries = []
    for i in range(start, start + count):
        event = {
            "kind": EVENT_KINDS[i % len(EVENT_KINDS)],
            "time": events.format_time(base + timedelta(milliseconds=i)),
            "message": f"m-{i // len(EVENT_KINDS)}",
            "office": f"office-{i % 97}",
        }
        entries.append(events.entry_for(event, os.urandom(events.SALT_SIZE)))
    return entries


def sqlite_database(path: Path) -> Database:
    """A fresh, migrated SQLite database at ``path`` (any old file is removed),
    configured as Pouch runs it (WAL, synchronous=FULL)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    database = Database.from_url(f"sqlite:///{path}")
    migrations.upgrade(database)
    return database


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True, connect_timeout=3
    )


def postgres_available() -> bool:
    try:
        with _admin():
            return True
    except psycopg.Error:
        return False


@contextmanager
def postgres_database() -> Iterator[Database]:
    """A migrated scratch database on the local PostgreSQL, dropped afterwards."""
    name = f"pouch_bench_{secrets.token_hex(4)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = Database.from_url(make_url(POSTGRES).set(database=name).render_as_string(False))
    try:
        migrations.upgrade(database)
        yield database
    finally:
        database.dispose()
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) of a process, in MiB."""
    return _status_mb(pid, "VmHWM")


def vm_rss_mb(pid: int | str = "self") -> float:
    """Resident set size (VmRSS) of a process, in MiB."""
    return _status_mb(pid, "VmRSS")


def _status_mb(pid: int | str, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no {field} in /proc/{pid}/status")
