"""Group commit: many small units of work share one durable transaction.

A commit on SQLite with ``synchronous=FULL`` waits for an fsync (about 3.5 ms
here); one commit per message or per log entry would cap Pouch at a few
hundred a second. ``GroupCommitter`` runs a single writer thread that takes
every unit of work queued so far (up to ``max_batch``), runs them in one
transaction, commits once, and only then resolves each caller's future. So a
caller learns of success only after its work is on disk, and one failing unit
rolls back alone: when a unit fails, the whole attempt is rolled back, that
unit gets its error, and the others run again, each in its own savepoint.
(Savepoints for every unit would cost more than a typical unit's work, hence
the second attempt.) A unit may therefore run twice, the first time in a
transaction that was rolled back, so it must have no effect outside the
database, which it should not have anyway: it has not committed yet.

Work of the same kind can also be done for the whole batch at once: a
``Batched`` function takes the items of every unit submitted with it
(``submit_item``) that sit side by side in the batch, and writes them with a
statement per table instead of a few per item. It answers each item with
its result, or with the exception that refuses that item alone (having
written nothing for it). When it raises instead, nobody knows which item
was at fault: the attempt is rolled back and every unit of the batch runs
again in its own savepoint, a batched item alone in a call of its own.

Batching adapts to load: under light load a unit is committed at once with
whatever else is queued; when the previous batch was full (heavy load) the
writer waits up to ``window`` for the batch to fill before committing.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from pouch.db import Database

logger = logging.getLogger("pouch.groupcommit")

T = TypeVar("T")
Item = TypeVar("Item")

Work = Callable[[Session], T]
AfterCommit = Callable[[], None]


@dataclass(frozen=True, eq=False)
class Batched(Generic[Item, T]):
    """Work done for many items in one call: ``run(session, items)`` returns,
    in order, each item's result or the exception refusing that item alone."""

    run: Callable[[Session, list[Item]], list[T | Exception]]


@dataclass
class _Unit(Generic[T]):
    work: Work[T] | None
    future: Future[T]
    batched: Batched[Any, T] | None = None
    item: Any = None

    def run_alone(self, session: Session) -> T:
        if self.batched is None:
            assert self.work is not None
            return self.work(session)
        (outcome,) = self.batched.run(session, [self.item])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class _UnitFailed(Exception):
    """A unit of a batch failed: the batch's first attempt is rolled back.

    ``position`` is that unit's, or None when a batched call failed as a whole.
    """

    def __init__(self, position: int | None, error: Exception) -> None:
        super().__init__(position, error)
        self.position = position
        self.error = error


def _side_by_side(batch: list[_Unit[Any]]) -> list[tuple[int, list[_Unit[Any]]]]:
    """The batch cut into runs to do in one call: a unit of plain work alone,
    neighbours with the same ``Batched`` together; with each run's position."""
    runs: list[tuple[int, list[_Unit[Any]]]] = []
    for position, unit in enumerate(batch):
        if runs and unit.batched is not None and runs[-1][1][0].batched is unit.batched:
            runs[-1][1].append(unit)
        else:
            runs.append((position, [unit]))
    return runs


