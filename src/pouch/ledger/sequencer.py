"""Sequencing and integrating: how entries become part of the signed log.

Two steps, kept apart as in Sunlight and Tessera:

- ``append`` *sequences*: it gives entries the next indexes and stores them,
  in the caller's transaction. It is fast and is the only thing a request
  waits for: once that transaction commits, the entries are durable and
  their indexes final. (On PostgreSQL the entries of a whole transaction are
  sent at its commit, in one statement: ``_take_head``.)
- ``integrate`` extends the Merkle tree over the entries sequenced since the
  last checkpoint, writes the hash tiles, signs a new checkpoint and swaps it
  in, all in one transaction. One integrator runs at a time: SQLite's write
  lock, or on PostgreSQL a transaction-level advisory lock that elects one
  process among several.

At each step below, a comment says what survives if the process dies there.
The named fault points let tests stop the process exactly there.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, insert, select, text, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.types import TypeEngine

from pouch import postgres
from pouch.clock import Clock
from pouch.db import Database
from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
from pouch.ledger.layout import TILE_HEIGHT, TILE_WIDTH
from pouch.ledger.merkle import HASH_SIZE, CompactRange, leaf_hash
from pouch.ledger.note import Signer, parse_note
from pouch.ledger.store import (
    CHECKPOINT_ROW,
    HEAD_ROW,
    PUBLISHED_ROW,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerTile,
    TileCache,
    TileNodeReader,
    read_tiles,
)

logger = logging.getLogger("pouch.ledger")

MAX_ENTRY_SIZE = 65_535  # an entry bundle's uint16 length prefix
# Any fixed 64-bit key will do; this one spells "pouchlog".
INTEGRATOR_LOCK = 0x706F7563686C6F67 - (1 << 63)


class EntryTooLarge(ValueError):
    """An entry over 65,535 bytes cannot be written in an entry bundle."""


class ConcurrentIntegration(RuntimeError):
    """The checkpoint changed under this integrator: its work is rolled back."""


class AnotherKey(RuntimeError):
    """The integrator's key is not the one that signed the log's checkpoints."""


def _signed_by(note: str, signer: Signer) -> bool:
    signatures = parse_note(note.encode()).signatures
    return any(s.name == signer.name and s.key_id == signer.key_id for s in signatures)


class InjectedFault(RuntimeError):
    """Raised by a fault point that a test armed."""


@dataclass
class Faults:
    """Named places where a test can make the sequencer fail or die.

    ``arm("integrate.signed")`` raises ``InjectedFault`` there;
    ``arm(point, kill=True)`` ends the process at once (``os._exit``), as a
    power cut would. The environment variable ``POUCH_LEDGER_KILL_AT`` arms a
    kill in a child process started by a test.
    """

    armed: dict[str, bool] = field(default_factory=dict)

    POINTS = (
        "append.assigned",
        "append.written",
        "integrate.locked",
        "integrate.tiles-written",
        "integrate.signed",
        "integrate.swapped",
        "integrate.committed",
    )

    @classmethod
    def from_environment(cls) -> Faults:
        faults = cls()
        point = os.environ.get("POUCH_LEDGER_KILL_AT")
        if point:
            faults.arm(point, kill=True)
        return faults

    def arm(self, point: str, *, kill: bool = False) -> None:
        if point not in self.POINTS:
            raise ValueError(f"unknown fault point {point!r}; points: {', '.join(self.POINTS)}")
        self.armed[point] = kill

    def disarm(self) -> None:
        self.armed.clear()

    def hit(self, point: str) -> None:
        if point in self.armed:
            if self.armed[point]:
                os._exit(137)
            raise InjectedFault(point)


NO_FAULTS = Faults()


def append(
    session: Session, entries: Sequence[bytes], *, now: datetime, faults: Faults = NO_FAULTS
) -> list[int]:
    """Sequence ``entries`` in the caller's transaction; returns their indexes."""
    if not entries:
        return []
    _check_sizes(entries)
    return append_built(session, len(entries), lambda _: entries, now=now, faults=faults)


