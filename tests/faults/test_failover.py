"""Two `pouch serve` processes (standing in for two hosts behind a load balancer) on
one PostgreSQL, under a load of signed submissions, each killed with SIGKILL in turn
while the other goes on:

- every submission is answered, and one answered 201 is stored and proved in the
  log (its receipt verifies under a checkpoint of the log's key);
- the survivor publishes checkpoints on its own within two integrate intervals of
  the kill (both run the integrator; PostgreSQL's advisory lock lets one at a time
  integrate, and the lock of a killed process goes with its connection);
- every checkpoint either process served is the one checkpoint of its size, and
  the final log extends each of them (``verify_log`` with it as the earlier one):
  nothing was signed twice for one size, nothing forked;
- ``pouch log verify`` passes on the final log.

A sender's program retries a failed connection on the other host with the same
Idempotency-Key, as it would behind a load balancer.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pouch.ledger.checkpoint import open_checkpoint
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.verify import HttpSource, verify_log
from tests.faults.helpers import (
    Office,
    Postgres,
    Seeded,
    Served,
    environment,
    eventually,
    free_port,
    pouch,
    problem_type,
    seed,
    stored_and_logged,
    submit,
    verifier_key,
)
from tests.faults.helpers import verify_log as pouch_log_verify

SENDERS = 4
#: The integrate interval of both hosts; the survivor must publish within two.
INTERVAL_S = 0.5
#: What a loaded two-core CI machine adds to two intervals: scheduling, a commit.
SLACK_S = 3.0


@dataclass
class Hosts:
    """The hosts the senders' load balancer knows; a dead one refuses connections."""

    servers: list[Served]

    def urls(self) -> list[str]:
        return [server.url for server in self.servers]


@dataclass
class Load:
    """Senders submitting one message after another, each retried (same key) on the
    next host until it is accepted."""

    client: httpx.Client
    hosts: Hosts
    seeded: Seeded
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: list[tuple[Office, dict[str, Any]]] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    failed_over: int = 0
    wrong: list[str] = field(default_factory=list)

    def count(self) -> int:
        with self.lock:
            assert not self.wrong, f"{len(self.wrong)} bad answers, the first: {self.wrong[0]}"
            return len(self.accepted)

    def sender(self, office: Office, start: int) -> None:
        turn = itertools.count(start)
        while not self.stop.is_set():
            key = uuid.uuid4().hex
            while not self.stop.is_set() and not self._one(office, key, next(turn)):
                self.stop.wait(0.05)

    def _one(self, office: Office, key: str, turn: int) -> bool:
        urls = self.hosts.urls()
        url = urls[turn % len(urls)]
        try:
            answer = submit(
                self.client,
                url,
                office,
                to=self.seeded.principal,
                subject=f"Load {key}",
                idempotency_key=key,
            )
        except httpx.TransportError:
            with self.lock:
                self.failed_over += 1  # that host is down: the next one, same key
            return False
        with self.lock:
            if answer.status_code in (200, 201):
                self.ids[key] = answer.json()["id"]
                if answer.status_code == 201:
                    self.accepted.append((office, answer.json()))
                return True
            if answer.status_code == 503 and problem_type(answer).endswith("unavailable"):
                return False
            self.wrong.append(f"{url}: HTTP {answer.status_code}: {answer.text[:300]}")
            return False


@dataclass
class Watcher:
    """Reads the published checkpoint of every host, often: each size seen, with the
    note served for it."""

    client: httpx.Client
    hosts: Hosts
    vkey: str
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    notes: dict[int, set[bytes]] = field(default_factory=dict)
    seen_at: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, size)

    def run(self) -> None:
        verifier = Ed25519Verifier.from_vkey(self.vkey)
        while not self.stop.is_set():
            for url in self.hosts.urls():
                try:
                    answer = self.client.get(f"{url}/log/checkpoint", timeout=2)
                except httpx.TransportError:
                    continue
                if answer.status_code != 200:
                    continue
                size = open_checkpoint(answer.content, log=verifier).checkpoint.size
                with self.lock:
                    self.notes.setdefault(size, set()).add(answer.content)
                    self.seen_at.append((time.monotonic(), size))
            self.stop.wait(0.02)

    def newest(self) -> int:
        with self.lock:
            return max(self.notes, default=0)

    def first_seen(self, size_over: int, after: float) -> float | None:
        with self.lock:
            return next((t for t, s in self.seen_at if t >= after and s > size_over), None)


