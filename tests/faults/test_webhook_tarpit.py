"""Five offices whose webhooks point at a tarpit, which takes connections and never
answers: while Pouch's outbox is stuck on them, another office's submissions are
accepted (the tarpit holds Pouch's connections open across each acceptance), and that
office's notices still reach its own receiver."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.helpers import (
    Receiver,
    Served,
    Tarpit,
    bearer,
    environment,
    eventually,
    free_port,
    pouch,
    seed,
    submit,
)

STUCK = [f"stuck-{n}" for n in range(5)]


@pytest.mark.slow
def test_a_webhook_tarpit_holds_up_neither_acceptance_nor_other_offices_notices(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'pouch.sqlite3'}"
    env = environment(
        database_url=url,
        data_dir=tmp_path / "data",
        port=free_port(),
        # The default two sends at once to the tarpit's host, each waiting 10 s: the
        # healthy office's notices must go past them, not wait for them.
        notify_timeout="PT10S",
    )
    pouch("db", "upgrade", env=env, cwd=tmp_path)
    with Tarpit() as tarpit, Receiver() as healthy, httpx.Client() as client:
        webhooks: dict[str, str | None] = {slug: f"{tarpit.url}/{slug}" for slug in STUCK}
        webhooks["healthy"] = healthy.url
        seeded = seed(url, webhooks=webhooks)
        with Served(env, workdir=tmp_path) as server:

            def send(slug: str) -> httpx.Response:
                office = seeded.offices[slug]
                return submit(client, server.url, office, to=seeded.principal, subject=slug)

            with ThreadPoolExecutor(len(STUCK)) as pool:
                stuck = list(pool.map(send, STUCK))
            assert [answer.status_code for answer in stuck] == [201] * len(STUCK)
            eventually(lambda: tarpit.open_now() >= 1, what="Pouch connected to the tarpit")

            accepted = []
            for _ in range(3):
                held = [c for c in tarpit.connections if c.closed is None]
                answer = send("healthy")
                assert answer.status_code == 201, answer.text
                # Acceptance did not wait for the tarpit: a connection open before the
                # submission is open still when it is accepted.
                assert any(c.closed is None for c in held), "the tarpit let go first"
                accepted.append(answer.json()["id"])

            # The healthy office is told of each of its messages' delivery.
            eventually(
                lambda: {a.body["message"] for a in healthy.received()} >= set(accepted),
                what="the healthy office's notices at its receiver",
            )
            # ... while every send to the tarpit is still open: they went past the stuck
            # notices instead of waiting for them to time out.
            assert tarpit.connections and all(c.closed is None for c in tarpit.connections)
            # The stuck offices' notices are not lost: each waits to be tried again (and
            # the healthy office's, once recorded as sent, no longer does).
            stuck_offices = sorted(seeded.offices[slug].id for slug in STUCK)

            def waiting() -> bool:
                listed = client.get(
                    f"{server.url}/api/outbox",
                    params={"state": "waiting"},
                    headers=bearer(seeded.auditor_token),
                )
                assert listed.status_code == 200, listed.text
                return sorted(notice["office_id"] for notice in listed.json()) == stuck_offices

            eventually(waiting, what="only the tarpit's notices waiting in the outbox")
