"""kill -9 of `pouch serve` while its outbox is sending webhook notices to a receiver that
holds them unanswered: once the notices' lease is over, the next `pouch serve` sends
every one at least once, each retry under its first try's Idempotency-Key."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from pouch.db import Database
from pouch.messages.models import Notification
from tests.faults.helpers import (
    Receiver,
    Served,
    bearer,
    environment,
    eventually,
    free_port,
    pouch,
    seed,
    submit,
)

MESSAGES = 6


def _notices(url: str) -> list[tuple[str, str | None, bool]]:
    """(Idempotency-Key, message, sent) of every notice in the notifications table."""
    database = Database.from_url(url)
    try:
        with database.transaction(write=False) as session:
            return [
                (row.key, row.payload.get("message"), row.sent_at is not None)
                for row in session.scalars(select(Notification).order_by(Notification.id))
            ]
    finally:
        database.dispose()


@pytest.mark.slow
def test_notices_in_flight_when_the_server_is_killed_are_sent_again_with_their_keys(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'pouch.sqlite3'}"
    env = environment(
        database_url=url,
        data_dir=tmp_path / "data",
        port=free_port(),
        # A lease short enough to end within the test; a send timeout longer than the test,
        # so that the receiver, not a timeout, decides when a request ends.
        notify_lease="PT3S",
        notify_timeout="PT60S",
    )
    pouch("db", "upgrade", env=env, cwd=tmp_path)
    with Receiver(hold=True) as receiver, httpx.Client() as client:
        seeded = seed(url, webhooks={"ie-taoiseach": receiver.url})
        office = seeded.offices["ie-taoiseach"]
        first = Served(env, workdir=tmp_path).start()
        try:
            sent = [
                submit(client, first.url, office, to=seeded.principal, subject=f"Letter {n}")
                for n in range(MESSAGES)
            ]
            assert [answer.status_code for answer in sent] == [201] * MESSAGES
            # The worker delivers them and the outbox sends their notices, which the
            # receiver holds: the server dies with notices in flight.
            eventually(lambda: receiver.holding >= 1, what="a notice held by the receiver")
            first.kill()
        finally:
            first.stop()
        in_flight = {arrival.key for arrival in receiver.received()}
        receiver.release()

        with Served(env, workdir=tmp_path) as second:
            eventually(
                lambda: len(rows := _notices(url)) == MESSAGES and all(s for _, _, s in rows),
                what="every notice sent by the restarted server",
            )
            rows = _notices(url)
            for state in ("waiting", "failed"):
                listed = client.get(
                    f"{second.url}/api/outbox",
                    params={"state": state},
                    headers=bearer(seeded.auditor_token),
                )
                assert listed.status_code == 200 and listed.json() == [], listed.text

    # One notice (delivered, to the sender) per message; none lost.
    assert sorted(message for _, message, _ in rows if message) == sorted(
        answer.json()["id"] for answer in sent
    )
    arrivals = receiver.received()
    keys = {key for key, _, _ in rows}
    assert {arrival.key for arrival in arrivals} == keys
    # Every try of a notice carries its key, and a key names one notice.
    tries: dict[str, list[dict[str, object]]] = defaultdict(list)
    for arrival in arrivals:
        tries[arrival.key].append(arrival.body)
    for key, bodies in tries.items():
        assert all(body == bodies[0] for body in bodies), key
    by_message = defaultdict(set)
    for arrival in arrivals:
        by_message[arrival.body["message"], arrival.body["event"]].add(arrival.key)
    assert all(len(keys_of) == 1 for keys_of in by_message.values()), by_message
    # What was held when the server died was never answered: it was sent again.
    assert in_flight
    assert all(len(tries[key]) >= 2 for key in in_flight), {k: len(tries[k]) for k in in_flight}
