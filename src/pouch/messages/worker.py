"""Deadlines, enforced by the system (invariant 4).

``run_due`` does everything whose time has come: delivers what nobody
routed or held by the end of its triage window, delivers what a hold kept
once the hold expires, and records ``overdue`` (and tells the sender, the
addressee office and the auditors) for every message not delivered by its
deadline. It takes the time as an argument, so tests move a clock instead
of sleeping. On PostgreSQL several processes may run it at once: each claims
its rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.messages import claims, holds, notify
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageState

logger = logging.getLogger("pouch.worker")


@dataclass(frozen=True)
class Done:
    delivered: int
    expired: int
    overdue: int


def run_due(session: Session, *, now: datetime, limit: int = 200) -> Done:
    expired = holds.expire_holds(session, now=now, limit=limit)
    due = claims.claim(
        session,
        select(Message).where(
            Message.state == MessageState.ACCEPTED, Message.auto_deliver_at <= now
        ),
        first=Message.auto_deliver_at,
        limit=limit,
    )
    for message in due:
        message_service.deliver(session, message, at=now, actor_user_id=None, how="automatic")
    late = claims.claim(
        session,
        select(Message).where(
            Message.state.in_([MessageState.ACCEPTED, MessageState.HELD]),
            Message.deliver_by <= now,
            Message.overdue_at.is_(None),
        ),
        first=Message.deliver_by,
        limit=limit,
    )
    for message in late:
        message_service.mark_overdue(session, message, at=now)
    # Late deliveries above were marked overdue too; count every mark made now.
    overdue = session.scalar(
        select(func.count()).select_from(Message).where(Message.overdue_at == now)
    )
    return Done(delivered=len(due), expired=expired, overdue=int(overdue or 0))


class Worker:
    """The background loop of one process: deadlines, then notifications."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        interval: float,
        senders: Callable[[], notify.Senders],
    ) -> None:
        self.database = database
        self.clock = clock
        self.interval = interval
        self._senders = senders
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Done:
        with self.database.transaction() as session:
            done = run_due(session, now=self.clock.now())
        with self.database.transaction() as session:
            notify.send_pending(session, senders=self._senders(), now=self.clock.now())
        return done

    def start(self) -> None:
        if self._thread is None:
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
            except Exception:  # the next round retries; a worker never dies of one bad round
                logger.exception("worker round failed")
