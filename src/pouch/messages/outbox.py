"""The outbox: notices sent outside any transaction, a failure touching only its notice.

A round has three steps, each short, so that no office's webhook can slow
anything else down (acceptance takes the same write lock):

1. **Claim**, in one short write transaction: the due notices, earliest first,
   at most a batch, skipping those another sender holds (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL), each leased for ``lease`` and read with where it
   goes *now* (an office's endpoint as it is at this moment).
2. **Send**, with no transaction open: concurrently, at most ``per_endpoint`` at
   once to one host, each with short timeouts and an overall deadline. Whatever
   a send raises (a refused connection, a malformed address, a slow answer) is
   that notice's outcome alone.
3. **Record**, in another short transaction: sent; or tried again later with
   backoff; or, after ``MAX_ATTEMPTS``, failed, which auditors see
   (``pending``, ``GET /api/outbox``).

In ``pouch serve`` the outbox does not wait for a round to end (``pump``):
each send hands in its outcome the moment it ends and wakes the outbox, which
records every outcome handed in since its last turn and claims what it has
room for, in one short transaction, skipping the offices whose endpoint
already has ``per_endpoint`` sends open. Turns are at least ``gap`` apart, so
that a hundred answers a second cost a few transactions, not a hundred, in
the writer acceptance shares. A webhook that never answers holds its own
slots until its timeout, and every other office's notices go past it.
(``run_once``, for the CLI and the tests, is one synchronous round.)

A sender that dies between 1 and 3 leaves its notices leased; once the lease
is over they are due again and sent again with the same ``Idempotency-Key``
(at least once; the key makes it safe for the receiver).
"""

from __future__ import annotations

import email.policy
import email.utils
import json
import logging
import smtplib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.messages import claims, destinations
from pouch.messages.dkim_signing import DkimSigner
from pouch.messages.models import Notification, NotificationChannel, OfficeEndpoint
from pouch.messages.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_webhook
from pouch.settings import Settings

logger = logging.getLogger("pouch.outbox")

MAX_ATTEMPTS = 8
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class MailRelay:
    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None
    mail_from: str
    #: Pouch's own DKIM key: every e-mail it sends is signed when set.
    signer: DkimSigner | None = None


@dataclass(frozen=True)
class Delivery:
    """A claimed notice and where it goes now (read in the claiming transaction)."""

    id: int
    key: str
    channel: NotificationChannel
    address: str | None  # None: the office has no such endpoint any more
    secret: str | None
    subject: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    id: int
    address: str | None
    error: str | None = None  # None: sent
    final: bool = False  # no point trying again


@dataclass(frozen=True)
class Round:
    sent: int = 0
    retried: int = 0
    failed: int = 0


Resolver = Callable[[str, int], list[destinations.Address]]


def resolve(host: str, port: int) -> list[destinations.Address]:
    """Every address ``host`` resolves to now."""
    import ipaddress

    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))