#: What each of ``append_built``'s ``along`` statements returned, each time it ran.
Bumped = Sequence[Sequence[Sequence[Any] | None]]
#: Makes the entries to append, once the head row is taken, from what ``along`` bumped.
Build = Callable[[Bumped], Sequence[bytes]]
#: A ``Build`` given its bumps.
_Make = Callable[[], Sequence[bytes]]


def append_built(
    session: Session,
    count: int,
    build: Build,
    *,
    now: datetime,
    faults: Faults = NO_FAULTS,
    along: Sequence[postgres.Bumps] = (),
) -> list[int]:
    """Sequence the ``count`` entries that ``build`` makes once this transaction holds
    the head row: whatever ``build`` reads or bumps (a party's counter) is then read
    by one appender at a time, and in the order of the log.

    ``along`` are ``UPDATE … RETURNING`` statements run once the head row is
    held, their rows handed to ``build``: on PostgreSQL, in the same round trip
    as the head row's when this append takes it (a party's counters are bumped
    with it, not one answer later)."""
    if count == 0:
        return []
    if session.autoflush:
        session.flush()  # as session.execute would: the caller's pending writes go first
    held: _HeldHead | None = session.info.get(_HELD)
    if held is not None and held.transaction is _current(session):
        counted = postgres.returning_each_of(held.connection, along)
        return _count_on(held, count, lambda: build(counted), now=now, faults=faults)
    connection = session.connection()
    if postgres.psycopg_of(connection) is not None:
        taken, bumped = _take_head(session, connection, count, along)
        return _count_on(taken, count, lambda: build(bumped), now=now, faults=faults)

    def bumped_now() -> Bumped:  # once the head row is held
        return postgres.returning_each_of(connection, along)

    driver = _driver_sql(connection.dialect)
    if driver is None:
        return _append_core(connection, count, lambda: build(bumped_now()), now=now, faults=faults)
    # Appends are the log's hot path: the statements go straight to the
    # driver, since SQLAlchemy's work per statement costs more than SQLite's.
    when = driver.time_param(now)
    cursor = connection.connection.cursor()
    statement = driver.assign
    try:
        # The head row's lock makes concurrent appends take turns until commit.
        cursor.execute(statement, (count, HEAD_ROW))
        row = cursor.fetchone()
        assert row is not None, "the head row exists from the first migration"
        end = int(row[0])
        start = end - count
        # Dies here: the transaction rolls back; the indexes were never handed out.
        faults.hit("append.assigned")
        # Dies while building: the same; nothing it bumped is committed either.
        entries = _built(lambda: build(bumped_now()), count)
        statement = driver.write
        rows = [(start + i, driver.data_param(e), when) for i, e in enumerate(entries)]
        if count == 1:
            cursor.execute(statement, rows[0])
        else:
            cursor.executemany(statement, rows)
    except driver.error as error:  # raised as SQLAlchemy raises the driver's errors
        raise DBAPIError.instance(
            statement, None, error, driver.error, dialect=driver.dialect
        ) from error
    finally:
        cursor.close()
    # Dies here: still nothing committed; the caller never heard of these indexes.
    faults.hit("append.written")
    return list(range(start, end))


@dataclass
class _HeldHead:
    """The log's head row as a PostgreSQL transaction holds it: the next index to
    hand out, and the entries appended since the head was taken, written at commit
    (``postgres.write_entries``). Kept in ``session.info`` for ``transaction``, the
    innermost transaction (a savepoint, maybe) that took the head."""

    transaction: SessionTransaction
    connection: Connection
    end: int
    pending: list[tuple[int, bytes, datetime]] = field(default_factory=list)


_HELD = "pouch.ledger.held_head"


