"""The ledger page's checks, as service functions: quick on every view, full on demand,
and the log's growth hour by hour."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import sequencer
from pouch.ledger import service as ledger_service
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.ledger.store import LedgerTile, TileCache

ORIGIN = "test.pouch/log"


def _log(database: Database, clock: ManualClock, signer: Ed25519Signer, count: int) -> None:
    with database.transaction() as session:
        sequencer.append(session, [b"entry %d" % i for i in range(count)], now=clock.now())
    sequencer.integrate(database, signer=signer, origin=ORIGIN, clock=clock, cache=TileCache())


def test_a_log_that_verifies_then_a_tampered_tile(database: Database, clock: ManualClock) -> None:
    signer = Ed25519Signer.from_skey(generate_key(ORIGIN)[0])
    verifier = signer.verifier
    with database.transaction(write=False) as session:
        empty = ledger_service.quick_verification(session, verifier=verifier, cache=TileCache())
    assert not empty.ok and "not published a checkpoint" in empty.steps[0][1]
    _log(database, clock, signer, 300)
    with database.transaction(write=False) as session:
        quick = ledger_service.quick_verification(session, verifier=verifier, cache=TileCache())
        full = ledger_service.full_verification(session, verifier=verifier, cache=TileCache())
        assert ledger_service.published_at(session) == clock.now()
    assert quick.ok and [ok for ok, _ in quick.steps] == [True, True, True]
    assert full.ok and "All 300 entries rehashed" in full.steps[0][1]
    with database.transaction() as session:
        session.execute(
            update(LedgerTile)
            .where(LedgerTile.level == 0, LedgerTile.idx == 1)
            .values(data=bytes(32 * 44))
        )
    with database.transaction(write=False) as session:
        quick = ledger_service.quick_verification(session, verifier=verifier, cache=TileCache())
        full = ledger_service.full_verification(session, verifier=verifier, cache=TileCache())
    assert not quick.ok and not full.ok


def test_growth_counts_entries_by_the_end_of_each_hour(
    database: Database, clock: ManualClock
) -> None:
    with database.transaction() as session:
        sequencer.append(session, [b"a", b"b"], now=clock.now())
        sequencer.append(session, [b"c"], now=clock.now() + timedelta(hours=2, minutes=5))
        points = ledger_service.growth(session)
    start = clock.now().replace(minute=0)
    assert points == [(start, 2), (start + timedelta(hours=2), 3)]


def test_growth_since_a_time_lists_only_the_hours_after_it_and_counts_those_before(
    database: Database, clock: ManualClock
) -> None:
    start = clock.now().replace(minute=0)
    with database.transaction() as session:
        sequencer.append(session, [b"a", b"b"], now=clock.now())
        sequencer.append(session, [b"c"], now=clock.now() + timedelta(hours=2, minutes=5))
        sequencer.append(session, [b"d", b"e"], now=clock.now() + timedelta(days=10))
        week = ledger_service.growth(session, since=clock.now() + timedelta(days=9))
        everything = ledger_service.growth(session, since=clock.now() - timedelta(days=1))
        nothing = ledger_service.growth(session, since=clock.now() + timedelta(days=11))
        assert ledger_service.first_appended_since(session, clock.now() + timedelta(hours=1)) == 2
    # The three entries before the window are counted in its first point, not listed.
    assert week == [(start + timedelta(days=10), 5)]
    assert everything == [
        (start, 2),
        (start + timedelta(hours=2), 3),
        (start + timedelta(days=10), 5),
    ]
    assert nothing == []
