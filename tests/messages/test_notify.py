"""The outbox, drained to a real SMTP server (aiosmtpd) and a real webhook receiver."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
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
from pouch.messages import notify
from pouch.messages import service as message_service
from pouch.messages.models import Notification, OfficeEndpoint
from tests.factories import World
from tests.messages.helpers import submit


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


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    status = {"code": 204}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_steps_reach_the_sender_by_webhook_and_mail(
    database: Database,
    clock: ManualClock,
    world: World,
    smtp_server: tuple[int, Mailbox],
    webhook_server: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    port, mailbox = smtp_server
    url, received = webhook_server
    with database.transaction() as session:
        session.add(
            OfficeEndpoint(
                office_id=world.offices["ie-taoiseach"].id,
                webhook_url=url,
                webhook_secret="hook-secret",
                email="dublin@example.ie",
            )
        )
    public_id = submit(database, clock, world).message.public_id
    with database.transaction() as session:
        message_service.route(
            session,
            public_id=public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
    relay = notify.MailRelay(
        host="127.0.0.1",
        port=port,
        starttls=False,
        username=None,
        password=None,
        mail_from="pouch@mfa.example",
    )
    with httpx.Client() as http, database.transaction() as session:
        sent = notify.send_pending(
            session, senders=notify.Senders(http=http, relay=relay, timeout=5), now=clock.now()
        )
    assert sent == 2
    headers, body = received[0]
    payload = json.loads(body)
    assert payload["event"] == "delivered" and payload["message"] == public_id
    assert headers["x-pouch-signature"] == notify.sign_webhook(
        "hook-secret", headers["x-pouch-timestamp"], body
    )
    assert mailbox.messages[0].rcpt_tos == ["dublin@example.ie"]
    assert f"delivered: ROUTINE message {public_id}" in mailbox.messages[0].content.decode()
    with database.transaction(write=False) as session:
        assert all(n.sent_at is not None for n in session.scalars(select(Notification)))


def test_failures_are_retried_with_backoff_then_abandoned(
    database: Database, clock: ManualClock, world: World
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/nobody-listens"
    with database.transaction() as session:
        session.add(OfficeEndpoint(office_id=world.offices["ie-taoiseach"].id, webhook_url=dead))
    public_id = submit(database, clock, world).message.public_id
    with database.transaction() as session:
        message_service.route(
            session,
            public_id=public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
    with httpx.Client() as http:
        senders = notify.Senders(http=http, relay=None, timeout=2)
        for attempt in range(1, notify.MAX_ATTEMPTS + 1):
            with database.transaction() as session:
                assert notify.send_pending(session, senders=senders, now=clock.now()) == 0
                row = session.scalars(select(Notification)).one()
                assert row.attempts == attempt
                assert "ConnectError" in (row.last_error or "")
            # Not due again until its backoff has passed.
            with database.transaction() as session:
                notify.send_pending(session, senders=senders, now=clock.now())
                assert session.scalars(select(Notification)).one().attempts == attempt
            clock.advance(timedelta(minutes=2**attempt))
    with database.transaction(write=False) as session:
        assert session.scalars(select(Notification)).one().failed


def test_mail_waits_when_no_relay_is_configured(
    database: Database, clock: ManualClock, world: World
) -> None:
    with database.transaction() as session:
        session.add(
            OfficeEndpoint(office_id=world.offices["ie-taoiseach"].id, email="dublin@example.ie")
        )
    public_id = submit(database, clock, world).message.public_id
    with database.transaction() as session:
        message_service.route(
            session,
            public_id=public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
    with httpx.Client() as http, database.transaction() as session:
        assert (
            notify.send_pending(
                session, senders=notify.Senders(http=http, relay=None, timeout=2), now=clock.now()
            )
            == 0
        )
        row = session.scalars(select(Notification)).one()
        assert row.attempts == 0 and row.sent_at is None


def test_an_office_sets_its_endpoints_and_sees_each_new_secret_once(
    app_client: TestClient, database: Database, world: World
) -> None:
    url = f"/api/offices/{world.offices['ie-taoiseach'].id}/endpoint"
    admin = world.auth(Role.ADMINISTRATOR)
    first = app_client.put(url, json={"webhook_url": "https://ie.example/hook"}, headers=admin)
    assert first.status_code == 200, first.text
    secret = first.json()["webhook_secret"]
    assert secret
    same = app_client.put(
        url,
        json={"webhook_url": "https://ie.example/hook", "email": "desk@ie.example"},
        headers=admin,
    ).json()
    assert same["webhook_secret"] is None and same["email"] == "desk@ie.example"
    moved = app_client.put(url, json={"webhook_url": "https://ie.example/new"}, headers=admin)
    assert moved.json()["webhook_secret"] not in (None, secret)
    assert app_client.put(url, json={}, headers=admin).json()["webhook_secret"] is None
    with database.transaction(write=False) as session:
        endpoint = session.get(OfficeEndpoint, world.offices["ie-taoiseach"].id)
        assert endpoint is not None
        assert (endpoint.webhook_url, endpoint.webhook_secret, endpoint.email) == (None, None, None)
    assert app_client.put("/api/offices/999999/endpoint", json={}, headers=admin).status_code == 404