def _current(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _take_head(
    session: Session, connection: Connection, count: int, along: Sequence[postgres.Bumps]
) -> tuple[_HeldHead, Bumped]:
    """On PostgreSQL, the first append of a transaction takes the head row with
    ``UPDATE … RETURNING``; the appends after it count on from it in memory (no
    other transaction can move it before this one ends), and what they append is
    written at commit, in one statement (``write_pending``). A group commit of
    256 units appending an entry each sent 512 statements, each waiting for its
    answer while the head row was held; now it sends two."""
    transaction = _current(session)
    assert transaction is not None, "session.connection() began a transaction"
    # The head row's lock makes concurrent appends take turns until commit.
    ((row,), *bumped) = postgres.returning_each_of(
        connection, [(_BUMP_HEAD, [{"count": count}]), *along]
    )
    assert row is not None, "the head row exists from the first migration"
    held = _HeldHead(transaction, connection, end=int(row[0]) - count)
    session.info[_HELD] = held
    return held, bumped


def _count_on(
    held: _HeldHead, count: int, build: _Make, *, now: datetime, faults: Faults
) -> list[int]:
    start = held.end
    held.end += count
    # Dies here: the transaction rolls back; the indexes were never handed out.
    faults.hit("append.assigned")
    # Dies while building: the same; nothing it bumped is committed either.
    entries = _built(build, count)
    held.pending.extend(zip(range(start, start + count), entries, [now] * count, strict=True))
    # Dies here: still nothing committed (nor even sent): the caller never heard
    # of these indexes.
    faults.hit("append.written")
    return list(range(start, start + count))


def write_pending(session: Session) -> None:
    """Send the entries this transaction appended on PostgreSQL and not yet wrote
    (the head row's final value with them); done before its commit, before a
    savepoint begins (a savepoint rolled back would take them along), and by
    readers of the log within the transaction."""
    held: _HeldHead | None = session.info.get(_HELD)
    if held is None or not held.pending:
        return
    pending, held.pending = held.pending, []
    if held.transaction.is_active:
        postgres.write_entries(held.connection, head_row=HEAD_ROW, end=held.end, entries=pending)
    # else: its transaction rolled back; so did the indexes handed out.


def pending_write(session: Session) -> list[postgres.Write]:
    """``write_pending``'s statement, for the caller to send with its own writes
    (``postgres.insert_together``), as if ``write_pending`` had run: none when
    nothing is pending (on SQLite, ever)."""
    held: _HeldHead | None = session.info.get(_HELD)
    if held is None or not held.pending or not held.transaction.is_active:
        return []
    pending, held.pending = held.pending, []
    return [postgres.entries_write(head_row=HEAD_ROW, end=held.end, entries=pending)]


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    held: _HeldHead | None = session.info.get(_HELD)
    if held is not None and held.transaction is _current(session):
        write_pending(session)


@event.listens_for(Session, "after_transaction_create")
def _before_savepoint(session: Session, transaction: SessionTransaction) -> None:
    # SQLAlchemy emits the SAVEPOINT at the savepoint's first statement, after this:
    # the parent's entries are written in the parent.
    if transaction.nested:
        write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    held: _HeldHead | None = session.info.get(_HELD)
    if held is not None and held.transaction is transaction:
        del session.info[_HELD]


def hold_head(session: Session) -> None:
    """Take the head row for the rest of the transaction, as an append does, without
    appending: what is read next (a party's counter) stays as read until this
    transaction appends."""
    session.connection().execute(
        update(_HEAD).where(_HEAD.c.id == HEAD_ROW).values(next_index=_HEAD.c.next_index)
    )


def _check_sizes(entries: Sequence[bytes]) -> None:
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise EntryTooLarge(f"an entry is {len(entry)} bytes; the limit is {MAX_ENTRY_SIZE}")


def _built(build: _Make, count: int) -> Sequence[bytes]:
    entries = build()
    if len(entries) != count:
        raise ValueError(f"{count} entries were to be built, not {len(entries)}")
    _check_sizes(entries)
    return entries


_HEAD = cast(Table, LedgerHead.__table__)
_ENTRIES = cast(Table, LedgerEntry.__table__)
_BUMP_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ROW)
    .values(next_index=_HEAD.c.next_index + bindparam("count"))
    .returning(_HEAD.c.next_index)
)