class Turns:
    """A lock that writers of one process take in the order they asked for it.

    SQLite lets one writer in at a time, and a writer that finds the lock
    taken sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms … up to 100 ms)
    before trying again. A group committer under load begins its next
    transaction microseconds after the last commit, so another writer of the
    same process that polls this way can wait for seconds. Taking turns here
    first, first come first served, hands the database lock over instead.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._condition:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._condition.wait()

    def __exit__(self, *_: object) -> None:
        with self._condition:
            self._serving += 1
            self._condition.notify_all()


class GroupCommitterStopped(RuntimeError):
    """Raised for work submitted after ``stop()``."""


class GroupCommitter:
    def __init__(
        self,
        database: Database,
        *,
        window: float = 0.1,
        max_batch: int = 256,
        name: str = "group-commit",
        after_commit: AfterCommit | None = None,
        turns: Turns | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.database = database
        self.window = window
        self.max_batch = max_batch
        self.name = name
        self.after_commit = after_commit
        self.turns = turns
        self._queue: queue.SimpleQueue[_Unit[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.batches = 0
        self.units = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the writer thread. Work queued after
        the stop mark (a ``submit`` racing this call), or never started, is
        refused with ``GroupCommitterStopped`` rather than left waiting."""
        self._stopping = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        while True:
            try:
                unit = self._queue.get_nowait()
            except queue.Empty:
                return
            if unit is not None:
                unit.future.set_exception(GroupCommitterStopped(f"{self.name} is stopped"))

    def submit(self, work: Work[T]) -> Future[T]:
        """Queue ``work``; the future resolves once its transaction has committed."""
        return self._enqueue(_Unit(work, Future()))

    def submit_item(self, batched: Batched[Item, T], item: Item) -> Future[T]:
        """Queue ``item`` for ``batched``, which runs once for every item of it
        that lands side by side in a batch; the future resolves at commit."""
        return self._enqueue(_Unit(None, Future(), batched, item))

    def _enqueue(self, unit: _Unit[T]) -> Future[T]:
        if self._stopping:
            raise GroupCommitterStopped(f"{self.name} is stopped")
        self._queue.put(unit)
        return unit.future

    def _gather(self, batch: list[_Unit[Any]], *, wait: bool) -> bool:
        """Add what is queued to ``batch``, up to ``max_batch``; with ``wait``
        (after a full batch), wait up to ``window`` for more. True when the
        stop mark was taken."""
        deadline = time.monotonic() + self.window if wait else 0.0
        while len(batch) < self.max_batch:
            try:
                timeout = deadline - time.monotonic()
                unit = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                return False
            if unit is None:
                return True
            batch.append(unit)
        return False

    def _run(self) -> None:
        previous_full = False
        while True:
            first = self._queue.get()
            if first is None:
                return
            # Under load, wait for a fuller batch before taking the turn (the
            # other writers go on meanwhile); once it is this writer's turn, what
            # arrived while it waited joins this commit too.
            batch = [first]
            stop = self._gather(batch, wait=previous_full)
            with self._turn():
                stop = stop or self._gather(batch, wait=False)
                outcomes = self._commit(batch)
            previous_full = len(batch) == self.max_batch
            self._resolve(batch, outcomes)
            if stop:
                return

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """This writer's turn among the writers of its process (``turns``) and,
        on a SQLite file, of every process (the database's writer turns, which
        its transactions take again, re-entrantly)."""
        writers = self.database.writer_turns
        with (
            self.turns or contextlib.nullcontext(),
            writers.turn() if writers is not None else contextlib.nullcontext(),
        ):
            yield

    def _commit(self, batch: list[_Unit[Any]]) -> list[tuple[bool, Any]] | Exception:
        try:
            outcomes = self._attempt(batch)
            if isinstance(outcomes, _UnitFailed):
                failed = outcomes
                if failed.position is None:
                    outcomes = self._attempt_with_savepoints(batch)
                else:
                    rest = batch[: failed.position] + batch[failed.position + 1 :]
                    outcomes = self._attempt_with_savepoints(rest)
                    outcomes.insert(failed.position, (False, failed.error))
        except Exception as error:  # the commit itself failed: nobody is durable
            return error
        return outcomes

    def _resolve(
        self, batch: list[_Unit[Any]], outcomes: list[tuple[bool, Any]] | Exception
    ) -> None:
        if isinstance(outcomes, Exception):
            self._fail(batch, outcomes)
            return
        self.batches += 1
        self.units += len(batch)
        for unit, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)
        if self.after_commit is not None:
            self.after_commit()

    def _attempt(self, batch: list[_Unit[Any]]) -> list[tuple[bool, Any]] | _UnitFailed:
        """Run and commit ``batch`` in one transaction without savepoints; at
        the first unit that fails, roll everything back and say which one."""
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self.database.transaction() as session:
                for position, units in _side_by_side(batch):
                    batched = units[0].batched
                    try:
                        if batched is None:
                            results: list[Any] = [units[0].run_alone(session)]
                        else:
                            results = batched.run(session, [unit.item for unit in units])
                            assert len(results) == len(units), "one outcome per item"
                        session.flush()  # its errors are its own, as a savepoint's commit would
                    except Exception as error:
                        raise _UnitFailed(position if batched is None else None, error) from error
                    outcomes += [
                        (False, result)
                        if batched is not None and isinstance(result, Exception)
                        else (True, result)
                        for result in results
                    ]
        except _UnitFailed as failed:
            return failed
        return outcomes

    def _attempt_with_savepoints(self, batch: list[_Unit[Any]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self.database.transaction() as session:
            for unit in batch:
                savepoint = session.begin_nested()
                try:
                    result = unit.run_alone(session)
                    savepoint.commit()
                    outcomes.append((True, result))
                except Exception as error:  # one unit's failure is its own
                    savepoint.rollback()
                    outcomes.append((False, error))
        return outcomes

    def _fail(self, batch: list[_Unit[Any]], error: Exception) -> None:
        logger.error("%s: a batch of %d failed to commit", self.name, len(batch), exc_info=error)
        for unit in batch:
            unit.future.set_exception(error)