class Transport:
    """How notices leave: webhooks over HTTP(S) to checked addresses, e-mail by SMTP.

    The real seam between Pouch and the outside; a test gives it a resolver of
    its own, never a fake network.
    """

    def __init__(
        self,
        *,
        http: httpx.Client,
        relay: MailRelay | None,
        timeout: float,
        policy: destinations.Policy,
        resolver: Resolver = resolve,
    ) -> None:
        self.http = http
        self.relay = relay
        self.timeout = timeout
        self.policy = policy
        self.resolver = resolver

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.Client) -> Transport:
        relay = None
        if settings.smtp_host:
            password = settings.smtp_password
            relay = MailRelay(
                host=settings.smtp_host,
                port=settings.smtp_port,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=password.get_secret_value() if password else None,
                mail_from=settings.mail_from,
                signer=signer_of(settings),
            )
        return cls(
            http=http,
            relay=relay,
            timeout=settings.notify_timeout.total_seconds(),
            policy=policy_of(settings),
        )

    def endpoint_of(self, delivery: Delivery) -> str:
        """What one endpoint is, to limit how many sends go to it at once."""
        return self.endpoint_of_address(delivery.channel, delivery.address)

    def endpoint_of_address(self, channel: NotificationChannel, address: str | None) -> str:
        if channel == NotificationChannel.EMAIL or address is None:
            return "smtp"
        try:
            hook = destinations.parse_webhook(address, self.policy)
        except destinations.BadDestination:
            return "invalid"
        return f"{hook.host}:{hook.port}"

    def send(self, delivery: Delivery, *, now: datetime) -> None:
        """Send one notice, or raise why not."""
        if delivery.address is None:
            raise LookupError(f"the office has no {delivery.channel.value} endpoint any more")
        if delivery.channel == NotificationChannel.WEBHOOK:
            self._post(delivery, now)
        else:
            if self.relay is None:
                raise LookupError("no SMTP relay is configured")
            self._mail(delivery, self.relay, now)

    def _post(self, delivery: Delivery, now: datetime) -> None:
        assert delivery.address is not None
        hook = destinations.parse_webhook(delivery.address, self.policy)
        if hook.literal is not None:
            address = hook.literal
        else:
            # Checked now, and connected to as checked: a name cannot point
            # elsewhere between the check and the connection (DNS rebinding).
            found = self.resolver(hook.host, hook.port)
            if not found:
                raise LookupError(f"{hook.host} resolves to no address")
            for candidate in found:
                destinations.check_address(candidate, self.policy)
            address = found[0]
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(now.timestamp()))
        default_port = (hook.scheme == "https" and hook.port == 443) or hook.port == 80
        headers = {
            "Content-Type": "application/json",
            "Host": hook.host if default_port else f"{hook.host}:{hook.port}",
            TIMESTAMP_HEADER: timestamp,
            IDEMPOTENCY_HEADER: delivery.key,
        }
        if delivery.secret:
            headers[SIGNATURE_HEADER] = sign_webhook(delivery.secret, timestamp, body)
        url = httpx.URL(delivery.address).copy_with(host=str(address))
        extensions = {"sni_hostname": hook.host} if hook.scheme == "https" else {}
        deadline = time.monotonic() + 2 * self.timeout
        with self.http.stream(
            "POST",
            url,
            content=body,
            headers=headers,
            timeout=self.timeout,
            extensions=extensions,
        ) as response:
            # A server that trickles its answer does not hold a sender longer
            # than the deadline; what it says beyond a little is not read.
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES or time.monotonic() > deadline:
                    break
            if response.status_code >= 300:
                raise RuntimeError(f"webhook answered HTTP {response.status_code}")

    def _mail(self, delivery: Delivery, relay: MailRelay, now: datetime) -> None:
        assert delivery.address is not None
        mail = EmailMessage()
        mail["From"] = relay.mail_from
        mail["To"] = delivery.address
        mail["Subject"] = delivery.subject
        domain = relay.mail_from.rpartition("@")[2] or "pouch.invalid"
        # The same notice sent twice is the same e-mail to the receiving system.
        mail["Message-ID"] = f"<{delivery.key}@{domain}>"
        mail["Date"] = email.utils.format_datetime(now)
        letter = delivery.payload.get("mail")
        if isinstance(letter, dict):
            # A letter to a correspondent by mail: its own words, in its thread.
            if letter.get("in_reply_to"):
                mail["In-Reply-To"] = letter["in_reply_to"]
                mail["References"] = letter.get("references") or letter["in_reply_to"]
            if letter.get("auto_submitted"):
                # RFC 3834: no automatic answer to this one, and no loop.
                mail["Auto-Submitted"] = letter["auto_submitted"]
            mail.set_content(str(letter.get("text", "")))
        else:
            lines = [f"{key}: {value}" for key, value in sorted(delivery.payload.items())]
            mail.set_content("Pouch reports a step of a message.\n\n" + "\n".join(lines) + "\n")
        raw = mail.as_bytes(policy=email.policy.SMTP)
        if relay.signer is not None:
            raw = relay.signer.sign(raw)
        with smtplib.SMTP(relay.host, relay.port, timeout=self.timeout) as smtp:
            if relay.starttls:
                smtp.starttls()
            if relay.username:
                smtp.login(relay.username, relay.password or "")
            # The return path is Pouch's: a bounce of an answer is never answered.
            smtp.sendmail(relay.mail_from, [delivery.address], raw)