def _log_size(client: httpx.Client, url: str) -> int:
    """The entries the log holds now (sequenced, maybe not yet in a checkpoint)."""
    answer = client.get(f"{url}/api/log", timeout=5)
    answer.raise_for_status()
    return int(answer.json()["sequenced"])


def _kill_and_take_over(
    victim: Served, survivor: Served, load: Load, watcher: Watcher, client: httpx.Client
) -> float:
    """kill -9 ``victim`` under load; how long until the survivor published a checkpoint
    covering what the log held at the kill."""
    before = load.count()
    victim.kill()
    killed = time.monotonic()
    held = _log_size(client, survivor.url)
    eventually(
        lambda: watcher.newest() >= held,
        what="a checkpoint by the survivor covering the log at the kill",
        timeout=2 * INTERVAL_S + SLACK_S,
    )
    took = (watcher.first_seen(held - 1, killed) or time.monotonic()) - killed
    # The load goes on through the survivor alone.
    eventually(lambda: load.count() >= before + 20, what="20 messages accepted after the kill")
    return took


@pytest.mark.slow
def test_two_hosts_each_killed_in_turn_under_load(tmp_path: Path, postgres: Postgres) -> None:
    url = postgres.create_database("pouch")
    data = tmp_path / "data"  # the log's key, shared by the hosts as a deployment copies it
    interval = f"PT{INTERVAL_S}S"
    first = environment(
        database_url=url, data_dir=data, port=free_port(), log_integrate_interval=interval
    )
    second = first | {"POUCH_PORT": str(free_port())}
    second["POUCH_PUBLIC_URL"] = f"http://127.0.0.1:{second['POUCH_PORT']}"
    pouch("db", "upgrade", env=first, cwd=tmp_path)
    pouch("keys", "generate", env=first, cwd=tmp_path)  # one key, before either host starts
    vkey = verifier_key(first, workdir=tmp_path)
    a, b = Served(first, workdir=tmp_path), Served(second, workdir=tmp_path)
    hosts = Hosts([a.launch(), b.launch()])
    for host in hosts.servers:
        host.ready()
    try:
        with httpx.Client() as client, ThreadPoolExecutor(SENDERS + 1) as pool:
            seeded = seed(url, webhooks={f"office-{n}": None for n in range(SENDERS)})
            load = Load(client, hosts, seeded)
            watcher = Watcher(client, hosts, vkey)
            watching = pool.submit(watcher.run)
            senders = [
                pool.submit(load.sender, office, n)
                for n, office in enumerate(seeded.offices.values())
            ]
            try:
                eventually(lambda: load.count() >= 30, what="30 messages accepted on two hosts")
                takeover = [_kill_and_take_over(a, b, load, watcher, client)]
                a.start()  # the first host comes back and takes its share again
                eventually(lambda: load.count() >= 80, what="80 messages accepted")
                takeover.append(_kill_and_take_over(b, a, load, watcher, client))
            finally:
                load.stop.set()
                for done in senders:
                    done.result()
            settled = _log_size(client, a.url)
            eventually(lambda: watcher.newest() >= settled, what="the last entries published")
            watcher.stop.set()
            watching.result()
            print(f"takeover after kill -9: {', '.join(f'{t:.2f} s' for t in takeover)}")
            assert load.failed_over > 0, "no submission met a dead host: the kills missed"
            assert not load.wrong, load.wrong[:3]
            # Nothing accepted is lost, on whichever host it was accepted.
            assert len(set(load.ids.values())) == len(load.ids)
            list(
                pool.map(
                    lambda done: stored_and_logged(client, a.url, done[0], done[1], vkey=vkey),
                    load.accepted,
                )
            )
            # One checkpoint per size, and the final log extends every one of them.
            twice = {size: notes for size, notes in watcher.notes.items() if len(notes) > 1}
            assert twice == {}, f"sizes signed differently: {sorted(twice)}"
            source = HttpSource(f"{a.url}/log", client=client)
            log_key = Ed25519Verifier.from_vkey(vkey)
            for size, (note,) in sorted(watcher.notes.items()):
                assert verify_log(source, log_key, since=note).since is not None, size
            assert len(watcher.notes) > 5, watcher.notes.keys()
            pouch_log_verify(first, a.url, workdir=tmp_path)
    finally:
        for server in hosts.servers:
            server.stop()
