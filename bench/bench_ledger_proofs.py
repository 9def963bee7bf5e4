"""Proofs from a 1,000,000-entry log, in process and over HTTP; memory by log size.

    uv run python bench/bench_ledger_proofs.py [--entries N] [--reuse] [--db PATH]
        [--queries Q] [--no-pymerkle] [--no-http] [--no-memory] [--quick]

Goals (issue 3): inclusion and consistency proofs from a 1,000,000-entry log
in at most 1 ms each (p50) and at most 5 ms over HTTP; memory bounded,
independent of the log's size.

The log is built once on SQLite (``--db``, by default under /tmp) by a fresh
subprocess through the fast path: event entries (``events.entry_for``)
appended 65,536 to a transaction with ``sequencer.append``, each chunk
integrated at once. ``--reuse`` keeps a log built earlier at the same path
(its build figures are kept beside it, in ``PATH.json``).

- *service*: ``service.prove_inclusion`` / ``service.prove_consistency``,
  each in its own read transaction as a request has, with the app's
  ``TileCache`` warm (every query run once before) and cold (a new, empty
  cache for each proof: every tile comes from SQLite, whose file is in the
  OS page cache).
- *HTTP*: the real app (``python -m pouch.cli serve``, uvicorn, a subprocess)
  answering ``GET /api/log/proof`` and ``/api/log/consistency`` to one
  keep-alive httpx client; its cache warmed by a first pass.
- *reference*: the same queries to pymerkle's in-memory tree of the same
  entries (the Python Merkle library on PyPI), in a subprocess.

Queries: inclusion of a uniformly random index, half in the latest tree and
half in a random older one; consistency from a random size to the latest
tree, or half the time to a random larger one. Every proof is checked
against the root its tree has (from the tiles), outside the timings.

Memory: the peak resident set (VmHWM) of the process that builds and
integrates the log, at a tenth of the entries and at all of them, each
built in a fresh subprocess: with the default ``TileCache`` (which keeps up
to 40 MiB of tiles for the proofs the app serves), and again with a cache
that keeps nothing; of ``pouch log verify --url`` over each of the two logs;
of the serving app and of pymerkle's tree.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ORIGIN,
    event_entries,
    machine,
    new_signer,
    percentile,
    sqlite_database,
    table,
    vm_hwm_mb,
    vm_rss_mb,
)
from pouch.clock import SystemClock
from pouch.db import Database
from pouch.ledger import sequencer, service
from pouch.ledger.merkle import CompactRange, leaf_hash, verify_consistency, verify_inclusion
from pouch.ledger.note import Ed25519Signer
from pouch.ledger.store import TileCache, TileNodeReader

GOAL_MS = 1.0
GOAL_HTTP_MS = 5.0
CHUNK = 65_536
HERE = Path(__file__).resolve()

Query = tuple[str, int, int]  # ("inclusion", index, size) or ("consistency", old, new)


# -- workers: each runs in a fresh process -------------------------------------


def build_worker(path: Path, entries: int, *, cache_off: bool = False) -> dict[str, Any]:
    """Build a log of ``entries`` at ``path``; the signing key comes from the
    environment. Returns the build's timing and this process's peak RSS.
    ``cache_off`` gives the integrator a TileCache that keeps nothing."""
    baseline = vm_hwm_mb()
    signer = Ed25519Signer.from_skey(os.environ["POUCH_BENCH_SKEY"])
    database = sqlite_database(path)
    clock = SystemClock()
    cache = TileCache(capacity=0, subtree_capacity=0) if cache_off else TileCache()
    start = time.perf_counter()
    appending = integrating = 0.0
    try:
        sequencer.integrate(database, signer=signer, origin=ORIGIN, clock=clock, cache=cache)
        for first in range(0, entries, CHUNK):
            chunk = event_entries(min(CHUNK, entries - first), start=first)
            began = time.perf_counter()
            with database.transaction() as session:
                sequencer.append(session, chunk, now=clock.now())
            appended = time.perf_counter()
            while (
                sequencer.integrate(
                    database,
                    signer=signer,
                    origin=ORIGIN,
                    clock=clock,
                    cache=cache,
                    max_entries=CHUNK,
                )
                is not None
            ):
                pass
            appending += appended - began
            integrating += time.perf_counter() - appended
            del chunk
    finally:
        database.dispose()
    # What the process keeps across integrations is its TileCache (bounded):
    # full tiles, and the subtrees within the tiles used last.
    cached = len(cache._tiles) * 8192 + sum(
        sum(len(level) for level in levels[1:]) for _, levels in cache._subtrees.values()
    )
    return {
        "entries": entries,
        "cache_mb": cached / 2**20,
        "cache_bound_mb": (cache.capacity + cache.subtree_capacity) * 8192 / 2**20,
        "seconds": time.perf_counter() - start,
        "append_s": appending,
        "integrate_s": integrating,
        "peak_rss_mb": vm_hwm_mb(),
        "baseline_rss_mb": baseline,
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def pymerkle_worker(path: Path, queries_file: Path) -> dict[str, Any]:
    """Time the same proofs with pymerkle's in-memory tree of the log's entries."""
    import pymerkle

    queries = [tuple(q) for q in json.loads(queries_file.read_text())]
    database = Database.from_url(f"sqlite:///{path}")
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    start = time.perf_counter()
    with database.transaction(write=False) as session:
        from sqlalchemy import select

        from pouch.ledger.store import LedgerEntry

        size = service.latest_checkpoint(session).size  # type: ignore[union-attr]
        rows = session.execute(
            select(LedgerEntry.data).where(LedgerEntry.idx < size).order_by(LedgerEntry.idx)
        )
        for (data,) in rows:
            tree.append_entry(bytes(data))
    built = time.perf_counter() - start
    database.dispose()
    timings: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    for kind, a, b in queries:
        began = time.perf_counter()
        if kind == "inclusion":
            tree.prove_inclusion(a + 1, b)  # pymerkle counts leaves from 1
        else:
            tree.prove_consistency(a, b)
        timings[kind].append(time.perf_counter() - began)
    return {"build_s": built, "timings": timings, "peak_rss_mb": vm_hwm_mb()}


def run_worker(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(HERE), "--worker", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# -- the log --------------------------------------------------------------------


def ensure_log(path: Path, entries: int, *, reuse: bool) -> tuple[dict[str, Any], str]:
    """The build figures and the signing key of the log at ``path``."""
    sidecar = Path(f"{path}.json")
    if reuse and sidecar.exists() and path.exists():
        recorded = json.loads(sidecar.read_text())
        if recorded.get("entries") == entries:
            database = Database.from_url(f"sqlite:///{path}")
            with database.transaction(write=False) as session:
                latest = service.latest_checkpoint(session)
            database.dispose()
            if latest is not None and latest.size == entries:
                recorded["reused"] = True
                return recorded, str(recorded["skey"])
        print(f"{path} does not hold a {entries:,}-entry log: building it again")
    skey = new_signer().skey
    print(f"building a {entries:,}-entry log at {path} …", flush=True)
    built = run_worker(["build", str(path), str(entries)], env={"POUCH_BENCH_SKEY": skey})
    sidecar.write_text(json.dumps({**built, "skey": skey}))
    built["reused"] = False
    return built, skey


def make_queries(size: int, count: int, seed: int = 6962) -> list[Query]:
    rng = random.Random(seed)
    queries: list[Query] = []
    for i in range(count):
        index = rng.randrange(size)
        tree = size if i % 2 == 0 else rng.randint(index + 1, size)
        queries.append(("inclusion", index, tree))
    for i in range(count):
        old = rng.randrange(1, size)
        new = size if i % 2 == 0 else rng.randint(old + 1, size)
        queries.append(("consistency", old, new))
    return queries


def prove(session: Any, query: Query, cache: TileCache) -> list[bytes]:
    kind, a, b = query
    if kind == "inclusion":
        return service.prove_inclusion(session, index=a, size=b, cache=cache)
    return service.prove_consistency(session, old=a, new=b, cache=cache)


def check_proofs(database: Database, queries: list[Query], proofs: list[list[bytes]]) -> int:
    """Verify every proof against the roots of its trees; returns how many."""
    cache = TileCache()
    roots: dict[int, bytes] = {}
    with database.transaction(write=False) as session:

        def root(size: int) -> bytes:
            if size not in roots:
                reader = TileNodeReader(session, cache)
                roots[size] = CompactRange.load(size, reader).root()
            return roots[size]

        for (kind, a, b), proof in zip(queries, proofs, strict=True):
            if kind == "inclusion":
                data = service.entry(session, a)
                assert data is not None
                verify_inclusion(
                    leaf_hash=leaf_hash(data), index=a, size=b, proof=proof, root=root(b)
                )
            else:
                verify_consistency(
                    old_size=a, new_size=b, old_root=root(a), new_root=root(b), proof=proof
                )
    return len(proofs)


@dataclass
class Timed:
    label: str
    inclusion: list[float]
    consistency: list[float]
    goal_ms: float


def time_service(database: Database, queries: list[Query], *, warm: bool) -> tuple[Timed, list]:
    cache = TileCache()
    if warm:
        with database.transaction(write=False) as session:
            for query in queries:
                prove(session, query, cache)
    timings: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    proofs = []
    for query in queries:
        if not warm:
            cache = TileCache()
        began = time.perf_counter()
        with database.transaction(write=False) as session:
            proof = prove(session, query, cache)
        timings[query[0]].append(time.perf_counter() - began)
        proofs.append(proof)
    label = "service, TileCache warm" if warm else "service, TileCache cold"
    return Timed(label, timings["inclusion"], timings["consistency"], GOAL_MS), proofs


# -- the app over HTTP ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    started_rss_mb: float


@contextmanager
def serve(path: Path, skey: str, scratch: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "POUCH_DATABASE_URL": f"sqlite:///{path}",
        "POUCH_PORT": str(port),
        "POUCH_LOG_ORIGIN": ORIGIN,
        "POUCH_LOG_SIGNING_KEY": skey,
        "POUCH_DATA_DIR": str(scratch),
    }
    log = (scratch / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", "serve"],
        env=env,
        cwd=scratch,  # no .env file from elsewhere
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pouch serve did not start; see {log.name}")
            time.sleep(0.1)
        yield Server(url, process, vm_rss_mb(process.pid))
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def time_http(server: Server, queries: list[Query], expected: list[list[bytes]]) -> Timed:
    import base64

    timings: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def get(query: Query) -> httpx.Response:
            kind, a, b = query
            if kind == "inclusion":
                return client.get("/api/log/proof", params={"index": a, "size": b})
            return client.get("/api/log/consistency", params={"from": a, "to": b})

        for query in queries:  # warm the app's cache and the connection
            get(query).raise_for_status()
        for query, proof in zip(queries, expected, strict=True):
            began = time.perf_counter()
            response = get(query)
            elapsed = time.perf_counter() - began
            response.raise_for_status()
            served = [base64.b64decode(h) for h in response.json()["proof"]]
            assert served == proof, f"HTTP and service proofs differ for {query}"
            timings[query[0]].append(elapsed)
    return Timed(
        "HTTP, app's cache warm", timings["inclusion"], timings["consistency"], GOAL_HTTP_MS
    )


def verify_over_http(server: Server, vkey: str, scratch: Path) -> tuple[float, float, str]:
    """Run ``pouch log verify --url``; its wall time, peak RSS (MiB) and what it said."""
    vkey_file = scratch / "log.vkey"
    vkey_file.write_text(vkey + "\n")
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pouch.cli",
            "log",
            "verify",
            "--url",
            f"{server.url}/log",
            "--vkey",
            str(vkey_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=scratch,
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - began
    if process.returncode != 0:
        raise RuntimeError(f"pouch log verify failed: {output}")
    return elapsed, usage.ru_maxrss / 1024, " ".join(output.split())  # unwrapped


# -- report -------------------------------------------------------------------------


def row(timed: Timed, kind: str, reference: list[float] | None) -> list[object]:
    values = getattr(timed, kind)
    p50 = percentile(values, 50) * 1000
    cells: list[object] = [
        timed.label,
        kind,
        f"{p50:.3f}",
        f"{percentile(values, 90) * 1000:.3f}",
        f"{percentile(values, 99) * 1000:.3f}",
        f"{timed.goal_ms:g}",
        "met" if p50 <= timed.goal_ms else "MISSED",
    ]
    if reference is not None:
        cells.append(f"{p50 / (percentile(reference, 50) * 1000):.2f}")
    else:
        cells.append("")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="the log's SQLite file")
    parser.add_argument("--reuse", action="store_true", help="keep a log built earlier at --db")
    parser.add_argument("--queries", type=int, default=1000, help="queries of each kind")
    parser.add_argument("--no-pymerkle", action="store_true")
    parser.add_argument("--no-http", action="store_true", help="also skips pouch log verify")
    parser.add_argument("--no-memory", action="store_true", help="skip the smaller log")
    parser.add_argument("--quick", action="store_true", help="100,000 entries, 300 queries")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, *rest = args.worker
        if kind == "build":
            result = build_worker(Path(rest[0]), int(rest[1]), cache_off=rest[2:] == ["cache-off"])
        else:
            result = pymerkle_worker(Path(rest[0]), Path(rest[1]))
        print(json.dumps(result))
        return

    entries = 100_000 if args.quick else args.entries
    count = 300 if args.quick else args.queries
    path = args.db or Path(tempfile.gettempdir()) / f"pouch-bench-log-{entries}.sqlite3"
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.1f}")

    built, skey = ensure_log(path, entries, reuse=args.reuse)
    signer = Ed25519Signer.from_skey(skey)
    database = Database.from_url(f"sqlite:///{path}")
    queries = make_queries(entries, count)
    timed: list[Timed] = []
    warm, proofs = time_service(database, queries, warm=True)
    cold, cold_proofs = time_service(database, queries, warm=False)
    assert cold_proofs == proofs
    checked = check_proofs(database, queries, proofs)
    timed += [warm, cold]

    reference: dict[str, list[float]] | None = None
    pymerkle_figures: dict[str, Any] | None = None
    if not args.no_pymerkle:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(queries, file)
        try:
            pymerkle_figures = run_worker(["pymerkle", str(path), file.name])
        finally:
            Path(file.name).unlink()
        reference = pymerkle_figures["timings"]

    memory_rows: list[list[object]] = []
    small: dict[str, Any] | None = None
    uncached: list[dict[str, Any]] = []
    verify_rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="pouch-bench-") as scratch_name:
        scratch = Path(scratch_name)
        small_path = scratch / "small.sqlite3"
        if not args.no_memory:
            small_skey = new_signer().skey
            small = run_worker(
                ["build", str(small_path), str(entries // 10)],
                env={"POUCH_BENCH_SKEY": small_skey},
            )
            # The same two builds with a TileCache that keeps nothing, into a scratch file.
            for size in (entries // 10, entries):
                uncached.append(
                    run_worker(
                        ["build", str(scratch / "uncached.sqlite3"), str(size), "cache-off"],
                        env={"POUCH_BENCH_SKEY": small_skey},
                    )
                )
            for suffix in ("", "-wal", "-shm"):
                Path(f"{scratch / 'uncached.sqlite3'}{suffix}").unlink(missing_ok=True)
        if not args.no_http:
            with serve(path, skey, scratch) as server:
                timed.append(time_http(server, queries, proofs))
                seconds, rss, said = verify_over_http(server, signer.verifier.vkey, scratch)
                verify_rows.append([f"{entries:,}", f"{seconds:.1f}", f"{rss:.0f}", said])
                server_rss = (server.started_rss_mb, vm_hwm_mb(server.process.pid))
            if small is not None:
                with serve(small_path, small_skey, scratch) as small_server:
                    small_signer = Ed25519Signer.from_skey(small_skey)
                    seconds, rss, said = verify_over_http(
                        small_server, small_signer.verifier.vkey, scratch
                    )
                    verify_rows.insert(
                        0, [f"{entries // 10:,}", f"{seconds:.1f}", f"{rss:.0f}", said]
                    )
    database.dispose()

    print()
    print(
        f"log: {entries:,} event entries at {path}"
        + (
            f" (reused; built {built['built_at']})"
            if built.get("reused")
            else f" (built now in {built['seconds']:.0f} s: appends {built['append_s']:.0f} s, "
            f"integration {built['integrate_s']:.0f} s)"
        )
    )
    print(f"{count:,} queries of each kind; {checked:,} proofs verified against their roots")
    print()
    headers = ["path", "proof", "p50 ms", "p90 ms", "p99 ms", "goal ms", "goal"]
    headers.append("p50 / pymerkle")
    rows = []
    for t in timed:
        for kind in ("inclusion", "consistency"):
            rows.append(row(t, kind, reference[kind] if reference else None))
    if reference is not None and pymerkle_figures is not None:
        pm = Timed(
            "pymerkle InmemoryTree (reference)",
            reference["inclusion"],
            reference["consistency"],
            GOAL_MS,
        )
        for kind in ("inclusion", "consistency"):
            rows.append(row(pm, kind, reference[kind]))
    print(table(headers, rows))

    print()
    if small is not None:
        memory_rows.append(
            [
                "integrating process (append + integrate)",
                f"{small['peak_rss_mb']:.0f}",
                f"{built['peak_rss_mb']:.0f}",
                f"{built['peak_rss_mb'] / small['peak_rss_mb']:.2f}",
            ]
        )
        if "cache_mb" in built:  # not in logs built by older versions of this script
            memory_rows.append(
                [
                    f"… of which its TileCache (bounded at {built['cache_bound_mb']:.0f} MiB)",
                    f"{small['cache_mb']:.0f}",
                    f"{built['cache_mb']:.0f}",
                    "",
                ]
            )
    if uncached:
        memory_rows.append(
            [
                "the same, its TileCache keeping nothing",
                f"{uncached[0]['peak_rss_mb']:.0f}",
                f"{uncached[1]['peak_rss_mb']:.0f}",
                f"{uncached[1]['peak_rss_mb'] / uncached[0]['peak_rss_mb']:.2f}",
            ]
        )
    if len(verify_rows) == 2:
        memory_rows.append(
            [
                "pouch log verify --url",
                verify_rows[0][2],
                verify_rows[1][2],
                f"{float(verify_rows[1][2]) / float(verify_rows[0][2]):.2f}",
            ]
        )
    if memory_rows:
        print(
            table(
                ["peak RSS (MiB)", f"{entries // 10:,} entries", f"{entries:,} entries", "ratio"],
                memory_rows,
            )
        )
        print()
    extra = []
    if not args.no_http:
        extra.append(
            f"the serving app: {server_rss[1]:.0f} MiB after the HTTP runs and verify "
            f"({server_rss[0]:.0f} MiB once started)"
        )
    if pymerkle_figures is not None:
        extra.append(
            f"pymerkle's tree of {entries:,} entries: {pymerkle_figures['peak_rss_mb']:.0f} MiB "
            f"(built from the log in {pymerkle_figures['build_s']:.0f} s)"
        )
    for line in extra:
        print(f"peak RSS of {line}")
    if verify_rows:
        print()
        print(
            table(
                ["log entries", "pouch log verify --url (s)", "peak RSS MiB", "said"], verify_rows
            )
        )
    print()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