def signer_of(settings: Settings) -> DkimSigner | None:
    """Pouch's DKIM signer as the settings name it, or None (its e-mails go unsigned)."""
    if settings.mail_dkim_key is None:
        return None
    domain = settings.mail_dkim_domain or settings.mail_from.rpartition("@")[2]
    return DkimSigner.from_file(
        settings.mail_dkim_key, domain=domain, selector=settings.mail_dkim_selector
    )


def policy_of(settings: Settings) -> destinations.Policy:
    return destinations.Policy(
        allow_http=settings.notify_allow_http, allow_private=settings.notify_allow_private
    )


def _due(now: datetime, *, email: bool, skip_offices: Collection[int]) -> Any:
    query = select(Notification).where(
        Notification.sent_at.is_(None),
        Notification.failed.is_(False),
        Notification.next_attempt_at <= now,
        or_(Notification.lease_until.is_(None), Notification.lease_until <= now),
    )
    if not email:
        query = query.where(Notification.channel != NotificationChannel.EMAIL)
    if skip_offices:
        query = query.where(
            or_(
                Notification.channel != NotificationChannel.WEBHOOK,
                Notification.office_id.is_(None),
                Notification.office_id.not_in(sorted(skip_offices)),
            )
        )
    return query


def claim(
    session: Session,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    email: bool,
    skip_offices: Collection[int] = (),
) -> list[Delivery]:
    """Step 1: lease the due notices and read where each goes now; none for a webhook
    of the offices in ``skip_offices``."""
    rows = claims.claim(
        session,
        _due(now, email=email, skip_offices=skip_offices),
        first=Notification.next_attempt_at,
        limit=limit,
    )
    endpoints: dict[int, OfficeEndpoint | None] = {}
    claimed = []
    for row in rows:
        row.lease_until = now + lease
        address, secret = row.target, None
        if row.office_id is not None:
            if row.office_id not in endpoints:
                endpoints[row.office_id] = session.get(OfficeEndpoint, row.office_id)
            endpoint = endpoints[row.office_id]
            if row.channel == NotificationChannel.WEBHOOK:
                address = endpoint.webhook_url if endpoint else None
                secret = endpoint.webhook_secret if endpoint else None
            else:
                address = endpoint.email if endpoint else None
        claimed.append(
            Delivery(
                id=row.id,
                key=row.key,
                channel=row.channel,
                address=address,
                secret=secret,
                subject=row.subject,
                payload=dict(row.payload),
            )
        )
    return claimed


def release(session: Session, ids: Collection[int]) -> None:
    """Give back claimed notices unsent and untried: due again at once."""
    if ids:
        session.execute(
            update(Notification).where(Notification.id.in_(sorted(ids))).values(lease_until=None)
        )


def record(session: Session, outcomes: Sequence[Outcome], *, now: datetime) -> Round:
    """Step 3: what became of each claimed notice."""
    sent = retried = failed = 0
    for outcome in outcomes:
        row = session.get(Notification, outcome.id)
        if row is None or row.sent_at is not None:
            continue
        row.lease_until = None
        row.attempts += 1
        if outcome.address is not None:
            row.target = outcome.address[:500]
        if outcome.error is None:
            row.sent_at = now
            row.last_error = None
            sent += 1
            continue
        row.last_error = outcome.error[:2000]
        if outcome.final or row.attempts >= MAX_ATTEMPTS:
            row.failed = True
            failed += 1
            logger.error("notice %s abandoned after %s tries: %s", row.id, row.attempts, outcome)
        else:
            row.next_attempt_at = now + timedelta(minutes=2**row.attempts)
            retried += 1
    return Round(sent=sent, retried=retried, failed=failed)


