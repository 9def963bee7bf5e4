"""Mails accepted per second over SMTP with DKIM verified, beside the same letters
through the HTTP API, in one run, against real servers.

    uv run python bench/bench_mail.py [--seconds N] [--warmup W] [--concurrency C]
        [--rate R] [--processes P]

Goal (issue 16): at least 300 mails/s accepted on this 2-core machine, and p99
at most 200 ms at a paced 100 mails/s.

One fresh SQLite database (WAL, synchronous=FULL) is prepared as
``bench_accept.py`` prepares it (``bench/_serve.py``: a sender office, the
principal's office, a sender user with its token and Ed25519 key); then the
sender office's mail domain ``bench.example`` is given to it in the directory
with its DKIM key pinned (Ed25519, selector ``b1``) and signing required, and
the principal's address ``president-elect@pouch.example``.

Two phases, one server at a time on that database:

- *HTTP*: ``pouch serve --workers P`` (P = ``--processes``, 2 by default: one a
  core, as ``pouch mail serve --processes P`` runs), and
  the same client as ``bench_accept.py`` (its ``Submitter``: RFC 9421-signed
  submissions, signed ahead of the phase).
- *SMTP*: ``pouch mail serve`` and a lean asyncio SMTP client keeping one
  connection per slot: ``MAIL FROM``, ``RCPT TO`` (the precedence as a
  ``+tag``), ``DATA``. Each mail is the same letter, DKIM-signed (Ed25519,
  relaxed/relaxed) before the phase, with its own Message-ID. A mail counts
  only when the answer is 250 and says ``accepted as m-…``: it was stored, its
  ``received`` event logged, its signature verified against the pinned key,
  and it was accepted as a message, all before the 250. Each accepted mail
  also writes its automatic answer to the outbox (no relay is configured, so
  none leaves).

Each phase runs *full* (a closed loop, ``C`` in flight) after ``W`` seconds of
warm-up, then *paced* (an open loop, ``R`` a second at fixed times, latency
from the time a request was due). At the end the database is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import email.policy
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select

from _common import machine, percentile, sqlite_database, table
from _http import Connection
from _serve import PouchServer, Sender, free_port, prepare
from bench_accept import (
    LETTER,
    PRECEDENCES,
    Rejected,
    Submitter,
    Tally,
    _cpu,
    _run_loop,
    closed_loop,
    drain,
    open_loop,
)
from pouch.db import Database
from pouch.mail import service as mail_service
from pouch.mail.models import InboundMail, MailState
from pouch.messages.models import Message

GOAL_PER_S = 300
GOAL_P99_MS = 200.0
DOMAIN = "bench.example"
SELECTOR = "b1"
PRINCIPAL = "president-elect@pouch.example"
SENDER_ADDRESS = f"desk@{DOMAIN}"


class MailServer(PouchServer):
    """``python -m pouch.cli mail serve`` on the database, as its own process."""

    def start(self, *, timeout: float = 30.0) -> None:
        import subprocess

        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "pouch.cli", "mail", "serve"),
                    *("--port", str(self.port), "--processes", str(self.workers)),
                ],
                env=self.environment(),
                cwd=self.data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"pouch mail serve exited:\n{self.tail()}")
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"220"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"pouch mail serve not ready:\n{self.tail()}")
            time.sleep(0.05)  # polling for start-up


def give_mail(database: Database, sender: Sender) -> ed25519.Ed25519PrivateKey:
    """The sender office's mail domain with its pinned DKIM key; the principal's address."""
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    record = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
    now = datetime.now(UTC)
    with database.transaction() as session:
        mail_service.set_office_mail(
            session,
            sender.sender_office_id,
            mail_service.OfficeMail(
                addresses=[f"@{DOMAIN}"],
                pins=[{"domain": DOMAIN, "selector": SELECTOR, "record": record}],
                require_signed=True,
            ),
            now=now,
            by=None,
        )
        mail_service.set_office_mail(
            session,
            sender.addressee_office_id,
            mail_service.OfficeMail(addresses=[PRINCIPAL], pins=[], require_signed=False),
            now=now,
            by=None,
        )
    return key


class Letters:
    """The same letters as the HTTP phase, as mails DKIM-signed ahead of the phase."""

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self.seed = base64.b64encode(seed)
        self.count = 0
        self.ready: list[tuple[str, bytes]] = []
        self.signed_late = 0

    def one(self) -> tuple[str, bytes]:
        self.count += 1
        n = self.count
        precedence = PRECEDENCES[n % len(PRECEDENCES)].lower()
        mail = EmailMessage()
        mail["From"] = f"Department of the Taoiseach <{SENDER_ADDRESS}>"
        mail["To"] = PRINCIPAL
        mail["Subject"] = f"Congratulations on your election ({n})"
        mail["Message-ID"] = f"<bench-{n}-{time.time_ns()}@{DOMAIN}>"
        mail["Date"] = "Sun, 06 Dec 2026 20:00:00 +0000"
        mail.set_content(LETTER + "\n")
        raw = mail.as_bytes(policy=email.policy.SMTP)
        signature = dkim.sign(
            raw,
            SELECTOR.encode(),
            DOMAIN.encode(),
            self.seed,
            signature_algorithm=b"ed25519-sha256",
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[b"from", b"to", b"subject", b"message-id", b"date"],
        )
        return f"president-elect+{precedence}@pouch.example", bytes(signature) + raw

    def prepare(self, count: int) -> None:
        self.ready = [self.one() for _ in range(count)]
        self.ready.reverse()

    def next(self) -> tuple[str, bytes]:
        if self.ready:
            return self.ready.pop()
        self.signed_late += 1
        return self.one()


class SmtpClient:
    """One SMTP connection: a mail at a time, each answer read before the next command."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def reply(self) -> tuple[int, bytes]:
        assert self.reader is not None
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            lines.append(line[4:].rstrip())
            if line[3:4] != b"-":
                return int(line[:3]), b" ".join(lines)

    async def command(self, line: bytes, expect: int) -> bytes:
        assert self.writer is not None
        self.writer.write(line + b"\r\n")
        code, text = await self.reply()
        if code != expect:
            raise Rejected(f"{line.split(b':')[0]!r}: {code} {text[:200]!r}")
        return text

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        code, text = await self.reply()
        if code != 220:
            raise Rejected(f"banner {code} {text!r}")
        await self.command(b"EHLO bench.example", 250)

    async def send(self, recipient: str, raw: bytes) -> bytes:
        if self.writer is None:
            await self.open()
        await self.command(f"MAIL FROM:<{SENDER_ADDRESS}>".encode(), 250)
        await self.command(f"RCPT TO:<{recipient}>".encode(), 250)
        await self.command(b"DATA", 354)
        stuffed = raw.replace(b"\r\n.", b"\r\n..")
        return await self.command(stuffed + b".", 250)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def smtp_request(
    letters: Letters, port: int
) -> tuple[Callable[[Connection], Awaitable[None]], dict[int, SmtpClient]]:
    """The bench's request on a slot: one mail over that slot's SMTP connection (the
    loops hand out HTTP connections as slots; each gets an SMTP client of its own)."""
    clients: dict[int, SmtpClient] = {}

    async def request(slot: Connection) -> None:
        client = clients.setdefault(id(slot), SmtpClient(port))
        recipient, raw = letters.next()
        try:
            said = await client.send(recipient, raw)
        except (Rejected, OSError, ConnectionError, ValueError):
            await client.close()
            clients.pop(id(slot), None)
            raise
        if b"accepted as m-" not in said:
            raise Rejected(f"250 but not accepted: {said[:200]!r}")

    return request, clients