def _append_core(
    connection: Connection, count: int, build: _Make, *, now: datetime, faults: Faults
) -> list[int]:
    """``append_built`` through SQLAlchemy, for the drivers ``_driver_sql`` does not know."""
    # The same steps, with the same consequences of dying between them.
    end = connection.execute(
        update(_HEAD)
        .where(_HEAD.c.id == HEAD_ROW)
        .values(next_index=_HEAD.c.next_index + count)
        .returning(_HEAD.c.next_index)
    ).scalar_one()
    start = end - count
    faults.hit("append.assigned")
    entries = _built(build, count)
    connection.execute(
        insert(_ENTRIES),
        [{"idx": start + i, "data": e, "appended_at": now} for i, e in enumerate(entries)],
    )
    faults.hit("append.written")
    return list(range(start, end))


@dataclass(frozen=True)
class _DriverSQL:
    """``append``'s statements as the driver takes them, with the conversions
    SQLAlchemy would apply to their parameters."""

    dialect: Dialect
    error: type[Exception]  # the driver's base exception (PEP 249 ``Error``)
    assign: str
    write: str
    time_param: Callable[[Any], Any]
    data_param: Callable[[Any], Any]


@functools.lru_cache(maxsize=8)
def _driver_sql(dialect: Dialect) -> _DriverSQL | None:
    # PostgreSQL through psycopg has its own path (``_take_head``).
    if (dialect.name, dialect.driver) != ("sqlite", "pysqlite"):
        return None
    mark = "?"
    preparer = dialect.identifier_preparer
    head, entries = preparer.format_table(_HEAD), preparer.format_table(_ENTRIES)
    # Nothing here comes from outside: table names from the models, marks from the driver.
    bump = f"UPDATE {head} SET next_index = next_index + {mark} WHERE id = {mark}"  # noqa: S608
    write = f"INSERT INTO {entries} (idx, data, appended_at) VALUES ({mark}, {mark}, {mark})"  # noqa: S608

    def bind_processor(column_type: TypeEngine[Any]) -> Callable[[Any], Any]:
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        return processor if processor is not None else _unchanged

    return _DriverSQL(
        dialect=dialect,
        error=dialect.loaded_dbapi.Error,
        assign=f"{bump} RETURNING next_index",
        write=write,
        time_param=bind_processor(_ENTRIES.c.appended_at.type),
        data_param=bind_processor(_ENTRIES.c.data.type),
    )


def _unchanged(value: Any) -> Any:
    return value


def _acquire_integrator_lock(session: Session) -> bool:
    if session.get_bind().dialect.name == "postgresql":
        return bool(
            session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": INTEGRATOR_LOCK}
            ).scalar_one()
        )
    # SQLite: the transaction began with BEGIN IMMEDIATE and holds the write lock.
    return True


