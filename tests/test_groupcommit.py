"""The group committer on both backends: one commit per batch, futures resolved
after it, a failing unit alone in its failure, batched items in one call.

Every unit is queued before the writer thread starts, so that all of them land
in one batch (the writer takes everything queued, up to ``max_batch``); ``stop``
then finishes the batch and joins the thread. Units write rows to a scratch
table of this file's own, created inside the test's rolled-back transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pouch.db import Database
from pouch.groupcommit import Batched, GroupCommitter, GroupCommitterStopped, Turns, _Unit

SCRATCH = Table(
    "groupcommit_scratch",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
)


class CommitFailed(Exception):
    """A commit that did not happen (injected by ``Recording``)."""


class Recording(Database):
    """The test's database, noting each commit of a write transaction in
    ``log``; ``fail_commits`` makes that many of the next ones fail (rolled
    back instead)."""

    def __init__(self, database: Database) -> None:
        self.__dict__.update(vars(database))
        self.log: list[str] = []
        self.fail_commits = 0

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        with super().transaction(write=write) as session:
            yield session
            if self.fail_commits:
                self.fail_commits -= 1
                raise CommitFailed("the disk is full")
        if write:
            self.log.append("commit")


@pytest.fixture
def recording(database: Database) -> Recording:
    with database.transaction() as session:
        SCRATCH.create(session.connection())
    return Recording(database)


@pytest.fixture
def committer(recording: Recording) -> Iterator[GroupCommitter]:
    committer = GroupCommitter(
        recording, window=0, after_commit=lambda: recording.log.append("after commit")
    )
    yield committer
    committer.stop()


def names(database: Database) -> list[str]:
    """The scratch rows' names, in the order they were inserted."""
    with database.transaction(write=False) as session:
        return list(session.scalars(select(SCRATCH.c.name).order_by(SCRATCH.c.id)))


def write(recording: Recording, name: str) -> Callable[[Session], str]:
    """A plain unit: insert ``name``, answer it in capitals."""

    def work(session: Session) -> str:
        recording.log.append(f"ran {name}")
        session.execute(SCRATCH.insert().values(name=name))
        return name.upper()

    return work


def write_then_fail(recording: Recording, name: str) -> Callable[[Session], str]:
    """A plain unit that writes, then fails."""

    def work(session: Session) -> str:
        recording.log.append(f"ran {name}")
        session.execute(SCRATCH.insert().values(name=name))
        raise ValueError(f"{name} went wrong")

    return work


class Refused(Exception):
    """One item refused by the batched call, alone."""


class Inserter:
    """Batched work: one insert of every item's row; ``refuse`` names items
    answered with ``Refused`` (and not written). Every call's items are kept."""

    def __init__(self, *, refuse: tuple[str, ...] = ()) -> None:
        self.refuse = refuse
        self.calls: list[list[str]] = []
        self.batched: Batched[str, str] = Batched(self.run)

    def run(self, session: Session, items: list[str]) -> list[str | Exception]:
        self.calls.append(list(items))
        outcomes: list[str | Exception] = [
            Refused(item) if item in self.refuse else item.upper() for item in items
        ]
        rows = [
            {"name": item}
            for item, outcome in zip(items, outcomes, strict=True)
            if not isinstance(outcome, Exception)
        ]
        if rows:
            session.execute(SCRATCH.insert(), rows)
        return outcomes


def settle(committer: GroupCommitter) -> None:
    """Start the writer with everything queued so far, let it finish and stop."""
    committer.start()
    committer.stop()


def outcome(future: Future[Any]) -> Any:
    """The future's result, or its exception (it must be done)."""
    assert future.done()
    error = future.exception(timeout=0)
    return error if error is not None else future.result(timeout=0)


def test_plain_units_commit_once_and_resolve_after_the_commit(
    recording: Recording, committer: GroupCommitter
) -> None:
    futures = [committer.submit(write(recording, name)) for name in ("a", "b", "c")]
    for name, future in zip("abc", futures, strict=True):
        future.add_done_callback(lambda _, name=name: recording.log.append(f"resolved {name}"))
    assert not any(future.done() for future in futures)
    settle(committer)
    assert [future.result(timeout=0) for future in futures] == ["A", "B", "C"]
    assert recording.log == [
        "ran a",
        "ran b",
        "ran c",
        "commit",
        "resolved a",
        "resolved b",
        "resolved c",
        "after commit",
    ]
    assert (committer.batches, committer.units) == (1, 3)
    assert names(recording) == ["a", "b", "c"]