def http_request(submitter: Submitter) -> Callable[[Connection], Awaitable[None]]:
    return submitter.submit


async def measure(
    server: PouchServer,
    request: Callable[[Connection], Awaitable[None]],
    args: argparse.Namespace,
    label: str,
) -> list[tuple[str, Tally, dict[str, float]]]:
    host, port = "127.0.0.1", server.port
    slots = [Connection(host, port) for _ in range(args.concurrency)]
    rows = []
    await closed_loop(request, slots, seconds=args.warmup)
    await drain(server, quiet=1.0, limit=20)
    with _cpu(server) as cpu:
        full = await closed_loop(request, slots, seconds=args.seconds)
    rows.append((f"{label} full", full, cpu))
    await drain(server, quiet=1.0, limit=20)
    endpoint = (host, port)
    with _cpu(server) as cpu:
        paced = await open_loop(request, endpoint, rate=args.rate, seconds=args.seconds)
    rows.append((f"{label} paced {args.rate:g}/s", paced, cpu))
    for slot in slots:
        await slot.close()
    return rows


def count(database: Database) -> tuple[int, int, int]:
    with database.transaction(write=False) as session:
        messages = session.scalar(select(func.count()).select_from(Message)) or 0
        by_mail = (
            session.scalar(
                select(func.count())
                .select_from(InboundMail)
                .where(InboundMail.state == MailState.ACCEPTED)
            )
            or 0
        )
        arrivals = session.scalar(select(func.count()).select_from(InboundMail)) or 0
    return messages, by_mail, arrivals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="server processes of each kind (pouch serve --workers, pouch mail serve "
        "--processes); 2, one a core",
    )
    args = parser.parse_args()
    print(machine())
    workdir = Path(tempfile.mkdtemp(prefix="pouch-bench-mail-"))
    path = workdir / "pouch.sqlite"
    database = sqlite_database(path)
    sender = prepare(database)
    key = give_mail(database, sender)
    url = f"sqlite:///{path}"
    rows: list[tuple[str, Tally, dict[str, float]]] = []
    expected = round(args.rate * args.seconds) + round(
        (args.warmup + args.seconds) * GOAL_PER_S * 2
    )

    http = PouchServer(url, data_dir=workdir / "http", workers=args.processes)
    submitter = Submitter(sender, http.base_url)
    submitter.prepare(expected)
    try:
        http.start()
        rows += _run_loop(measure(http, http_request(submitter), args, "HTTP"))
    finally:
        http.stop()
    http_late = submitter.signed_late

    letters = Letters(key)
    started = time.monotonic()
    letters.prepare(expected)
    sign_ms = (time.monotonic() - started) / expected * 1000
    smtp = MailServer(
        url,
        data_dir=workdir / "smtp",
        port=free_port(),
        skey=http.skey,
        settings={},
        workers=args.processes,
    )
    smtp.settings["POUCH_MAIL_PORT"] = str(smtp.port)
    request, _ = smtp_request(letters, smtp.port)
    try:
        smtp.start()
        rows += _run_loop(measure(smtp, request, args, "SMTP"))
    finally:
        smtp.stop()
    logged = smtp.logged_exceptions() + http.logged_exceptions()

    print(
        f"\n{args.seconds:g} s per phase after {args.warmup:g} s of warm-up, "
        f"{args.concurrency} in flight (full); SQLite; {args.processes} server "
        "process(es) each"
    )
    print(
        table(
            ["mode", "ok", "errors", "rate/s", "p50 ms", "p99 ms", "server CPU s", "wall s"],
            [
                [
                    mode,
                    t.ok,
                    t.errors,
                    f"{t.rate:,.0f}",
                    f"{percentile(t.latencies, 50) * 1000:.1f}" if t.latencies else "-",
                    f"{percentile(t.latencies, 99) * 1000:.1f}" if t.latencies else "-",
                    f"{cpu['server']:.1f}",
                    f"{cpu['wall']:.1f}",
                ]
                for mode, t, cpu in rows
            ],
        )
    )
    for mode, t, _ in rows:
        for kind, n in t.error_kinds.items():
            print(f"  {mode}: {n} x {kind}")
    (_, http_full, _), _, (_, smtp_full, _), (_, smtp_paced, _) = rows
    ratio = smtp_full.rate / http_full.rate if http_full.rate else 0.0
    p99 = percentile(smtp_paced.latencies, 99) * 1000 if smtp_paced.latencies else float("inf")
    print(f"\nSMTP ÷ HTTP (full): {ratio:.2f}")
    print(
        f"goal: ≥ {GOAL_PER_S} mails/s: {smtp_full.rate:,.0f} "
        f"({'met' if smtp_full.rate >= GOAL_PER_S else 'NOT met'}); "
        f"p99 ≤ {GOAL_P99_MS:.0f} ms at {args.rate:g}/s: {p99:.1f} ms "
        f"({'met' if p99 <= GOAL_P99_MS else 'NOT met'})"
    )
    print(
        f"DKIM signing ahead: {sign_ms:.2f} ms a mail; signed late: HTTP {http_late}, "
        f"SMTP {letters.signed_late}"
    )
    messages, by_mail, arrivals = count(database)
    http_ok = sum(t.ok for mode, t, _ in rows if mode.startswith("HTTP"))
    smtp_ok = sum(t.ok for mode, t, _ in rows if mode.startswith("SMTP"))
    print(
        f"database: {messages} messages ({by_mail} from {arrivals} arrivals by mail); "
        f"counted ok (measured phases only): HTTP {http_ok}, SMTP {smtp_ok}"
    )
    if logged:
        print("servers logged exceptions:")
        for line, n in logged.most_common(8):
            print(f"  {n:6} {line}")
    database.dispose()


if __name__ == "__main__":
    main()
