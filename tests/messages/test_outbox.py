"""The outbox, drained to a real SMTP server (aiosmtpd) and real webhook receivers,
one of which never answers; the database is never held while a notice is sent."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import destinations, notify, outbox
from pouch.messages import service as message_service
from pouch.messages.models import Notification, NotificationChannel, OfficeEndpoint
from tests.factories import World, build_world
from tests.messages.helpers import route, submit

LOCAL = destinations.Policy(allow_http=True, allow_private=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


@dataclass
class Receiver:
    """A webhook receiver: what it was sent, and whether it answers at all."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answer: bool = True
    #: Set: a receiver that does not answer lets go of what it holds.
    release: threading.Event = field(default_factory=threading.Event)


def _receiver(answer: bool) -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            box[0].received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            if not box[0].answer:
                box[0].release.wait(30)  # a tarpit: reads the request, never answers
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", answer=answer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    box[0].release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    yield from _receiver(answer=True)


@pytest.fixture
def tarpit() -> Iterator[Receiver]:
    yield from _receiver(answer=False)


def _outbox(
    database: Database,
    clock: ManualClock,
    http: httpx.Client,
    *,
    relay: outbox.MailRelay | None = None,
    timeout: float = 5,
    policy: destinations.Policy = LOCAL,
    resolver: outbox.Resolver = outbox.resolve,
) -> outbox.Outbox:
    return outbox.Outbox(
        database,
        clock=clock,
        transport=outbox.Transport(
            http=http, relay=relay, timeout=timeout, policy=policy, resolver=resolver
        ),
        interval=5,
        lease=timedelta(minutes=5),
    )


def _endpoint(database: Database, office_id: int, **fields: str | None) -> None:
    with database.transaction() as session:
        endpoint = session.get(OfficeEndpoint, office_id) or OfficeEndpoint(office_id=office_id)
        for name, value in fields.items():
            setattr(endpoint, name, value)
        session.add(endpoint)


def _deliver_one(database: Database, clock: ManualClock, world: World) -> str:
    public_id = submit(database, clock, world).message.public_id
    route(database, clock, world, public_id)
    return public_id


def _notices(database: Database) -> list[Notification]:
    with database.transaction(write=False) as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_steps_reach_the_sender_by_signed_webhook_and_mail_each_with_its_key(
    database: Database,
    clock: ManualClock,
    world: World,
    smtp_server: tuple[int, Mailbox],
    webhook: Receiver,
) -> None:
    port, mailbox = smtp_server
    office = world.offices["ie-taoiseach"].id
    _endpoint(
        database,
        office,
        webhook_url=webhook.url,
        webhook_secret="hook-secret",
        email="dublin@example.ie",
    )
    public_id = _deliver_one(database, clock, world)
    relay = outbox.MailRelay(
        host="127.0.0.1",
        port=port,
        starttls=False,
        username=None,
        password=None,
        mail_from="pouch@mfa.example",
    )
    with httpx.Client() as http:
        sender = _outbox(database, clock, http, relay=relay)
        try:
            done = sender.run_once()
        finally:
            sender.close()
    assert done == outbox.Round(sent=2)
    headers, body = webhook.received[0]
    payload = json.loads(body)
    assert payload["event"] == "delivered" and payload["message"] == public_id
    assert headers["x-pouch-signature"] == notify.sign_webhook(
        "hook-secret", headers["x-pouch-timestamp"], body
    )
    webhook_notice, mail_notice = _notices(database)
    assert headers["idempotency-key"] == webhook_notice.key
    assert mailbox.messages[0].rcpt_tos == ["dublin@example.ie"]
    mail = mailbox.messages[0].content.decode()
    assert f"delivered: ROUTINE message {public_id}" in mail
    assert f"<{mail_notice.key}" in mail  # the Message-ID names the notice
    assert all(n.sent_at is not None and n.lease_until is None for n in _notices(database))


