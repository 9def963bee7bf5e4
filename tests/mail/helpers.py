"""What the mail tests share: the published corpora, a DNS server on a free UDP
port that serves their key records, and an SMTP client speaking to the real server."""

from __future__ import annotations

import asyncio
import asyncio.base_events
import smtplib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiosmtpd.smtp import SMTP
from sqlalchemy import select

from pouch.clock import Clock
from pouch.db import Database
from pouch.groupcommit import GroupCommitter
from pouch.mail.flows import MailIntake
from pouch.mail.keys import dns_lookup, dns_txt
from pouch.mail.models import InboundMail, MailState
from pouch.mail.server import MailServer
from pouch.messages.rules import DEFAULT_TIMETABLE
from tests.messages.helpers import LIMITS

DATA = Path(__file__).parent / "data"


def corpus(name: str) -> bytes:
    return (DATA / name).read_bytes()


def crlf(raw: bytes) -> bytes:
    """A mail as it travels: CRLF line ends (the corpora are stored with LF)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def mail_auth_case(name: str) -> tuple[dict[str, str], bytes]:
    """A stalwartlabs/mail-auth test file: its DNS TXT records (``name value`` lines),
    a blank line, then the signed mail."""
    text = corpus(name)
    head, _, message = text.replace(b"\r\n", b"\n").partition(b"\n\n")
    records = {}
    for line in head.decode().splitlines():
        owner, _, value = line.partition(" ")
        records[owner.lower().rstrip(".")] = value
    return records, crlf(message)


class DnsServer:
    """A DNS server on 127.0.0.1 and a free UDP port answering TXT queries from
    ``records`` (name -> value, or a list of values for several records), NXDOMAIN for
    anything else; it counts its queries. ``records`` may change while it serves (with
    ``ttl=0``, so that no resolver keeps an answer)."""

    def __init__(self, records: dict[str, str | list[str]], *, ttl: int = 60) -> None:
        self.records = {k.lower().rstrip("."): v for k, v in records.items()}
        self.ttl = ttl
        self.queries: list[str] = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        # A closed socket does not wake a blocked recvfrom: the loop looks up now and then.
        self.socket.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._running = True

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self.socket.close()

    def _serve(self) -> None:
        while self._running:
            try:
                wire, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(wire)
            answer = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            self.queries.append(name)
            value = self.records.get(name)
            if value is None or question.rdtype != dns.rdatatype.TXT:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            else:
                answer.answer.append(
                    dns.rrset.from_text_list(
                        question.name,
                        self.ttl,
                        dns.rdataclass.IN,
                        "TXT",
                        [_strings(v) for v in ([value] if isinstance(value, str) else value)],
                    )
                )
            self.socket.sendto(answer.to_wire(), peer)


def _strings(value: str) -> str:
    """A record as a zone file writes it: strings of at most 255 bytes (a long record
    travels as several), quoted."""
    data = value.encode()
    return " ".join(
        '"' + data[i : i + 255].decode().replace('"', '\\"') + '"' for i in range(0, len(data), 255)
    )


@dataclass(frozen=True)
class Reply:
    code: int
    text: str


def send(port: int, raw: bytes, *, sender: str, to: list[str]) -> tuple[list[Reply], Reply]:
    """One SMTP transaction with smtplib: each RCPT TO's reply, then DATA's (or, with
    no recipient accepted, the reply to the last RCPT)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("sender.example")
        code, said = client.mail(sender)
        assert code == 250, said
        replies = [Reply(*_decoded(client.rcpt(address))) for address in to]
        if not any(r.code == 250 for r in replies):
            return replies, replies[-1]
        return replies, Reply(*_decoded(client.data(raw)))


def _decoded(reply: tuple[int, bytes]) -> tuple[int, str]:
    return reply[0], reply[1].decode("utf-8", "replace")


def arrivals(database: Database) -> list[InboundMail]:
    """Every arrival, oldest first, detached from its session."""
    with database.transaction(write=False) as session:
        mails = list(session.scalars(select(InboundMail).order_by(InboundMail.id)))
        session.expunge_all()
        return mails


def quarantine_reason(database: Database) -> str:
    """The reason of the one arrival there is, which must be in quarantine."""
    (mail,) = arrivals(database)
    assert mail.state == MailState.QUARANTINED, mail.state
    assert mail.reason is not None
    return mail.reason


def mail_intake(
    database: Database, clock: Clock, *, dns: str, committer: GroupCommitter | None = None
) -> MailIntake:
    """The intake as the tests run it: keys and DMARC policies from the DNS server at ``dns``."""
    return MailIntake(
        database,
        clock=clock,
        timetable=DEFAULT_TIMETABLE,
        limits=LIMITS,
        dns=dns_lookup(server=dns, timeout=2),
        base_url="http://testserver",
        committer=committer,
        policies=dns_txt(server=dns, timeout=2),
    )


@contextmanager
def serving(intake: MailIntake, **options: Any) -> Iterator[int]:
    """The real listener on a free port, for the block: yields the port."""
    server = MailServer(
        intake,
        host="127.0.0.1",
        port=0,
        hostname="pouch.test",
        max_bytes=options.pop("max_bytes", 10**6),
        **options,
    )
    port = server.start()
    try:
        yield port
    finally:
        server.stop()


@dataclass(frozen=True)
class Delivered:
    """One mail as the relay received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


class Relay:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port: the relay Pouch's
    outbox sends through, keeping every mail it is given."""

    def __init__(self) -> None:
        self.received: list[Delivered] = []
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(
            Delivered(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 kept"

    def __enter__(self) -> Relay:
        self._server = self.loop.run_until_complete(
            self.loop.create_server(lambda: SMTP(self), host="127.0.0.1", port=0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        server = self._server
        assert server is not None

        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def logged_event(database: Database, index: int) -> dict[str, Any]:
    """The event the log holds at ``index`` (its opening), as committed."""
    from pouch.ledger import service as ledger_service

    with database.transaction(write=False) as session:
        opening = ledger_service.opening(session, index)
        assert opening is not None, f"no log entry {index}"
        return dict(opening.event)
