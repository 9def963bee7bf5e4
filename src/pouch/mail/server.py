"""``pouch mail serve``: an SMTP (or, for a front MTA, LMTP) listener with aiosmtpd.

What the sending MTA is told is what Pouch did, never more:

- ``RCPT TO`` an address no office receives at: ``550 5.1.1`` (the sender's
  MTA bounces it, so the sender knows); the directory not answering: ``451``.
- ``DATA`` over ``POUCH_MAIL_MAX_BYTES``: ``552`` (aiosmtpd's own check).
- ``DATA`` whose bytes could not be stored and logged (the database down, the
  disk full …): ``451 4.3.0``, and the MTA tries again later.
- ``250`` only once the bytes and their ``received`` event are committed; its
  text says what became of the mail (accepted as which messages, or
  quarantined and why), committed with them (``MailIntake.arrive``). Reading
  it may fail after the bytes are stored: the answer is still 250 (the mail
  is safe) and ``process_pending`` looks at it again.

With LMTP, one status line per recipient, all the same: the mail is stored
once for all of them.

One process parses and verifies one mail at a time on one core; with
``--processes N`` the first process binds the port and starts N - 1 more
(``Siblings``), each accepting from the same listening socket, so that the
kernel hands each connection to one of them. They write through the same
database, whose writers take turns, and a sibling that dies is started again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from pouch.mail.flows import MailIntake
from pouch.mail.service import Arrival

log = logging.getLogger(__name__)

TEMPORARY = "451 4.3.0 Pouch cannot store mail right now; try again later"
UNKNOWN_RECIPIENT = "550 5.1.1 No office receives mail at this address"
RECIPIENT_UNCHECKED = "451 4.3.0 Pouch cannot check the recipient right now; try again later"


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side of STARTTLS, with the operator's certificate and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class Handler:
    """aiosmtpd's handler: the recipients checked, the mail stored, then read.

    Every database step runs in a worker thread, never on the event loop; a mail
    waiting for its batch's commit holds no thread.
    """

    def __init__(self, intake: MailIntake, *, lmtp: bool) -> None:
        self.intake = intake
        self.lmtp = lmtp

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            office = await asyncio.to_thread(self.intake.recipient_office, address)
        except Exception:
            log.exception("could not check the recipient %r", address)
            return RECIPIENT_UNCHECKED
        if office is None:
            return UNKNOWN_RECIPIENT
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content
        assert isinstance(raw, bytes), "aiosmtpd keeps the bytes as they came"
        peer: Any = session.peer
        arrival = Arrival(
            raw=raw,
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            peer=str(peer[0] if isinstance(peer, tuple) else peer),
            helo=session.host_name,
            tls=session.ssl is not None,
        )
        try:
            outcome = await self.intake.arrive(arrival)
        except Exception:
            # Not stored: the sending MTA keeps the mail and tries again.
            log.exception("could not store a mail from %s", arrival.peer)
            return self._each(TEMPORARY, envelope)
        return self._each(f"250 2.0.0 {outcome.reply()}", envelope)

    def _each(self, status: str, envelope: Envelope) -> str:
        """LMTP answers once per recipient (RFC 2033 §4.2)."""
        if not self.lmtp:
            return status
        return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))


class MailServer:
    """The listener on an event loop of its own thread; ``port=0`` picks a free port."""

    def __init__(
        self,
        intake: MailIntake,
        *,
        host: str,
        port: int,
        hostname: str,
        max_bytes: int,
        tls: ssl.SSLContext | None = None,
        lmtp: bool = False,
        sock: socket.socket | None = None,
    ) -> None:
        self.handler = Handler(intake, lmtp=lmtp)
        self.sock = sock
        self.host = host
        self.port = port
        self.hostname = hostname
        self.max_bytes = max_bytes
        self.tls = tls
        self.lmtp = lmtp
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def _protocol(self) -> SMTP:
        kind = LMTP if self.lmtp else SMTP
        return kind(
            self.handler,
            hostname=self.hostname,
            data_size_limit=self.max_bytes,
            enable_SMTPUTF8=True,
            tls_context=self.tls,
            loop=self.loop,
        )

    def start(self) -> int:
        """Listen, and return the port."""
        listening = (
            self.loop.create_server(self._protocol, sock=self.sock)
            if self.sock is not None
            else self.loop.create_server(self._protocol, host=self.host, port=self.port)
        )
        self._server = self.loop.run_until_complete(listening)
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="pouch-mail", daemon=True
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        server = self._server

        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
        self._server = None


def listening_socket(host: str, port: int) -> socket.socket:
    """The one listening socket the processes of ``pouch mail serve --processes N``
    share; ``port=0`` picks a free port. Inheritable, so that siblings can take it."""
    family, kind, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(511)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


class Siblings:
    """The other processes of ``pouch mail serve --processes N``: each runs ``pouch
    mail serve`` on the listening socket the first one bound (its descriptor passed
    with ``--listen-fd``); one that exits is started again, every ``check`` seconds,
    until ``stop``."""

    def __init__(self, sock: socket.socket, count: int, *, options: Sequence[str] = ()) -> None:
        self.fd = sock.fileno()
        self.count = count
        self.options = list(options)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.restarted = 0
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "pouch.cli", "mail", "serve"]
        command += ["--listen-fd", str(self.fd), *self.options]
        # Our own interpreter and module, with options of our own making.
        return subprocess.Popen(command, pass_fds=(self.fd,), env=os.environ.copy())  # noqa: S603

    def start(self, *, check: float = 1.0) -> None:
        self.processes = [self._spawn() for _ in range(self.count)]
        self._watch = threading.Thread(
            target=self._keep, args=(check,), name="pouch-mail-siblings", daemon=True
        )
        self._watch.start()

    def _keep(self, check: float) -> None:
        while not self._stopping.wait(check):
            for n, process in enumerate(self.processes):
                if process.poll() is not None and not self._stopping.is_set():
                    log.warning(
                        "mail process %d exited (%s); starting another",
                        process.pid,
                        process.returncode,
                    )
                    self.processes[n] = self._spawn()
                    self.restarted += 1

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def stop(self, *, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.join(timeout=timeout)
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