class Outbox:
    """Sends the outbox in rounds; in ``pouch serve`` a thread of its own."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        transport: Transport,
        interval: float,
        lease: timedelta,
        batch: int = 50,
        concurrency: int = 8,
        per_endpoint: int = 2,
        gap: float = 0.05,
    ) -> None:
        self.database = database
        self.clock = clock
        self.transport = transport
        self.interval = interval
        self.lease = lease
        self.batch = batch
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint
        self.gap = gap
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="pouch-send")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # What ``pump`` has started and not yet recorded, by endpoint.
        self._open: Counter[str] = Counter()
        self._open_lock = threading.Lock()
        # Outcomes handed in by sends that ended, recorded at the next turn.
        self._finished: list[Outcome] = []
        self._wake = threading.Event()
        #: When the last round finished (the clock's time), for /readyz and /metrics.
        self.last_round: datetime | None = None

    def run_once(self) -> Round:
        now = self.clock.now()
        with self.database.transaction() as session:
            claimed = claim(
                session,
                now=now,
                lease=self.lease,
                limit=self.batch,
                email=self.transport.relay is not None,
            )
        outcomes = self.send(claimed, now=now)
        with self.database.transaction() as session:
            done = record(session, outcomes, now=self.clock.now())
        self.last_round = self.clock.now()
        return done

    def _attempt(self, delivery: Delivery, now: datetime) -> Outcome:
        try:
            self.transport.send(delivery, now=now)
        except Exception as error:  # any failure is this notice's alone
            # Tried again with backoff (a corrected address applies), except
            # when the office has no such endpoint any more.
            final = delivery.address is None
            logger.warning("notice %s not sent: %r", delivery.id, error)
            return Outcome(delivery.id, delivery.address, f"{type(error).__name__}: {error}", final)
        return Outcome(delivery.id, delivery.address)

    def send(self, claimed: Sequence[Delivery], *, now: datetime) -> list[Outcome]:
        """Step 2: every claimed notice sent, concurrently, no transaction open."""
        limits: dict[str, threading.BoundedSemaphore] = {}
        for delivery in claimed:
            limits.setdefault(
                self.transport.endpoint_of(delivery), threading.BoundedSemaphore(self.per_endpoint)
            )

        def one(delivery: Delivery) -> Outcome:
            with _held(limits[self.transport.endpoint_of(delivery)]):
                return self._attempt(delivery, now)

        return list(self._pool.map(one, claimed))

    def pump(self) -> int:
        """Record the outcomes handed in since the last turn, claim what this process has
        room for and start sending it; returns how many sends were started."""
        with self._open_lock:
            finished, self._finished = self._finished, []
            free = self.concurrency - sum(self._open.values())
            room = {e: self.per_endpoint - n for e, n in self._open.items()}
        if free <= 0 and not finished:
            return 0
        full = {endpoint for endpoint, left in room.items() if left <= 0}
        now = self.clock.now()
        started: list[tuple[Delivery, str]] = []
        # If the database is away, the outcomes are lost with the transaction and their
        # leases run out: the notices are sent again with the same key.
        with self.database.transaction() as session:
            if finished:
                record(session, finished, now=now)
            if free <= 0:
                return 0
            claimed = claim(
                session,
                now=now,
                lease=self.lease,
                limit=self.batch,
                email=self.transport.relay is not None and "smtp" not in full,
                skip_offices=self._offices_at(session, full) if full else (),
            )
            given_back = []
            for delivery in claimed:
                endpoint = self.transport.endpoint_of(delivery)
                if len(started) < free and room.get(endpoint, self.per_endpoint) > 0:
                    room[endpoint] = room.get(endpoint, self.per_endpoint) - 1
                    started.append((delivery, endpoint))
                else:
                    given_back.append(delivery.id)
            release(session, given_back)
        for delivery, endpoint in started:
            with self._open_lock:
                self._open[endpoint] += 1
            self._pool.submit(self._send_and_hand_in, delivery, endpoint, now)
        return len(started)

    def open_sends(self) -> int:
        """Sends started and not yet ended (their outcomes are recorded at the next turn)."""
        with self._open_lock:
            return sum(self._open.values())

    def _offices_at(self, session: Session, endpoints: set[str]) -> set[int]:
        """The offices whose webhook is one of ``endpoints`` now."""
        rows = session.execute(
            select(OfficeEndpoint.office_id, OfficeEndpoint.webhook_url).where(
                OfficeEndpoint.webhook_url.is_not(None)
            )
        )
        return {
            office_id
            for office_id, url in rows
            if self.transport.endpoint_of_address(NotificationChannel.WEBHOOK, url) in endpoints
        }

    def _send_and_hand_in(self, delivery: Delivery, endpoint: str, now: datetime) -> None:
        outcome: Outcome | None = None
        try:
            outcome = self._attempt(delivery, now)
        finally:
            with self._open_lock:  # handed in before the send counts as ended
                if outcome is not None:
                    self._finished.append(outcome)
                self._open[endpoint] -= 1
                if self._open[endpoint] <= 0:
                    del self._open[endpoint]
            self._wake.set()  # an outcome to record, and room for another

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pouch-outbox", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True)
        with self._open_lock:
            finished, self._finished = self._finished, []
        if finished:
            try:
                with self.database.transaction() as session:
                    record(session, finished, now=self.clock.now())
            except Exception:  # the leases run out; sent again with the same key
                logger.warning("outbox: %d outcomes could not be recorded", len(finished))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.pump()
                self.last_round = self.clock.now()
            except Exception as error:  # the database was away: the next round tries again
                logger.warning("outbox round failed: %r", error)
            # Turns at least ``gap`` apart: the outcomes of sends ending meanwhile are
            # recorded together at the next one.
            self._stop.wait(self.gap)


@contextmanager
def _held(semaphore: threading.BoundedSemaphore) -> Iterator[None]:
    with semaphore:
        yield


@dataclass(frozen=True)
class Waiting:
    """A notice not yet sent, as auditors see it."""

    id: int
    key: str
    channel: NotificationChannel
    office_id: int | None
    target: str
    subject: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    failed: bool
    last_error: str | None


def pending(session: Session, *, failed: bool, limit: int = 200) -> list[Waiting]:
    """The notices not sent: those given up on (``failed``), or those still being tried."""
    rows = session.scalars(
        select(Notification)
        .where(Notification.sent_at.is_(None), Notification.failed.is_(failed))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return [
        Waiting(
            id=row.id,
            key=row.key,
            channel=row.channel,
            office_id=row.office_id,
            target=row.target,
            subject=row.subject,
            created_at=row.created_at,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            failed=row.failed,
            last_error=row.last_error,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Depth:
    """How much waits in the outbox: for /metrics."""

    waiting: int
    failed: int
    oldest: datetime | None


def depth(session: Session) -> Depth:
    unsent = Notification.sent_at.is_(None)
    waiting = session.scalar(
        select(func.count()).select_from(Notification).where(unsent, Notification.failed.is_(False))
    )
    failed = session.scalar(
        select(func.count()).select_from(Notification).where(unsent, Notification.failed.is_(True))
    )
    oldest = session.scalar(
        select(func.min(Notification.created_at)).where(unsent, Notification.failed.is_(False))
    )
    return Depth(waiting=int(waiting or 0), failed=int(failed or 0), oldest=oldest)