def _extend_tiles(
    connection: Connection, old_size: int, leaf_hashes: bytes, cache: TileCache
) -> int:
    """Add the hashes of leaves ``old_size`` onwards (``leaf_hashes``,
    concatenated) to the level-0 tiles, and each subtree hash they complete
    to the tiles above; returns the new tree size."""
    level = 0
    first = old_size  # the index of the first new hash on this tile level
    new_hashes = leaf_hashes
    while new_hashes:
        count = len(new_hashes) // HASH_SIZE
        tiles = range(first // TILE_WIDTH, (first + count - 1) // TILE_WIDTH + 1)
        stored_tiles = read_tiles(connection, [(level, index) for index in tiles])
        new_tiles: list[dict[str, Any]] = []
        completed: list[bytes] = []  # the hashes of the tiles filled, one level up
        done = 0
        for index in tiles:
            stored = stored_tiles.get((level, index))
            width, data = stored if stored is not None else (0, b"")
            position = first + done - index * TILE_WIDTH
            if position != width:
                raise ConcurrentIntegration(
                    f"tile {level}/{index} holds {width} hashes but the next one is #{position}"
                )
            added = min(TILE_WIDTH - position, count - done)
            data += new_hashes[done * HASH_SIZE : (done + added) * HASH_SIZE]
            done += added
            new_width = position + added
            if stored is None:
                new_tiles.append({"level": level, "idx": index, "width": new_width, "data": data})
            else:
                connection.execute(
                    _WIDEN_TILE,
                    {
                        "at_level": level,
                        "at_index": index,
                        "old_width": width,
                        "new_width": new_width,
                        "new_data": data,
                    },
                )
            if new_width == TILE_WIDTH:
                cache.put(level, index, data)
                completed.append(cache.subtrees(level, index, data)[TILE_HEIGHT])
        if new_tiles:
            connection.execute(insert(_TILES), new_tiles)
        level += 1
        first //= TILE_WIDTH
        new_hashes = b"".join(completed)
    return old_size + len(leaf_hashes) // HASH_SIZE


_TILES = cast(Table, LedgerTile.__table__)
_WIDEN_TILE = (
    update(_TILES)
    .where(
        _TILES.c.level == bindparam("at_level"),
        _TILES.c.idx == bindparam("at_index"),
        _TILES.c.width == bindparam("old_width"),
    )
    .values(width=bindparam("new_width"), data=bindparam("new_data"))
)
_CHECKPOINT = cast(Table, LedgerCheckpoint.__table__)
# Built once: building a statement costs more than running these.
_READ_CHECKPOINT = select(_CHECKPOINT.c.size, _CHECKPOINT.c.root, _CHECKPOINT.c.note).where(
    _CHECKPOINT.c.id == CHECKPOINT_ROW
)
_PENDING = (
    select(_ENTRIES.c.data)
    .where(_ENTRIES.c.idx >= bindparam("first"))
    .order_by(_ENTRIES.c.idx)
    .limit(bindparam("most"))
)
_SWAP_CHECKPOINT = (
    update(_CHECKPOINT)
    .where(
        _CHECKPOINT.c.id == CHECKPOINT_ROW,
        _CHECKPOINT.c.size == bindparam("old_size"),
        _CHECKPOINT.c.root == bindparam("old_root"),
    )
    .values(
        size=bindparam("new_size"),
        root=bindparam("new_root"),
        note=bindparam("new_note"),
        published_at=bindparam("now"),
    )
)
# Without witnesses, the signed checkpoint is published in the same transaction;
# a published checkpoint is only ever replaced by a larger one.
_PUBLISH_CHECKPOINT = (
    update(_CHECKPOINT)
    .where(_CHECKPOINT.c.id == PUBLISHED_ROW, _CHECKPOINT.c.size <= bindparam("new_size"))
    .values(
        size=bindparam("new_size"),
        root=bindparam("new_root"),
        note=bindparam("new_note"),
        published_at=bindparam("now"),
        witnessing="unwitnessed",
    )
)


@dataclass(frozen=True)
class Integrated:
    """What one integration did."""

    old_size: int
    checkpoint: Checkpoint
    note: bytes


def integrate(
    database: Database,
    *,
    signer: Signer,
    origin: str,
    clock: Clock,
    cache: TileCache,
    max_entries: int = 65_536,
    faults: Faults = NO_FAULTS,
    publish: bool = True,
) -> Integrated | None:
    """Integrate what has been sequenced; None when there was nothing to do
    (or another process holds the integrator lock). With ``publish`` the new
    checkpoint is also published at once; without, it waits for witnesses
    (``pouch.ledger.witnessing``)."""
    with database.transaction() as session:
        if not _acquire_integrator_lock(session):
            return None
        # Dies here: nothing written; the lock goes with the connection.
        faults.hit("integrate.locked")
        connection = session.connection()
        stored_size, stored_root, stored_note = connection.execute(_READ_CHECKPOINT).one()
        old_size, old_root = int(stored_size), bytes(stored_root)
        pending = [
            bytes(data)
            for data in connection.scalars(_PENDING, {"first": old_size, "most": max_entries}).all()
        ]
        if not pending and stored_note is not None:
            return None
        if stored_note is not None and not _signed_by(stored_note, signer):
            # A process started with another key (a wrong key file, a new data
            # directory) would go on signing this log under a key nobody trusts.
            raise AnotherKey(
                f"the log's latest checkpoint is not signed by {signer.name}+"
                f"{signer.key_id:08x}: refusing to sign this log with another key"
            )
        tree = CompactRange.load(old_size, TileNodeReader(session, cache))
        if tree.root() != old_root:
            raise ConcurrentIntegration(
                f"the stored tiles give root {tree.root().hex()} at size {old_size}, "
                f"the checkpoint says {old_root.hex()}"
            )
        # The tiles grow level by level, a whole tile's hashes at a time; the
        # new tree's right edge is then read back from them.
        new_size = _extend_tiles(
            connection, old_size, b"".join(leaf_hash(entry) for entry in pending), cache
        )
        tree = CompactRange.load(new_size, TileNodeReader(session, cache))
        # Dies here: tiles written but not committed; all of it rolls back and
        # the next integration redoes it from the same checkpoint.
        faults.hit("integrate.tiles-written")
        checkpoint = Checkpoint(origin=origin, size=tree.size, root_hash=tree.root())
        note = sign_checkpoint(checkpoint, signer)
        # Dies here: a signature exists only in this process's memory; it was
        # never published, and the tree it signs is consistent with the last.
        faults.hit("integrate.signed")
        swapped = connection.execute(
            _SWAP_CHECKPOINT,
            {
                "old_size": old_size,
                "old_root": old_root,
                "new_size": checkpoint.size,
                "new_root": checkpoint.root_hash,
                "new_note": note.decode(),
                "now": clock.now(),
            },
        )
        if swapped.rowcount != 1:
            raise ConcurrentIntegration("another integrator replaced the checkpoint first")
        if publish:
            connection.execute(
                _PUBLISH_CHECKPOINT,
                {
                    "new_size": checkpoint.size,
                    "new_root": checkpoint.root_hash,
                    "new_note": note.decode(),
                    "now": clock.now(),
                },
            )
        # Dies here: the swap is not committed; as above, everything rolls back.
        faults.hit("integrate.swapped")
    # Committed: the tiles and the checkpoint that covers them are durable together.
    faults.hit("integrate.committed")
    return Integrated(old_size=old_size, checkpoint=checkpoint, note=note)


class Integrator:
    """A background thread that integrates soon after entries are sequenced.

    ``wake()`` (called after an append commits) starts an integration at
    once; otherwise it integrates every ``interval`` seconds anyway, which
    also picks up entries appended by other processes.

    Under load, integrations start at most every ``spacing`` seconds: each
    one signs and commits (an fsync) and, on SQLite, takes the one write
    lock from the appends, so one checkpoint covering the appends of the
    last ``spacing`` seconds costs the appends far less than one checkpoint
    after each of their commits. An integration woken after a quiet spell
    still starts at once.
    """

    def __init__(
        self,
        integrate_once: Callable[[], Integrated | None],
        *,
        interval: float,
        spacing: float = 0.0,
        on_published: Callable[[Integrated], None] | None = None,
    ) -> None:
        self._integrate_once = integrate_once
        self.interval = interval
        self.spacing = spacing
        self._last_start = -math.inf
        self._on_published = on_published
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ledger-integrator", daemon=True)
            self._thread.start()

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
            try:
                while (done := self._paced()) is not None:
                    if self._on_published is not None:
                        self._on_published(done)
            except Exception:  # keep integrating; the next round retries from the checkpoint
                logger.exception("integration failed")
        # A last round so that a clean shutdown leaves nothing unintegrated.
        try:
            while self._integrate_once() is not None:
                pass
        except Exception:
            logger.exception("final integration failed")

    def _paced(self) -> Integrated | None:
        delay = self._last_start + self.spacing - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)
        self._last_start = time.monotonic()
        return self._integrate_once()
