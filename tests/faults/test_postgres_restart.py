"""PostgreSQL stopped and started again under a load of signed submissions, with a
real `pouch serve`: every answer is a 201 or a clear 503, nothing accepted is lost,
and the server takes submissions again by itself."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from pouch.db import Database
from pouch.messages.models import Message
from tests.faults.helpers import (
    Office,
    Postgres,
    Receiver,
    Seeded,
    Served,
    bearer,
    environment,
    eventually,
    free_port,
    pouch,
    problem_type,
    refusal,
    seed,
    stored_and_logged,
    submit,
    verifier_key,
    verify_log,
)

SENDERS = 4  # threads submitting at once


@dataclass
class Load:
    """Senders submitting one message after another, each retried with its
    Idempotency-Key until it is accepted, as a sender's program would."""

    client: httpx.Client
    url: str
    seeded: Seeded
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: list[tuple[Office, dict[str, Any]]] = field(default_factory=list)
    replayed: list[tuple[Office, str]] = field(default_factory=list)  # (sender, message id)
    ids: dict[str, str] = field(default_factory=dict)  # Idempotency-Key: message id
    unavailable: int = 0
    wrong: list[str] = field(default_factory=list)  # anything but a 201, a 200 or a clear 503

    def count(self) -> tuple[int, int]:
        """(accepted, refused as database-unavailable) so far; fails at a bad answer."""
        with self.lock:
            assert not self.wrong, f"{len(self.wrong)} bad answers, the first: {self.wrong[0]}"
            return len(self.accepted), self.unavailable

    def sender(self, office: Office) -> None:
        while not self.stop.is_set():
            key = uuid.uuid4().hex
            while not self.stop.is_set() and not self._one(office, key):
                self.stop.wait(0.05)  # a sender's program would wait Retry-After

    def _one(self, office: Office, key: str) -> bool:
        """Submit once; True when the message is in."""
        try:
            answer = submit(
                self.client,
                self.url,
                office,
                to=self.seeded.principal,
                subject=f"Load {key}",
                idempotency_key=key,
            )
        except httpx.TransportError as error:  # a reset connection is a failure too
            with self.lock:
                self.wrong.append(f"{type(error).__name__}: {error}")
            return False
        with self.lock:
            if answer.status_code in (200, 201):
                self.ids[key] = answer.json()["id"]
                if answer.status_code == 201:
                    self.accepted.append((office, answer.json()))
                else:  # an earlier try's commit went through after all
                    self.replayed.append((office, answer.json()["id"]))
                return True
            why = refusal(answer)
            if why is None and problem_type(answer) == "/problems/database-unavailable":
                self.unavailable += 1
            else:
                self.wrong.append(why or answer.text)
            return False


def _subjects_stored_twice(url: str) -> list[str]:
    database = Database.from_url(url)
    try:
        with database.transaction(write=False) as session:
            return list(
                session.scalars(
                    select(Message.subject).group_by(Message.subject).having(func.count() > 1)
                )
            )
    finally:
        database.dispose()


@pytest.mark.slow
def test_postgresql_restarted_during_a_load_run(tmp_path: Path, postgres: Postgres) -> None:
    url = postgres.create_database("pouch")
    env = environment(database_url=url, data_dir=tmp_path / "data", port=free_port())
    pouch("db", "upgrade", env=env, cwd=tmp_path)
    with (
        Receiver() as receiver,
        Served(env, workdir=tmp_path) as server,
        httpx.Client() as client,
        ThreadPoolExecutor(SENDERS) as pool,
    ):
        seeded = seed(url, webhooks={f"office-{n}": receiver.url for n in range(SENDERS)})
        load = Load(client, server.url, seeded)
        senders = [pool.submit(load.sender, office) for office in seeded.offices.values()]
        try:
            eventually(lambda: load.count()[0] >= 20, what="20 messages accepted before")
            postgres.stop()
            # Submissions go on while the database is away: each is told so.
            eventually(lambda: load.count()[1] >= 5, what="5 refusals while PostgreSQL is away")
            before = load.count()[0]
            postgres.start()
            # The same server process takes submissions again, by itself.
            eventually(
                lambda: load.count()[0] >= before + 20, what="20 messages accepted after restart"
            )
        finally:
            load.stop.set()
            for done in senders:
                done.result()
        assert server.alive(), server.output()
        assert not load.wrong, f"{len(load.wrong)} bad answers, the first: {load.wrong[0]}"
        # Nothing accepted is lost, and no submission made two messages, even one
        # answered 503 by a commit that went through after all (its subject names its key).
        assert len(set(load.ids.values())) == len(load.ids)
        assert _subjects_stored_twice(url) == []
        vkey = verifier_key(env, workdir=tmp_path)
        for office, accepted in load.accepted:
            stored_and_logged(client, server.url, office, accepted, vkey=vkey)
        for office, public_id in load.replayed:
            shown = client.get(
                f"{server.url}/api/messages/{public_id}", headers=bearer(office.token)
            )
            assert shown.status_code == 200, shown.text
        # The background loops lived through the outage: the worker delivered every
        # message, and the outbox told each sender office.
        eventually(
            lambda: {a.body["message"] for a in receiver.received()} >= set(load.ids.values()),
            what="a delivery notice for every message",
        )
        verify_log(env, server.url, workdir=tmp_path)
