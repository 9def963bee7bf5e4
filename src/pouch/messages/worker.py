"""Deadlines, enforced by the system (invariant 4).

``run_due`` does everything whose time has come: delivers what nobody
routed or held by the end of its triage window, delivers what a hold kept
once the hold expires, and records ``overdue`` (and tells the sender, the
addressee office and the auditors) for every message not delivered by its
deadline. It takes the time as an argument, so tests move a clock instead
of sleeping. On PostgreSQL several processes may run it at once: each claims
its rows with ``FOR UPDATE SKIP LOCKED``.

Nothing waits on a round: it works in batches of ``BATCH`` rows, each in a
short transaction of its own, so that acceptance (on SQLite, the one writer)
takes its turn between them however much falls due at once.

One row never stops the others: each is handled in a savepoint of its own,
and one that fails (even one the ORM cannot load) is rolled back alone,
recorded as a ``WorkFailure`` with a ``worker.failed`` event in the log
(auditors see both), skipped, and tried again later with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, not_, select
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.events import EventKind
from pouch.ledger import service as ledger_service
from pouch.messages import claims, holds
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageState, WorkFailure

logger = logging.getLogger("pouch.worker")

#: The longest pause between a round's batches (``run_due_in_batches``).
MAX_PAUSE = 0.05
#: The longest a failed row waits before it is tried again.
MAX_RETRY_WAIT = timedelta(hours=1)
#: Rows of each job handled in one transaction of a round: a delivery costs a
#: few milliseconds (its events, its notices), and acceptance waits for the
#: writer meanwhile (32 held SQLite's writer 100-300 ms, the p99 of acceptance
#: beside a worker delivering FLASH messages every second).
BATCH = 8


@dataclass(frozen=True)
class Done:
    delivered: int
    expired: int
    overdue: int
    failed: int = 0
    #: A job found as many rows as it could take: there may be more now.
    more: bool = False

    def __add__(self, other: Done) -> Done:
        return Done(
            delivered=self.delivered + other.delivered,
            expired=self.expired + other.expired,
            overdue=self.overdue + other.overdue,
            failed=self.failed + other.failed,
            more=other.more,
        )


def _not_failing(job: str, now: datetime) -> ColumnElement[bool]:
    """No open failure of this job on this message is waiting for its next try."""
    return not_(
        exists().where(
            WorkFailure.job == job,
            WorkFailure.row_id == Message.id,
            WorkFailure.resolved_at.is_(None),
            WorkFailure.retry_at > now,
        )
    )


def _each(
    session: Session,
    *,
    job: str,
    ids: Sequence[int],
    act: Callable[[int], None],
    now: datetime,
) -> tuple[int, int]:
    """``act`` on each row in a savepoint of its own; returns (done, failed)."""
    done = failed = 0
    failing = _open_failures(session, job=job, ids=ids)
    for row_id in ids:
        savepoint = session.begin_nested()
        try:
            act(row_id)
            savepoint.commit()
        except Exception as error:  # one row's failure is its own
            savepoint.rollback()
            logger.exception("%s of row %s failed", job, row_id)
            _record_failure(session, job=job, row_id=row_id, error=error, now=now)
            failed += 1
            continue
        done += 1
        if row_id in failing:
            failing[row_id].resolved_at = now
    return done, failed


def _open_failures(session: Session, *, job: str, ids: Sequence[int]) -> dict[int, WorkFailure]:
    """The open failures of ``job`` among these rows, in one query (a row done
    resolves its own)."""
    if not ids:
        return {}
    return {
        failure.row_id: failure
        for failure in session.scalars(
            select(WorkFailure).where(
                WorkFailure.job == job,
                WorkFailure.row_id.in_(ids),
                WorkFailure.resolved_at.is_(None),
            )
        )
    }


def _record_failure(
    session: Session, *, job: str, row_id: int, error: Exception, now: datetime
) -> None:
    text = f"{type(error).__name__}: {error}"[:2000]
    failure = session.scalar(
        select(WorkFailure).where(WorkFailure.job == job, WorkFailure.row_id == row_id)
    )
    if failure is None or failure.resolved_at is not None:
        # A new failure is logged once; its retries only update the record.
        recorded = ledger_service.record_event(
            session,
            kind=EventKind.WORKER_FAILED,
            at=now,
            details={"job": job, "row": row_id, "error": text[:500]},
        )
        if failure is None:
            failure = WorkFailure(job=job, row_id=row_id, first_at=now, attempts=0)
            session.add(failure)
        failure.first_at, failure.attempts, failure.resolved_at = now, 0, None
        failure.ledger_index = recorded.index
    failure.attempts += 1
    failure.error = text
    failure.last_at = now
    failure.retry_at = now + min(timedelta(minutes=2**failure.attempts), MAX_RETRY_WAIT)
    session.flush()


def _deliver(session: Session, message_id: int, now: datetime, marks: list[int]) -> None:
    message = session.get(Message, message_id)
    if message is not None and message.state == MessageState.ACCEPTED:
        late = message.overdue_at is None and now > message.deliver_by
        message_service.deliver(session, message, at=now, actor_user_id=None, how="automatic")
        if late:  # delivering it recorded it overdue first
            marks.append(message_id)


def _mark_overdue(session: Session, message_id: int, now: datetime, marks: list[int]) -> None:
    message = session.get(Message, message_id)
    if message is not None and message.overdue_at is None:
        message_service.mark_overdue(session, message, at=now)
        marks.append(message_id)


def run_due(session: Session, *, now: datetime, limit: int = 200) -> Done:
    """Up to ``limit`` rows of each job whose time has come, in ``session``."""
    marks: list[int] = []  # the messages recorded overdue, by delivery or by the mark
    expiring = holds.expired_holds(session, now=now, limit=limit)
    expired, failed_holds = _each(
        session,
        job="expire_hold",
        ids=expiring,
        act=lambda hold_id: holds.expire_hold(session, hold_id=hold_id, now=now),
        now=now,
    )
    # Ids only: a row is loaded inside its own savepoint, where failing to load is its own.
    due = claims.claim(
        session,
        select(Message.id).where(
            Message.state == MessageState.ACCEPTED,
            Message.auto_deliver_at <= now,
            _not_failing("deliver", now),
        ),
        first=Message.auto_deliver_at,
        limit=limit,
    )
    delivered, failed_deliveries = _each(
        session, job="deliver", ids=due, act=lambda i: _deliver(session, i, now, marks), now=now
    )
    late = claims.claim(
        session,
        select(Message.id).where(
            Message.state.in_([MessageState.ACCEPTED, MessageState.HELD]),
            Message.deliver_by <= now,
            Message.overdue_at.is_(None),
            _not_failing("overdue", now),
        ),
        first=Message.deliver_by,
        limit=limit,
    )
    _, failed_marks = _each(
        session,
        job="overdue",
        ids=late,
        act=lambda i: _mark_overdue(session, i, now, marks),
        now=now,
    )
    return Done(
        delivered=delivered,
        expired=expired,
        overdue=len(marks),
        failed=failed_holds + failed_deliveries + failed_marks,
        more=limit in (len(expiring), len(due), len(late)),
    )


def run_due_in_batches(database: Database, *, clock: Clock, batch: int = BATCH) -> Done:
    """Everything whose time has come, ``batch`` rows of each job per transaction, each
    at the clock's time when it begins, until a batch leaves nothing behind."""
    done = Done(delivered=0, expired=0, overdue=0)
    while True:
        started = time.monotonic()
        with database.transaction() as session:
            this = run_due(session, now=clock.now(), limit=batch)
        held = time.monotonic() - started
        done += this
        # A full batch in which nothing happened would only repeat itself.
        if not this.more or not (this.delivered or this.expired or this.overdue or this.failed):
            return done
        # Acceptance waiting for the writer (SQLite's one, PostgreSQL's log head
        # row) gets in before the next batch: a lock released is not handed to its
        # waiters, and a worker going straight on takes it again first. A round
        # of FLASH deliveries held the writer for as long as it had work.
        time.sleep(min(held, MAX_PAUSE))


def open_failures(session: Session, *, limit: int = 200) -> list[WorkFailure]:
    """What the worker could not do and is still trying, newest first (for auditors)."""
    return list(
        session.scalars(
            select(WorkFailure)
            .where(WorkFailure.resolved_at.is_(None))
            .order_by(WorkFailure.last_at.desc(), WorkFailure.id.desc())
            .limit(limit)
        )
    )


def count_open_failures(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(WorkFailure).where(WorkFailure.resolved_at.is_(None))
        )
        or 0
    )


class Worker:
    """The background loop of one process: the deadline work, every interval."""

    def __init__(self, database: Database, *, clock: Clock, interval: float) -> None:
        self.database = database
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: When the last round finished (the clock's time): /readyz, /metrics.
        self.last_round: datetime | None = None

    def run_once(self) -> Done:
        done = run_due_in_batches(self.database, clock=self.clock)
        self.last_round = self.clock.now()
        return done

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pouch-worker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception as error:  # the database was away: the next round tries again
                # One line a round: an outage of minutes is not pages of tracebacks.
                logger.warning("worker round failed: %r", error)
