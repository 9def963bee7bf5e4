"""Sustained durable appends to the log, and how soon a checkpoint covers them.

    uv run python bench/bench_ledger_append.py [--entries N] [--producers P]
        [--inflight K] [--no-postgres] [--quick]

Goal (issue 3): at least 20,000 entries/s on SQLite on this 2-core machine,
with a checkpoint covering an entry published at most 1 s after its append
(p50).

Pouch runs as in production: a ``service.Ledger`` with the default settings
(``log_batch_window``, ``log_batch_size``, ``log_integrate_interval``) and,
beside it as ``create_app`` builds it, a ``GroupCommitter`` committing
``sequencer.append`` units on a fresh SQLite file in WAL mode with
``synchronous=FULL`` (``pouch.db.create_database_engine``), the ledger's
``Integrator`` publishing checkpoints in the background. ``P``
producer threads each keep up to ``K`` appends in flight, one entry per unit.
The entries are realistic event entries (``events.entry_for``, 85 bytes),
made before the clock starts.

- *entries/s*: entries over the time from the first submission to the last
  commit (every future resolved: all durable); *published/s*: to the commit
  of the checkpoint covering them all.
- *append latency*: submission to commit (the caller's future resolves).
- *publication latency*: submission to the commit of the first checkpoint
  whose size covers the entry's index.

In the same run, the reference: the same entries appended to pymerkle's
in-memory tree (the Python Merkle library on PyPI; no durability, no
signature) and its root computed; and the ceiling: the machine's raw SHA-256
rate over the same entries (``hashlib``, one leaf hash each, one thread).
The final checkpoint is checked: its signature, and its root against the
entries in index order. Then the same Pouch run on a scratch PostgreSQL
database (127.0.0.1:5432, dropped afterwards).

*CPU µs/entry* is this process's CPU time (all threads) over the run, per
entry: a figure that other load on the machine disturbs less than the
rates, which is why the load average is printed before and after.
``--quick`` runs are for trying the script, too short to be representative.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pymerkle

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ORIGIN,
    event_entries,
    machine,
    new_signer,
    percentile,
    postgres_available,
    postgres_database,
    sqlite_database,
    table,
)
from pouch.clock import SystemClock
from pouch.db import Database
from pouch.groupcommit import GroupCommitter
from pouch.ledger import sequencer, service
from pouch.ledger.checkpoint import open_checkpoint
from pouch.ledger.merkle import CompactRange, leaf_hash
from pouch.ledger.note import Ed25519Signer
from pouch.ledger.service import Ledger
from pouch.settings import Settings

GOAL_PER_S = 20_000
GOAL_PUBLISH_P50 = 1.0


def _default(name: str) -> float:
    value = Settings.model_fields[name].default
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


@dataclass
class PouchRun:
    backend: str
    entries: int
    durable_s: float
    published_s: float
    append_latency: list[float]
    publish_latency: list[float]
    batches: int
    integrations: list[tuple[int, float]]  # (entries integrated, seconds)
    root_ok: bool
    cpu_s: float  # this process's CPU time, all threads, from first submission to last checkpoint

    @property
    def durable_per_s(self) -> float:
        return self.entries / self.durable_s

    @property
    def published_per_s(self) -> float:
        return self.entries / self.published_s


def run_pouch(
    backend: str,
    database: Database,
    entries: list[bytes],
    *,
    signer: Ed25519Signer,
    producers: int,
    inflight: int,
    batch_size: int,
    batch_window: float,
    integrate_interval: float,
    spacing: float | None,
) -> PouchRun:
    clock = SystemClock()
    ledger = Ledger(
        database,
        signer=signer,
        origin=ORIGIN,
        clock=clock,
        batch_window=batch_window,
        integrate_interval=integrate_interval,
    )
    # Time each integration and when its checkpoint is committed: the same
    # Integrator as Ledger's, around the same integrate_now.
    published: list[tuple[int, float]] = []  # (checkpoint size, perf_counter at commit)
    integrations: list[tuple[int, float]] = []

    def integrate_once() -> sequencer.Integrated | None:
        started = time.perf_counter()
        done = ledger.integrate_now()
        if done is not None:
            finished = time.perf_counter()
            published.append((done.checkpoint.size, finished))
            integrations.append((done.checkpoint.size - done.old_size, finished - started))
        return done

    ledger.integrator = sequencer.Integrator(
        integrate_once,
        interval=ledger.integrator.interval,
        spacing=ledger.integrator.spacing if spacing is None else spacing,
    )
    # The group committer as create_app builds it beside the ledger.
    committer = GroupCommitter(
        database,
        window=batch_window,
        max_batch=batch_size,
        after_commit=ledger.integrator.wake,
        turns=ledger.turns,
    )

    count = len(entries)
    submitted = [0.0] * count
    durable = [0.0] * count
    index_of = [0] * count

    def producer(first: int) -> None:
        window: deque[tuple[int, Future[list[int]]]] = deque()

        def settle() -> None:
            j, future = window.popleft()
            (index_of[j],) = future.result()

        for j in range(first, count, producers):
            entry = entries[j]
            submitted[j] = time.perf_counter()
            future = committer.submit(
                lambda session, entry=entry: sequencer.append(session, [entry], now=clock.now())
            )
            future.add_done_callback(lambda _, j=j: durable.__setitem__(j, time.perf_counter()))
            window.append((j, future))
            if len(window) >= inflight:
                settle()
        while window:
            settle()

    committer.start()
    ledger.start()
    try:
        _wait_for(lambda: bool(published), "the first checkpoint")  # signs the empty tree
        base = published[-1][0]
        integrations.clear()
        cpu_start = time.process_time()
        start = time.perf_counter()
        threads = [threading.Thread(target=producer, args=(k,)) for k in range(producers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        durable_end = max(durable)
        _wait_for(lambda: published[-1][0] >= base + count, "a checkpoint covering every entry")
        published_end = published[-1][1]
        cpu_s = time.process_time() - cpu_start
    finally:
        committer.stop()
        ledger.stop()
    batches = committer.batches

    sizes = [size for size, _ in published]
    publish_latency = []
    for j in range(count):
        k = _first_covering(sizes, index_of[j])
        publish_latency.append(published[k][1] - submitted[j])

    # The final checkpoint: signed by the log's key, and the root of the
    # entries in the order the log gave them.
    by_index = [b""] * count
    for j in range(count):
        by_index[index_of[j] - base] = entries[j]
    with database.transaction(write=False) as session:
        latest = service.latest_checkpoint(session)
    assert latest is not None
    checkpoint = open_checkpoint(latest.note, log=signer.verifier).checkpoint
    tree = CompactRange()
    tree.extend(leaf_hash(e) for e in by_index)
    root_ok = base == 0 and checkpoint.size == count and checkpoint.root_hash == tree.root()

    return PouchRun(
        backend=backend,
        entries=count,
        durable_s=durable_end - start,
        published_s=published_end - start,
        append_latency=[durable[j] - submitted[j] for j in range(count)],
        publish_latency=publish_latency,
        batches=batches,
        integrations=integrations,
        root_ok=root_ok,
        cpu_s=cpu_s,
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f} s")
        time.sleep(0.001)


def _first_covering(sizes: list[int], index: int) -> int:
    """Position of the first checkpoint size > index (sizes only grow)."""
    low, high = 0, len(sizes) - 1
    while low < high:
        middle = (low + high) // 2
        if sizes[middle] > index:
            high = middle
        else:
            low = middle + 1
    return low


def run_pymerkle(entries: list[bytes]) -> tuple[float, bytes]:
    """Seconds to append ``entries`` to pymerkle's in-memory tree and get its root."""
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    start = time.perf_counter()
    for entry in entries:
        tree.append_entry(entry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        root = tree.get_root() if hasattr(tree, "get_root") else tree.get_state()
    return time.perf_counter() - start, bytes(root)


def sha256_rate(entries: list[bytes], rounds: int = 3) -> float:
    """Leaf hashes per second: ``SHA-256(0x00 || entry)`` with hashlib, best of ``rounds``."""
    best = float("inf")
    sha256 = hashlib.sha256
    for _ in range(rounds):
        start = time.perf_counter()
        for entry in entries:
            sha256(b"\x00" + entry).digest()
        best = min(best, time.perf_counter() - start)
    return len(entries) / best


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000, help="entries per run")
    parser.add_argument("--producers", type=int, default=32, help="producer threads")
    parser.add_argument("--inflight", type=int, default=16, help="appends in flight per producer")
    parser.add_argument("--batch-size", type=int, default=int(_default("log_batch_size")))
    parser.add_argument("--batch-window", type=float, default=_default("log_batch_window"))
    parser.add_argument(
        "--integrate-interval", type=float, default=_default("log_integrate_interval")
    )
    parser.add_argument(
        "--spacing", type=float, default=None, help="override the integrator's spacing (s)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL run")
    parser.add_argument("--quick", action="store_true", help="50,000 entries")
    args = parser.parse_args()
    count = 50_000 if args.quick else args.entries

    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.1f}")
    print(
        f"entries: {count:,} event entries of {len(event_entries(1)[0])} bytes; "
        f"{args.producers} producers x {args.inflight} in flight; batch {args.batch_size} "
        f"entries or {args.batch_window * 1000:.0f} ms; integrator woken after each commit, "
        f"else every {args.integrate_interval * 1000:.0f} ms"
    )
    entries = event_entries(count)
    signer = new_signer()
    options = {
        "signer": signer,
        "producers": args.producers,
        "inflight": args.inflight,
        "batch_size": args.batch_size,
        "batch_window": args.batch_window,
        "integrate_interval": args.integrate_interval,
        "spacing": args.spacing,
    }

    ceiling = sha256_rate(entries)
    pymerkle_s, pymerkle_root = run_pymerkle(entries)
    pymerkle_rate = count / pymerkle_s
    reference_tree = CompactRange()
    reference_tree.extend(leaf_hash(e) for e in entries)
    pymerkle_agrees = pymerkle_root == reference_tree.root()

    runs: list[PouchRun] = []
    with tempfile.TemporaryDirectory(prefix="pouch-bench-") as scratch:
        database = sqlite_database(Path(scratch) / "ledger.sqlite3")
        try:
            runs.append(run_pouch("SQLite", database, entries, **options))  # type: ignore[arg-type]
        finally:
            database.dispose()
    if args.no_postgres:
        pass
    elif postgres_available():
        with postgres_database() as database:
            runs.append(run_pouch("PostgreSQL", database, entries, **options))  # type: ignore[arg-type]
    else:
        print("PostgreSQL at 127.0.0.1:5432 is not reachable: its run is skipped")

    rows: list[list[object]] = []
    for run in runs:
        rows.append(
            [
                f"Pouch, {run.backend} (durable, signed)",
                f"{run.durable_per_s:,.0f}",
                f"{run.published_per_s:,.0f}",
                f"{run.durable_per_s / pymerkle_rate:.2f}",
                f"{run.durable_per_s / ceiling:.4f}",
            ]
        )
    rows.append(
        [
            "pymerkle InmemoryTree (reference)",
            f"{pymerkle_rate:,.0f}",
            "",
            "1.00",
            f"{pymerkle_rate / ceiling:.4f}",
        ]
    )
    rows.append(
        [
            "SHA-256 leaf hashes (ceiling)",
            f"{ceiling:,.0f}",
            "",
            f"{ceiling / pymerkle_rate:.1f}",
            "1.0000",
        ]
    )
    print()
    print(table(["system", "entries/s", "published/s", "/ pymerkle", "/ ceiling"], rows))

    print()
    latency_rows: list[list[object]] = []
    for run in runs:
        a, p = run.append_latency, run.publish_latency
        latency_rows.append(
            [
                run.backend,
                *(ms(percentile(a, q)) for q in (50, 90, 99)),
                *(ms(percentile(p, q)) for q in (50, 90, 99)),
                ms(max(p)),
            ]
        )
    print(
        table(
            [
                "backend",
                "append p50 ms",
                "p90",
                "p99",
                "published p50 ms",
                "p90",
                "p99",
                "max",
            ],
            latency_rows,
        )
    )

    print()
    detail_rows: list[list[object]] = []
    for run in runs:
        sizes = [n for n, _ in run.integrations]
        seconds = [s for _, s in run.integrations]
        detail_rows.append(
            [
                run.backend,
                f"{run.batches:,}",
                f"{run.entries / max(run.batches, 1):,.0f}",
                f"{len(run.integrations):,}",
                f"{sum(sizes) / max(len(sizes), 1):,.0f}",
                ms(percentile(seconds, 50)),
                ms(max(seconds, default=0.0)),
                f"{run.cpu_s / run.entries * 1e6:.0f}",
                "yes" if run.root_ok else "NO",
            ]
        )
    print(
        table(
            [
                "backend",
                "commits",
                "entries/commit",
                "checkpoints",
                "entries/checkpoint",
                "integrate p50 ms",
                "max",
                "CPU µs/entry",
                "signed root = entries",
            ],
            detail_rows,
        )
    )

    print()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"pymerkle's root equals Pouch's RFC 6962 root of the same entries: {pymerkle_agrees}")
    for run in runs:
        met = (
            run.durable_per_s >= GOAL_PER_S
            and percentile(run.publish_latency, 50) <= GOAL_PUBLISH_P50
        )
        print(
            f"goal (>= {GOAL_PER_S:,} entries/s, published p50 <= {GOAL_PUBLISH_P50:.0f} s) "
            f"on {run.backend}: {'met' if met else 'MISSED'}"
        )
    if not all(run.root_ok for run in runs) or not pymerkle_agrees:
        sys.exit(1)


if __name__ == "__main__":
    main()
