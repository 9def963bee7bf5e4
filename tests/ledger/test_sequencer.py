"""Sequencing and integrating on both backends, with crashes at every step."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import sequencer, service
from pouch.ledger.checkpoint import open_checkpoint
from pouch.ledger.layout import tiles_for_size
from pouch.ledger.merkle import (
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.ledger.receipt import verify_receipt
from pouch.ledger.store import LedgerTile, TileCache
from tests.ledger.helpers import full_verify

ORIGIN = "test.pouch/log"


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    skey, _ = generate_key(ORIGIN)
    return Ed25519Signer.from_skey(skey)


def _append(
    database: Database,
    clock: ManualClock,
    entries: list[bytes],
    faults: sequencer.Faults = sequencer.NO_FAULTS,
) -> list[int]:
    with database.transaction() as session:
        return sequencer.append(session, entries, now=clock.now(), faults=faults)


def _integrate(
    database: Database,
    signer: Ed25519Signer,
    clock: ManualClock,
    faults: sequencer.Faults = sequencer.NO_FAULTS,
    cache: TileCache | None = None,
) -> sequencer.Integrated | None:
    return sequencer.integrate(
        database,
        signer=signer,
        origin=ORIGIN,
        clock=clock,
        cache=cache or TileCache(),
        faults=faults,
    )


def _entries(start: int, count: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(start, start + count)]


def test_append_assigns_gapless_indexes(database: Database, clock: ManualClock) -> None:
    assert _append(database, clock, _entries(0, 3)) == [0, 1, 2]
    assert _append(database, clock, _entries(3, 2)) == [3, 4]
    assert _append(database, clock, []) == []


def test_oversized_entry_is_refused_and_nothing_written(
    database: Database, clock: ManualClock
) -> None:
    with pytest.raises(sequencer.EntryTooLarge, match="65535"):
        _append(database, clock, [b"ok", b"x" * 65_536])
    assert _append(database, clock, [b"x" * 65_535]) == [0]


def test_first_integration_signs_the_empty_tree(
    database: Database, clock: ManualClock, signer: Ed25519Signer
) -> None:
    done = _integrate(database, signer, clock)
    assert done is not None and done.checkpoint.size == 0
    assert _integrate(database, signer, clock) is None  # nothing new


@pytest.mark.parametrize("batches", [[1], [255, 1], [256, 256, 1], [300, 700, 70]])
def test_integration_matches_the_reference_tree(
    database: Database, clock: ManualClock, signer: Ed25519Signer, batches: list[int]
) -> None:
    all_entries: list[bytes] = []
    previous: sequencer.Integrated | None = None
    cache = TileCache()
    for count in batches:
        new = _entries(len(all_entries), count)
        _append(database, clock, new)
        all_entries += new
        done = _integrate(database, signer, clock, cache=cache)
        assert done is not None
        assert done.checkpoint.size == len(all_entries)
        assert done.checkpoint.root_hash == root_from_leaf_hashes(
            [leaf_hash(e) for e in all_entries]
        )
        open_checkpoint(done.note, log=signer.verifier)
        if previous is not None:
            with database.transaction(write=False) as session:
                proof = service.prove_consistency(
                    session, old=previous.checkpoint.size, new=done.checkpoint.size, cache=cache
                )
            verify_consistency(
                old_size=previous.checkpoint.size,
                new_size=done.checkpoint.size,
                old_root=previous.checkpoint.root_hash,
                new_root=done.checkpoint.root_hash,
                proof=proof,
            )
        previous = done
    with database.transaction(write=False) as session:
        assert full_verify(session, signer.verifier) == len(all_entries)
        stored = {(t.level, t.idx, t.width) for t in session.scalars(select(LedgerTile))}
        assert stored == {(t.level, t.index, t.width) for t in tiles_for_size(len(all_entries))}
        for index in (0, len(all_entries) // 2, len(all_entries) - 1):
            receipt = service.receipt(session, index=index, cache=cache)
            verified = verify_receipt(receipt, all_entries[index], log=signer.verifier)
            assert verified.index == index
            for size in {index + 1, len(all_entries)}:
                proof = service.prove_inclusion(session, index=index, size=size, cache=TileCache())
                root = root_from_leaf_hashes([leaf_hash(e) for e in all_entries[:size]])
                verify_inclusion(
                    leaf_hash=leaf_hash(all_entries[index]),
                    index=index,
                    size=size,
                    proof=proof,
                    root=root,
                )


def test_nothing_beyond_the_checkpoint_is_served(
    database: Database, clock: ManualClock, signer: Ed25519Signer
) -> None:
    _append(database, clock, _entries(0, 10))
    _integrate(database, signer, clock)
    _append(database, clock, _entries(10, 5))
    with database.transaction(write=False) as session:
        with pytest.raises(service.NotIntegrated):
            service.receipt(session, index=12, cache=TileCache())
        with pytest.raises(service.NotIntegrated):
            service.prove_inclusion(session, index=1, size=15, cache=TileCache())
        assert service.sequenced_size(session) == 15
        assert service.latest_checkpoint(session).size == 10  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "point",
    [
        p
        for p in sequencer.Faults.POINTS
        if p.startswith("integrate.") and p != "integrate.committed"
    ],
)
def test_a_crash_during_integration_loses_nothing(
    database: Database, clock: ManualClock, signer: Ed25519Signer, point: str
) -> None:
    _append(database, clock, _entries(0, 300))
    first = _integrate(database, signer, clock)
    assert first is not None
    _append(database, clock, _entries(300, 500))
    faults = sequencer.Faults()
    faults.arm(point)
    with pytest.raises(sequencer.InjectedFault):
        _integrate(database, signer, clock, faults=faults)
    with database.transaction(write=False) as session:
        # The checkpoint and tiles are exactly as before the crash.
        assert full_verify(session, signer.verifier) == 300
    # Reload with a cold cache, as a restarted process would, and finish the job.
    again = _integrate(database, signer, clock, cache=TileCache())
    assert again is not None and again.checkpoint.size == 800
    with database.transaction(write=False) as session:
        assert full_verify(session, signer.verifier) == 800
        proof = service.prove_consistency(session, old=300, new=800, cache=TileCache())
    verify_consistency(
        old_size=300,
        new_size=800,
        old_root=first.checkpoint.root_hash,
        new_root=again.checkpoint.root_hash,
        proof=proof,
    )


@pytest.mark.parametrize("point", ["append.assigned", "append.written"])
def test_a_crash_during_append_leaves_no_trace(
    database: Database, clock: ManualClock, signer: Ed25519Signer, point: str
) -> None:
    _append(database, clock, _entries(0, 5))
    faults = sequencer.Faults()
    faults.arm(point)
    with pytest.raises(sequencer.InjectedFault):
        _append(database, clock, _entries(5, 5), faults=faults)
    assert _append(database, clock, _entries(5, 1)) == [5]
    _integrate(database, signer, clock)
    with database.transaction(write=False) as session:
        assert full_verify(session, signer.verifier) == 6


def test_unknown_fault_point_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault point"):
        sequencer.Faults().arm("integrate.somewhere")


def test_tampered_tiles_stop_integration(
    database: Database, clock: ManualClock, signer: Ed25519Signer
) -> None:
    _append(database, clock, _entries(0, 40))
    _integrate(database, signer, clock)
    with database.transaction() as session:
        tile = session.scalars(select(LedgerTile).where(LedgerTile.level == 0)).one()
        tile.data = bytes(32) + bytes(tile.data)[32:]
    _append(database, clock, _entries(40, 1))
    with pytest.raises(sequencer.ConcurrentIntegration, match="stored tiles give root"):
        _integrate(database, signer, clock)


KILL_CHILD = textwrap.dedent(
    """
    import sys
    from pouch.clock import SystemClock
    from pouch.db import Database
    from pouch.ledger import sequencer
    from pouch.ledger.note import Ed25519Signer
    from pouch.ledger.store import TileCache

    url, skey, start, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    database = Database.from_url(url)
    faults = sequencer.Faults.from_environment()
    with database.transaction() as session:
        sequencer.append(session, [f"entry {i}".encode() for i in range(start, start + count)],
                         now=SystemClock().now(), faults=faults)
    sequencer.integrate(database, signer=Ed25519Signer.from_skey(skey), origin="test.pouch/log",
                        clock=SystemClock(), cache=TileCache(), faults=faults)
    print("survived")
    """
)


@pytest.mark.parametrize(
    "point",
    [
        "append.written",
        "integrate.tiles-written",
        "integrate.signed",
        "integrate.swapped",
        "integrate.committed",
    ],
)
def test_kill_minus_nine_at_each_step(
    fresh_database: Database, signer: Ed25519Signer, point: str
) -> None:
    url = fresh_database.engine.url.render_as_string(hide_password=False)
    skey = signer.skey
    ok = subprocess.run(
        [sys.executable, "-c", KILL_CHILD, url, skey, "0", "300"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    killed = subprocess.run(
        [sys.executable, "-c", KILL_CHILD, url, skey, "300", "400"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "POUCH_LEDGER_KILL_AT": point},
    )
    assert killed.returncode == 137, killed.stdout + killed.stderr
    appended = 300 if point == "append.written" else 700
    with fresh_database.transaction(write=False) as session:
        assert service.sequenced_size(session) == appended
        full_verify(session, signer.verifier)
    done = sequencer.integrate(
        fresh_database,
        signer=signer,
        origin=ORIGIN,
        clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC)),
        cache=TileCache(),
    )
    with fresh_database.transaction(write=False) as session:
        assert full_verify(session, signer.verifier) == appended
    assert done is None or done.checkpoint.size == appended


def test_concurrent_integrators_never_fork_the_log(
    fresh_database: Database, signer: Ed25519Signer
) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    errors: list[BaseException] = []
    checkpoints: list[sequencer.Integrated] = []

    def writer(start: int) -> None:
        for batch in range(10):
            _append(fresh_database, clock, _entries(start + batch * 20, 20))

    def integrator() -> None:
        for _ in range(20):
            try:
                done = _integrate(fresh_database, signer, clock)
            except sequencer.ConcurrentIntegration as error:  # the loser rolls back
                errors.append(error)
                continue
            if done is not None:
                checkpoints.append(done)

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(3)]
    threads += [threading.Thread(target=integrator) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _integrate(fresh_database, signer, clock)
    with fresh_database.transaction(write=False) as session:
        assert full_verify(session, signer.verifier) == 600
        final = service.latest_checkpoint(session)
        assert final is not None
        cache = TileCache()
        # Every checkpoint ever signed is consistent with the final tree.
        for done in checkpoints:
            if done.checkpoint.size == 0:
                continue
            proof = service.prove_consistency(
                session, old=done.checkpoint.size, new=final.size, cache=cache
            )
            verify_consistency(
                old_size=done.checkpoint.size,
                new_size=final.size,
                old_root=done.checkpoint.root_hash,
                new_root=final.root,
                proof=proof,
            )


def test_the_integrator_refuses_to_sign_the_log_with_another_key(
    database: Database, clock: ManualClock, signer: Ed25519Signer
) -> None:
    _append(database, clock, _entries(0, 3))
    assert _integrate(database, signer, clock) is not None
    _append(database, clock, _entries(3, 2))
    stranger = Ed25519Signer.from_skey(generate_key(ORIGIN)[0])
    with pytest.raises(sequencer.AnotherKey, match="refusing to sign this log with another"):
        _integrate(database, stranger, clock)
    done = _integrate(database, signer, clock)  # the log's own key goes on
    assert done is not None and done.checkpoint.size == 5
