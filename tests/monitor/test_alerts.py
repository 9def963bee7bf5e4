"""Each new alarm is alerted once: by webhook (JSON, retried) to a real receiver, by
e-mail to a real SMTP server (aiosmtpd); a later poll that finds the same alarm does
not alert it again, a new one is alerted alone, and a channel that failed gets the
alarm at the next poll. ``--interval`` polls until stopped."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from pouch.ledger.note import Ed25519Verifier
from pouch.messages.rules import Precedence
from pouch.monitor.keys import parse_key_history
from pouch.monitor.service import Config, Monitor, Report, run
from pouch.monitor.state import StateDirectory
from tests.monitor.helpers import Party, Pouch, letter, run_monitor


@dataclass
class Receiver:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to that many requests first


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook = box[0]
            if hook.fail_next:
                hook.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            hook.posts.append(json.loads(body))
            hook.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/alarms"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()


def kinds(post: dict[str, Any]) -> list[str]:
    return [alarm["kind"] for alarm in post["alarms"]]


def miss_a_deadline(pouch: Pouch, n: int) -> str:
    """A FLASH message the stopped worker never delivers, and its deadline gone by."""
    accepted = pouch.submit(**letter(n) | {"precedence": Precedence.FLASH})
    pouch.publish()
    pouch.clock.advance(timedelta(minutes=12))
    return accepted.message.public_id


def test_each_new_alarm_is_posted_once_and_a_failed_post_is_retried(
    pouch: Pouch, office: Party, receiver: Receiver
) -> None:
    office.extra = ["--alert-webhook", receiver.url]
    first = miss_a_deadline(pouch, 0)
    receiver.fail_next = 1  # the first try fails; the retry, a second later, gets through
    result = office.poll()
    assert result.code == 1
    assert [kinds(p) for p in receiver.posts] == [["deadline-missed"]]
    post = receiver.posts[0]
    assert post["alarms"][0]["evidence"]["message"] == first
    assert post["monitor"] == {"party": f"office {office.office_id}", "url": pouch.url}
    assert receiver.headers[0]["content-type"] == "application/json"

    # The same alarm at the next poll: printed again, not alerted again.
    again = office.poll()
    assert again.code == 1 and "(alerted before)" in again.output
    assert len(receiver.posts) == 1

    # A new one is alerted alone.
    second = miss_a_deadline(pouch, 1)
    office.poll()
    assert len(receiver.posts) == 2
    assert [a["evidence"]["message"] for a in receiver.posts[1]["alarms"]] == [second]

    # A receiver that keeps failing: the alarm is tried again at the next poll.
    receiver.fail_next = 3
    third = miss_a_deadline(pouch, 2)
    failed = office.poll()
    assert "alert not sent: webhook" in failed.output and len(receiver.posts) == 2
    office.poll()
    assert [a["evidence"]["message"] for a in receiver.posts[2]["alarms"]] == [third]


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


def test_each_new_alarm_is_mailed_once(pouch: Pouch, office: Party) -> None:
    mailbox = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        office.extra = ["--alert-email", "watch@transition.example"]
        env = {"POUCH_SMTP_HOST": "127.0.0.1", "POUCH_SMTP_PORT": str(port)}
        late = miss_a_deadline(pouch, 0)
        for _ in range(2):
            result = run_monitor(pouch.clock, office.args("--once"), env)
            assert result.code == 1
    finally:
        controller.stop()
    (mail,) = mailbox.messages
    assert mail.rcpt_tos == ["watch@transition.example"]
    text = mail.content.decode()
    assert "ALARM deadline-missed" in text and late in text


def test_with_an_interval_it_polls_until_stopped(pouch: Pouch, office: Party) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    config = Config(
        url=pouch.url,
        log_key=Ed25519Verifier.from_vkey(pouch.vkey_file.read_text().strip()),
        office=office.office_id,
        role="office",
        token=office.token,
        keys=parse_key_history(office.key_file.read_text()),
    )
    stop = threading.Event()
    reports: list[Report] = []

    def each(report: Report) -> None:
        reports.append(report)
        if len(reports) == 1:
            pouch.submit(**letter(1))
            pouch.publish()
        else:
            stop.set()

    with httpx.Client() as client:
        watcher = Monitor(config, StateDirectory(office.state), clock=pouch.clock, client=client)
        run(watcher, interval=0.01, stop=stop, on_report=each)
    assert [r.complete and not r.alarms for r in reports] == [True, True]
    assert reports[1].added >= 1 and reports[1].log_size > reports[0].log_size
