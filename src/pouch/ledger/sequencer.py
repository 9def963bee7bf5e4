"""Sequencing and integrating: how entries become part of the signed log.

Two steps, kept apart as in Sunlight and Tessera:

- ``append`` *sequences*: it gives entries the next indexes and stores them,
  in the caller's transaction. It is fast and is the only thing a request
  waits for: once that transaction commits, the entries are durable and
  their indexes final.
- ``integrate`` extends the Merkle tree over the entries sequenced since the
  last checkpoint, writes the hash tiles, signs a new checkpoint and swaps it
  in, all in one transaction. One integrator runs at a time: SQLite's write
  lock, or on PostgreSQL a transaction-level advisory lock that elects one
  process among several.

At each step below, a comment says what survives if the process dies there.
The named fault points let tests stop the process exactly there.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
from pouch.ledger.layout import TILE_HEIGHT, TILE_WIDTH
from pouch.ledger.merkle import CompactRange, NodeID, leaf_hash
from pouch.ledger.note import Signer
from pouch.ledger.store import (
    CHECKPOINT_ROW,
    HEAD_ROW,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerTile,
    TileCache,
    TileNodeReader,
    read_tile,
)

logger = logging.getLogger("pouch.ledger")

MAX_ENTRY_SIZE = 65_535  # an entry bundle's uint16 length prefix
# Any fixed 64-bit key will do; this one spells "pouchlog".
INTEGRATOR_LOCK = 0x706F7563686C6F67 - (1 << 63)


class EntryTooLarge(ValueError):
    """An entry over 65,535 bytes cannot be written in an entry bundle."""


class ConcurrentIntegration(RuntimeError):
    """The checkpoint changed under this integrator: its work is rolled back."""


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
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise EntryTooLarge(f"an entry is {len(entry)} bytes; the limit is {MAX_ENTRY_SIZE}")
    count = len(entries)
    # The head row's lock makes concurrent appends take turns until commit.
    end = session.execute(
        update(LedgerHead)
        .where(LedgerHead.id == HEAD_ROW)
        .values(next_index=LedgerHead.next_index + count)
        .returning(LedgerHead.next_index)
    ).scalar_one()
    start = end - count
    # Dies here: the transaction rolls back; the indexes were never handed out.
    faults.hit("append.assigned")
    session.execute(
        insert(LedgerEntry),
        [{"idx": start + i, "data": e, "appended_at": now} for i, e in enumerate(entries)],
    )
    # Dies here: still nothing committed; the caller never heard of these indexes.
    faults.hit("append.written")
    return list(range(start, end))


def _acquire_integrator_lock(session: Session) -> bool:
    if session.get_bind().dialect.name == "postgresql":
        return bool(
            session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": INTEGRATOR_LOCK}
            ).scalar_one()
        )
    # SQLite: the transaction began with BEGIN IMMEDIATE and holds the write lock.
    return True


def _write_tiles(session: Session, completed: list[tuple[NodeID, bytes]], cache: TileCache) -> None:
    """Add the completed nodes whose level is a tile level to their tiles."""
    additions: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
    for node, digest in completed:
        tile_level, rest = divmod(node.level, TILE_HEIGHT)
        if rest:
            continue
        tile_index, position = divmod(node.index, TILE_WIDTH)
        additions.setdefault((tile_level, tile_index), []).append((position, digest))
    for (level, index), hashes in sorted(additions.items()):
        stored = read_tile(session, level, index, cache=None)
        width, data = stored if stored is not None else (0, b"")
        hashes.sort()
        if hashes[0][0] != width:
            raise ConcurrentIntegration(
                f"tile {level}/{index} holds {width} hashes but the next one is #{hashes[0][0]}"
            )
        data += b"".join(digest for _, digest in hashes)
        new_width = width + len(hashes)
        if stored is None:
            session.add(LedgerTile(level=level, idx=index, width=new_width, data=data))
        else:
            session.execute(
                update(LedgerTile)
                .where(
                    LedgerTile.level == level, LedgerTile.idx == index, LedgerTile.width == width
                )
                .values(width=new_width, data=data)
            )
        if new_width == TILE_WIDTH:
            cache.put(level, index, data)


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
) -> Integrated | None:
    """Integrate what has been sequenced; None when there was nothing to do
    (or another process holds the integrator lock)."""
    with database.transaction() as session:
        if not _acquire_integrator_lock(session):
            return None
        # Dies here: nothing written; the lock goes with the connection.
        faults.hit("integrate.locked")
        current = session.execute(
            select(LedgerCheckpoint).where(LedgerCheckpoint.id == CHECKPOINT_ROW)
        ).scalar_one()
        old_size, old_root = current.size, bytes(current.root)
        pending = [
            bytes(data)
            for data in session.scalars(
                select(LedgerEntry.data)
                .where(LedgerEntry.idx >= old_size)
                .order_by(LedgerEntry.idx)
                .limit(max_entries)
            )
        ]
        if not pending and current.note is not None:
            return None
        tree = CompactRange.load(old_size, TileNodeReader(session, cache))
        if tree.root() != old_root:
            raise ConcurrentIntegration(
                f"the stored tiles give root {tree.root().hex()} at size {old_size}, "
                f"the checkpoint says {old_root.hex()}"
            )
        completed = tree.extend(leaf_hash(entry) for entry in pending)
        _write_tiles(session, completed, cache)
        # Dies here: tiles written but not committed; all of it rolls back and
        # the next integration redoes it from the same checkpoint.
        faults.hit("integrate.tiles-written")
        checkpoint = Checkpoint(origin=origin, size=tree.size, root_hash=tree.root())
        note = sign_checkpoint(checkpoint, signer)
        # Dies here: a signature exists only in this process's memory; it was
        # never published, and the tree it signs is consistent with the last.
        faults.hit("integrate.signed")
        swapped = session.execute(
            update(LedgerCheckpoint)
            .where(
                LedgerCheckpoint.id == CHECKPOINT_ROW,
                LedgerCheckpoint.size == old_size,
                LedgerCheckpoint.root == old_root,
            )
            .values(
                size=checkpoint.size,
                root=checkpoint.root_hash,
                note=note.decode(),
                published_at=clock.now(),
            )
        )
        if swapped.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentIntegration("another integrator replaced the checkpoint first")
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
    """

    def __init__(
        self,
        integrate_once: Callable[[], Integrated | None],
        *,
        interval: float,
        on_published: Callable[[Integrated], None] | None = None,
    ) -> None:
        self._integrate_once = integrate_once
        self.interval = interval
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
                while (done := self._integrate_once()) is not None:
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