def test_a_failing_plain_unit_fails_alone_and_the_others_commit(
    recording: Recording, committer: GroupCommitter
) -> None:
    with recording.transaction() as session:
        session.execute(SCRATCH.insert().values(name="taken"))
    recording.log.clear()
    futures = [
        committer.submit(write(recording, "a")),
        committer.submit(write_then_fail(recording, "boom")),
        committer.submit(write(recording, "b")),
        committer.submit(write(recording, "taken")),  # an IntegrityError, in its savepoint
        committer.submit(write(recording, "c")),
    ]
    settle(committer)
    a, boom, b, taken, c = (outcome(future) for future in futures)
    assert (a, b, c) == ("A", "B", "C")
    assert isinstance(boom, ValueError) and str(boom) == "boom went wrong"
    assert isinstance(taken, IntegrityError)
    assert names(recording) == ["taken", "a", "b", "c"]  # boom's own row rolled back
    # The first attempt stops at the first failure and is rolled back; the
    # others run again (each in its savepoint), the failed one does not.
    assert recording.log == [
        "ran a",
        "ran boom",
        "ran a",
        "ran b",
        "ran taken",
        "ran c",
        "commit",
        "after commit",
    ]
    assert (committer.batches, committer.units) == (1, 5)


def test_batched_items_side_by_side_are_run_in_one_call(
    recording: Recording, committer: GroupCommitter
) -> None:
    inserter = Inserter()
    futures = [committer.submit_item(inserter.batched, name) for name in ("a", "b", "c", "d")]
    settle(committer)
    assert inserter.calls == [["a", "b", "c", "d"]]
    assert [future.result(timeout=0) for future in futures] == ["A", "B", "C", "D"]
    assert recording.log == ["commit", "after commit"]
    assert names(recording) == ["a", "b", "c", "d"]


def test_batches_are_cut_at_max_batch_and_so_are_batched_calls(recording: Recording) -> None:
    committer = GroupCommitter(recording, window=0, max_batch=2)
    inserter = Inserter()
    futures = [committer.submit_item(inserter.batched, name) for name in "abcde"]
    settle(committer)
    assert inserter.calls == [["a", "b"], ["c", "d"], ["e"]]
    assert [future.result(timeout=0) for future in futures] == list("ABCDE")
    assert (committer.batches, committer.units) == (3, 5)
    assert recording.log == ["commit"] * 3
    assert names(recording) == list("abcde")


def test_an_item_refused_with_an_exception_fails_alone(
    recording: Recording, committer: GroupCommitter
) -> None:
    inserter = Inserter(refuse=("no",))
    futures = [committer.submit_item(inserter.batched, name) for name in ("a", "no", "b")]
    settle(committer)
    a, no, b = (outcome(future) for future in futures)
    assert (a, b) == ("A", "B")
    assert isinstance(no, Refused) and str(no) == "no"
    # Answered in place: no second attempt, one commit.
    assert inserter.calls == [["a", "no", "b"]]
    assert recording.log == ["commit", "after commit"]
    assert names(recording) == ["a", "b"]


def test_a_batched_call_that_raises_is_run_again_item_by_item(
    recording: Recording, committer: GroupCommitter
) -> None:
    with recording.transaction() as session:
        session.execute(SCRATCH.insert().values(name="taken"))
    recording.log.clear()
    inserter = Inserter()
    futures = [committer.submit_item(inserter.batched, name) for name in ("a", "taken", "b")]
    settle(committer)
    a, taken, b = (outcome(future) for future in futures)
    assert (a, b) == ("A", "B")
    assert isinstance(taken, IntegrityError)
    # The whole call failed, nobody knows for which item: each runs again alone.
    assert inserter.calls == [["a", "taken", "b"], ["a"], ["taken"], ["b"]]
    assert recording.log == ["commit", "after commit"]
    assert (committer.batches, committer.units) == (1, 3)
    assert names(recording) == ["taken", "a", "b"]


def test_plain_units_and_batched_items_keep_their_order(
    recording: Recording, committer: GroupCommitter
) -> None:
    inserter = Inserter()
    futures = [
        committer.submit(write(recording, "p1")),
        committer.submit_item(inserter.batched, "b1"),
        committer.submit_item(inserter.batched, "b2"),
        committer.submit(write(recording, "p2")),
        committer.submit_item(inserter.batched, "b3"),
    ]
    settle(committer)
    assert [future.result(timeout=0) for future in futures] == ["P1", "B1", "B2", "P2", "B3"]
    assert inserter.calls == [["b1", "b2"], ["b3"]]
    assert names(recording) == ["p1", "b1", "b2", "p2", "b3"]
    assert recording.log == ["ran p1", "ran p2", "commit", "after commit"]