def test_failures_are_retried_with_backoff_then_given_up_and_shown(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/nobody-listens"
    _endpoint(database, world.offices["ie-taoiseach"].id, webhook_url=dead)
    _deliver_one(database, clock, world)
    with httpx.Client() as http:
        sender = _outbox(database, clock, http, timeout=2)
        try:
            for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
                sender.run_once()
                (row,) = _notices(database)
                assert row.attempts == attempt and "ConnectError" in (row.last_error or "")
                # Not due again until its backoff has passed.
                assert sender.run_once() == outbox.Round()
                clock.advance(timedelta(minutes=2**attempt))
        finally:
            sender.close()
    (row,) = _notices(database)
    assert row.failed
    shown_to = app_client.get("/api/outbox", headers=world.auth(Role.AUDITOR))
    assert shown_to.status_code == 200, shown_to.text
    assert [n["key"] for n in shown_to.json()] == [row.key]
    assert (
        app_client.get("/api/outbox?state=waiting", headers=world.auth(Role.AUDITOR)).json() == []
    )
    assert app_client.get("/api/outbox", headers=world.auth(Role.SENDER)).status_code == 403
    with database.transaction(write=False) as session:
        (shown,) = outbox.pending(session, failed=True)
        assert shown.id == row.id and "ConnectError" in (shown.last_error or "")
        assert outbox.depth(session) == outbox.Depth(waiting=0, failed=1, oldest=None)


def test_mail_waits_when_no_relay_is_configured(
    database: Database, clock: ManualClock, world: World
) -> None:
    _endpoint(database, world.offices["ie-taoiseach"].id, email="dublin@example.ie")
    _deliver_one(database, clock, world)
    with httpx.Client() as http:
        sender = _outbox(database, clock, http)
        try:
            assert sender.run_once() == outbox.Round()
        finally:
            sender.close()
    (row,) = _notices(database)
    assert row.attempts == 0 and row.sent_at is None and row.lease_until is None


@pytest.mark.parametrize("bad", ["http://a..b/", "http://[::1"])
def test_one_office_with_a_broken_webhook_stops_no_one_else(
    database: Database, clock: ManualClock, world: World, webhook: Receiver, bad: str
) -> None:
    # Stored before addresses were checked (or by hand): only its own notices fail.
    _endpoint(database, world.offices["ie-taoiseach"].id, webhook_url=bad)
    _endpoint(database, world.offices["president-elect"].id, webhook_url=webhook.url)
    public_id = submit(database, clock, world).message.public_id
    with database.transaction() as session:
        message = message_service.get_message(session, public_id)
        notify.message_step(
            session,
            message,
            "held",
            at=clock.now(),
            audience=("sender", "addressee"),
        )
    with httpx.Client() as http:
        sender = _outbox(database, clock, http)
        try:
            assert sender.run_once() == outbox.Round(sent=1, retried=1)
            assert len(webhook.received) == 1
            # The office corrects its address: the notice still waiting goes there.
            _endpoint(database, world.offices["ie-taoiseach"].id, webhook_url=webhook.url)
            clock.advance(timedelta(minutes=2))
            assert sender.run_once() == outbox.Round(sent=1)
        finally:
            sender.close()
    assert len(webhook.received) == 2
    assert all(n.sent_at is not None for n in _notices(database))


def test_a_webhook_that_never_answers_holds_no_transaction_and_no_other_notice(
    database: Database, clock: ManualClock, world: World, webhook: Receiver, tarpit: Receiver
) -> None:
    _endpoint(database, world.offices["ie-taoiseach"].id, webhook_url=tarpit.url)
    _endpoint(database, world.offices["president-elect"].id, webhook_url=webhook.url)
    public_id = submit(database, clock, world).message.public_id
    with database.transaction() as session:
        message = message_service.get_message(session, public_id)
        for _ in range(5):  # five notices to the tarpit, one to a live receiver
            notify.message_step(session, message, "held", at=clock.now())
        notify.message_step(session, message, "held", at=clock.now(), audience=("addressee",))
    writes: list[float] = []
    database.observers.append(lambda write, held: writes.append(held) if write else None)
    with httpx.Client() as http:
        sender = _outbox(database, clock, http, timeout=1)
        try:
            started = time.monotonic()
            done = sender.run_once()
            took = time.monotonic() - started
        finally:
            sender.close()
    assert done == outbox.Round(sent=1, retried=5)
    assert len(webhook.received) == 1
    # At most two at once went to the tarpit; each waited its timeout, with no
    # transaction open: the two short ones (claim, record) are all that wrote.
    assert took >= 1.0
    assert len(writes) == 2 and max(writes) < took / 2
    assert all("ReadTimeout" in (n.last_error or "") for n in _notices(database)[:5])


def test_a_name_is_checked_where_it_points_when_sent_and_connected_to_as_checked(
    database: Database, clock: ManualClock, world: World, webhook: Receiver
) -> None:
    port = httpx.URL(webhook.url).port
    _endpoint(
        database,
        world.offices["ie-taoiseach"].id,
        webhook_url=f"http://hooks.ie.example:{port}/hook",
    )
    _deliver_one(database, clock, world)

    def rebound(host: str, port: int) -> list[destinations.Address]:
        # Public when the address was set; pointing at Pouch's own machine now.
        assert host == "hooks.ie.example"
        return [ipaddress.ip_address("127.0.0.1")]

    with httpx.Client() as http:
        strict = _outbox(
            database,
            clock,
            http,
            policy=destinations.Policy(allow_http=True),
            resolver=rebound,
        )
        try:
            assert strict.run_once() == outbox.Round(retried=1)
        finally:
            strict.close()
        (row,) = _notices(database)
        assert "127.0.0.1 is a loopback address" in (row.last_error or "")
        assert webhook.received == []
        # Where the operator allows its own network, the request goes to the address
        # that was checked, still naming the host it was meant for.
        clock.advance(timedelta(minutes=2))
        allowed = _outbox(database, clock, http, resolver=rebound)
        try:
            assert allowed.run_once() == outbox.Round(sent=1)
        finally:
            allowed.close()
    headers, _ = webhook.received[0]
    assert headers["host"] == f"hooks.ie.example:{port}"


def test_a_sender_that_dies_leaves_its_notices_to_be_sent_again_with_the_same_key(
    database: Database, clock: ManualClock, world: World, webhook: Receiver
) -> None:
    _endpoint(database, world.offices["ie-taoiseach"].id, webhook_url=webhook.url)
    _deliver_one(database, clock, world)
    with database.transaction() as session:
        (claimed,) = outbox.claim(
            session, now=clock.now(), lease=timedelta(minutes=5), limit=10, email=False
        )
    # ... and the process dies before recording anything: the notice stays leased.
    with httpx.Client() as http:
        sender = _outbox(database, clock, http)
        try:
            assert sender.run_once() == outbox.Round()
            clock.advance(timedelta(minutes=5))
            assert sender.run_once() == outbox.Round(sent=1)
        finally:
            sender.close()
    headers, _ = webhook.received[0]
    assert headers["idempotency-key"] == claimed.key


def test_a_notice_for_an_office_without_its_endpoint_any_more_is_given_up(
    database: Database, clock: ManualClock, world: World, webhook: Receiver
) -> None:
    office = world.offices["ie-taoiseach"].id
    _endpoint(database, office, webhook_url=webhook.url)
    _deliver_one(database, clock, world)
    _endpoint(database, office, webhook_url=None)
    with httpx.Client() as http:
        sender = _outbox(database, clock, http)
        try:
            assert sender.run_once() == outbox.Round(failed=1)
        finally:
            sender.close()
    (row,) = _notices(database)
    assert row.failed and "no webhook endpoint any more" in (row.last_error or "")


def _notice(session: Any, office_id: int, clock: ManualClock, n: int) -> None:
    session.add(
        Notification(
            key=f"key-{office_id}-{n}",
            channel=NotificationChannel.WEBHOOK,
            office_id=office_id,
            target="(the office's webhook)",
            subject=f"notice {n}",
            payload={"event": "delivered", "n": n},
            created_at=clock.now(),
            next_attempt_at=clock.now(),
            attempts=0,
            failed=False,
        )
    )


def test_a_webhook_that_never_answers_holds_only_its_own_slots(
    fresh_database: Database, clock: ManualClock, tarpit: Receiver, webhook: Receiver
) -> None:
    """Five notices for an office whose webhook never answers, queued before one for
    another office: the other office's notice goes out at once, while the tarpit holds
    the two sends it may have (``per_endpoint``); the rest wait, unleased, in the
    outbox. Each send hands in its outcome when it ends, recorded at the outbox's next
    turn (pump), not at the end of a round."""
    database = fresh_database
    world = build_world(database, clock)
    stuck, healthy = world.offices["ie-taoiseach"].id, world.offices["president-elect"].id
    _endpoint(database, stuck, webhook_url=tarpit.url)
    _endpoint(database, healthy, webhook_url=webhook.url)
    with database.transaction() as session:
        for n in range(5):
            _notice(session, stuck, clock, n)
        _notice(session, healthy, clock, 5)
    with httpx.Client() as http:
        sender = _outbox(database, clock, http, timeout=30)
        try:
            started = sender.pump()  # the batch: two to the tarpit, the healthy one
            assert started == 3
            deadline = time.monotonic() + 10
            while not webhook.received or len(tarpit.received) < 2:
                assert time.monotonic() < deadline, "the healthy notice never left"
                time.sleep(0.02)  # polling the receivers, not waiting for a deadline
            deadline = time.monotonic() + 10
            while (row := _by_office(database, healthy)[0]).sent_at is None:
                assert time.monotonic() < deadline, "the healthy notice was never recorded"
                # The next turn records it; it finds no room at the tarpit's host, and
                # claims nothing there.
                assert sender.pump() == 0
                time.sleep(0.02)
            waiting = _by_office(database, stuck)
            assert sum(n.lease_until is not None for n in waiting) == 2
            assert all(n.sent_at is None and n.attempts == 0 for n in waiting)
            assert len(tarpit.received) == 2
        finally:
            tarpit.release.set()
            sender.close()
    assert row.attempts == 1


def test_answers_ending_together_are_recorded_in_one_transaction(
    fresh_database: Database, clock: ManualClock, webhook: Receiver
) -> None:
    """Eight sends that end between two turns cost the writer one transaction, not eight:
    acceptance shares that writer (SQLite has one), and prompt webhooks answer by the
    hundred a second under load."""
    database = fresh_database
    world = build_world(database, clock)
    office = world.offices["ie-taoiseach"].id
    _endpoint(database, office, webhook_url=webhook.url)
    with database.transaction() as session:
        for n in range(8):
            _notice(session, office, clock, n)
    writes: list[float] = []
    database.observers.append(lambda write, held: writes.append(held) if write else None)
    with httpx.Client() as http:
        sender = outbox.Outbox(
            database,
            clock=clock,
            transport=outbox.Transport(http=http, relay=None, timeout=5, policy=LOCAL),
            interval=5,
            lease=timedelta(minutes=5),
            per_endpoint=8,
        )
        try:
            assert sender.pump() == 8
            deadline = time.monotonic() + 10
            while sender.open_sends():
                assert time.monotonic() < deadline, "the sends never ended"
                time.sleep(0.02)  # polling the sends, not waiting for a deadline
            assert len(webhook.received) == 8
            assert all(n.sent_at is None for n in _by_office(database, office))
            del writes[:]
            assert sender.pump() == 0  # nothing left to claim; eight outcomes recorded
            assert len(writes) == 1
        finally:
            sender.close()
    rows = _by_office(database, office)
    assert [(n.sent_at, n.attempts, n.lease_until) for n in rows] == [(clock.now(), 1, None)] * 8


def _by_office(database: Database, office_id: int) -> list[Notification]:
    with database.transaction(write=False) as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.office_id == office_id)
                .order_by(Notification.id)
            )
        )
