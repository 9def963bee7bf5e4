"""Many appends in one transaction, as a group commit makes them, on both backends.

On PostgreSQL the first append of a transaction takes the head row and the
others count on from it in memory, their entries written at commit in one
statement (``sequencer._take_head``, ``sequencer.write_pending``). These tests
would fail if that bookkeeping lost, reused or skipped an index: across the
units of a batch, a unit that fails and rolls back alone, savepoints released
and rolled back, and reads of the log inside the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.groupcommit import GroupCommitter
from pouch.ledger import sequencer
from pouch.ledger import service as ledger_service
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.ledger.store import LedgerEntry, TileCache
from tests.ledger.helpers import full_verify

ORIGIN = "test.pouch/log"


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer.from_skey(generate_key(ORIGIN)[0])


def _stored(database: Database) -> dict[int, bytes]:
    with database.transaction(write=False) as session:
        rows = session.execute(select(LedgerEntry.idx, LedgerEntry.data)).all()
    return {int(index): bytes(data) for index, data in rows}


def _verify(database: Database, signer: Ed25519Signer, clock: ManualClock) -> int:
    sequencer.integrate(database, signer=signer, origin=ORIGIN, clock=clock, cache=TileCache())
    with database.transaction(write=False) as session:
        return full_verify(session, signer.verifier)


class Refused(Exception):
    """A unit's own failure, after it appended."""


def test_a_batch_of_units_appends_gapless_and_a_failed_unit_leaves_no_entry(
    database: Database, clock: ManualClock, signer: Ed25519Signer
) -> None:
    with database.transaction(write=False) as session:
        size = ledger_service.sequenced_size(session)

    def unit(
        name: bytes, *, fails: bool = False, entries: int = 1
    ) -> Callable[[Session], list[int]]:
        def work(session: Session) -> list[int]:
            made = [name + b"." + bytes([48 + i]) for i in range(entries)]
            indexes = sequencer.append(session, made, now=clock.now())
            if fails:
                raise Refused(name.decode())
            return indexes

        return work

    committer = GroupCommitter(database, max_batch=64)
    futures: list[Future[list[int]]] = []
    # Every unit is queued before the writer starts: one batch, whose first attempt
    # fails at unit 7 and is run again, each unit in a savepoint of its own.
    for i in range(20):
        work = unit(b"u%d" % i, fails=i == 7, entries=1 + i % 3)
        futures.append(committer.submit(work))
    committer.start()
    committer.stop()
    assert committer.batches == 1
    with pytest.raises(Refused):
        futures[7].result()
    indexes = [index for i, f in enumerate(futures) if i != 7 for index in f.result()]
    assert indexes == list(range(size, size + len(indexes)))
    stored = _stored(database)
    assert sorted(stored)[-len(indexes) :] == indexes
    assert not any(data.startswith(b"u7.") for data in stored.values())
    assert stored[indexes[-1]] == b"u19.1"  # unit 19 appended two entries
    with database.transaction(write=False) as session:
        assert ledger_service.sequenced_size(session) == size + len(indexes)
    assert _verify(database, signer, clock) == size + len(indexes)


def test_a_savepoint_keeps_the_appends_before_it_and_its_own_only_when_released(
    database: Database, clock: ManualClock, signer: Ed25519Signer
) -> None:
    now = clock.now()
    with database.transaction() as session:
        first = ledger_service.sequenced_size(session)
        (a,) = sequencer.append(session, [b"a"], now=now)
        savepoint = session.begin_nested()
        (b,) = sequencer.append(session, [b"b"], now=now)
        savepoint.rollback()  # b is gone, and so is its index
        (c,) = sequencer.append(session, [b"c"], now=now)
        savepoint = session.begin_nested()
        (d,) = sequencer.append(session, [b"d"], now=now)
        savepoint.commit()
        (e,) = sequencer.append(session, [b"e"], now=now)
        # Reads inside the transaction see what it appended.
        assert ledger_service.sequenced_size(session) == first + 4
        assert ledger_service.entry(session, e) == b"e"
    assert (a, b, c, d, e) == (first, first + 1, first + 1, first + 2, first + 3)
    stored = _stored(database)
    assert [stored[i] for i in range(first, first + 4)] == [b"a", b"c", b"d", b"e"]
    assert first + 4 not in stored
    assert _verify(database, signer, clock) == first + 4


def test_a_transaction_rolled_back_after_appending_writes_nothing(
    database: Database, clock: ManualClock
) -> None:
    with database.transaction(write=False) as session:
        size = ledger_service.sequenced_size(session)
    with pytest.raises(Refused), database.transaction() as session:
        sequencer.append(session, [b"x", b"y"], now=clock.now())
        sequencer.append(session, [b"z"], now=clock.now())
        raise Refused("after appending")
    with database.transaction() as session:
        assert ledger_service.sequenced_size(session) == size
        assert sequencer.append(session, [b"next"], now=clock.now()) == [size]
    assert _stored(database)[size] == b"next"