def test_a_plain_unit_failing_among_batched_items_runs_them_again_alone_in_order(
    recording: Recording, committer: GroupCommitter
) -> None:
    inserter = Inserter()
    futures = [
        committer.submit_item(inserter.batched, "b1"),
        committer.submit_item(inserter.batched, "b2"),
        committer.submit(write_then_fail(recording, "boom")),
        committer.submit_item(inserter.batched, "b3"),
        committer.submit(write(recording, "p")),
        committer.submit_item(inserter.batched, "b4"),
    ]
    settle(committer)
    b1, b2, boom, b3, p, b4 = (outcome(future) for future in futures)
    assert (b1, b2, b3, p, b4) == ("B1", "B2", "B3", "P", "B4")
    assert isinstance(boom, ValueError)
    assert inserter.calls == [["b1", "b2"], ["b1"], ["b2"], ["b3"], ["b4"]]
    assert names(recording) == ["b1", "b2", "b3", "p", "b4"]
    assert recording.log == ["ran boom", "ran p", "commit", "after commit"]


def test_two_batched_objects_are_never_merged(
    recording: Recording, committer: GroupCommitter
) -> None:
    first, second = Inserter(), Inserter()
    # The same function behind two Batched objects is two kinds of work too.
    twin = Batched(first.run)
    futures = [
        committer.submit_item(first.batched, "a1"),
        committer.submit_item(first.batched, "a2"),
        committer.submit_item(second.batched, "b1"),
        committer.submit_item(second.batched, "b2"),
        committer.submit_item(first.batched, "a3"),
        committer.submit_item(twin, "t1"),
        committer.submit_item(first.batched, "a4"),
    ]
    settle(committer)
    assert [future.result(timeout=0) for future in futures] == [
        "A1",
        "A2",
        "B1",
        "B2",
        "A3",
        "T1",
        "A4",
    ]
    assert first.calls == [["a1", "a2"], ["a3"], ["t1"], ["a4"]]
    assert second.calls == [["b1", "b2"]]
    assert names(recording) == ["a1", "a2", "b1", "b2", "a3", "t1", "a4"]
    assert (committer.batches, committer.units) == (1, 7)


def test_a_failed_commit_fails_every_unit_of_the_batch(
    recording: Recording, committer: GroupCommitter
) -> None:
    inserter = Inserter()
    recording.fail_commits = 1
    failed = [
        committer.submit(write(recording, "a")),
        committer.submit_item(inserter.batched, "b"),
    ]
    committer.start()
    for future in failed:
        assert isinstance(future.exception(timeout=30), CommitFailed)
    later = committer.submit_item(inserter.batched, "c")
    assert later.result(timeout=30) == "C"
    committer.stop()
    assert recording.log == ["ran a", "commit", "after commit"]  # none after the failed one
    assert (committer.batches, committer.units) == (1, 1)
    assert names(recording) == ["c"]


def test_stop_finishes_the_queue_then_refuses_more_work(
    recording: Recording, committer: GroupCommitter
) -> None:
    inserter = Inserter()
    queued = [committer.submit(write(recording, "a")), committer.submit_item(inserter.batched, "b")]
    committer.start()
    committer.stop()
    assert [future.result(timeout=0) for future in queued] == ["A", "B"]
    with pytest.raises(GroupCommitterStopped):
        committer.submit(write(recording, "late"))
    with pytest.raises(GroupCommitterStopped):
        committer.submit_item(inserter.batched, "late")
    assert names(recording) == ["a", "b"]


def test_work_left_after_the_stop_mark_is_refused_not_left_waiting(
    recording: Recording, committer: GroupCommitter
) -> None:
    # As a submit racing stop() leaves it: queued behind the stop mark.
    committer.start()
    committer._queue.put(None)  # the stop mark, as stop() puts it
    late = Future[str]()
    committer._queue.put(_Unit(write(recording, "late"), late))
    committer.stop()
    assert isinstance(late.exception(timeout=0), GroupCommitterStopped)
    assert names(recording) == []


def test_max_batch_must_be_positive(database: Database) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommitter(database, max_batch=0)


class NoticedTurns(Turns):
    """Turns that say when a writer has started waiting for its turn."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()

    def __enter__(self) -> None:
        self.asked.set()
        super().__enter__()


def test_what_arrives_while_the_writer_waits_for_its_turn_joins_its_batch(
    recording: Recording,
) -> None:
    turns = NoticedTurns()
    committer = GroupCommitter(recording, window=0, turns=turns)
    with turns:  # another writer of this process has the turn
        turns.asked.clear()
        committer.start()
        first = committer.submit(write(recording, "first"))
        assert turns.asked.wait(timeout=30)  # the writer took it and waits for its turn
        later = [committer.submit(write(recording, f"later {i}")) for i in range(3)]
    committer.stop()
    assert [outcome(f) for f in [first, *later]] == ["FIRST", "LATER 0", "LATER 1", "LATER 2"]
    assert (committer.batches, recording.log.count("commit")) == (1, 1)
    assert names(recording) == ["first", "later 0", "later 1", "later 2"]
