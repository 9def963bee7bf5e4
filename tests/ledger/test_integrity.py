"""The server's own check of its newest tiles and openings, and what /readyz says of it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import service
from pouch.ledger.integrity import IntegrityChecker, check_recent
from pouch.ledger.keys import load_signer
from pouch.ledger.store import LedgerOpening, LedgerTile, TileCache
from pouch.settings import Settings


def _logged(settings: Settings, database: Database, clock: ManualClock, count: int) -> None:
    with database.transaction() as session:
        for i in range(count):
            service.record_event(session, kind="accepted", at=clock.now(), details={"n": i})
    ledger = service.Ledger.from_settings(settings, database=database, clock=clock)
    ledger.integrate_now()


def test_an_altered_opening_or_tile_is_found_and_named(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    _logged(settings, database, clock, 5)
    verifier = load_signer(settings).verifier
    with database.transaction(write=False) as session:
        assert check_recent(session, verifier=verifier, cache=TileCache()) == []
    # An insider edits an event after it was logged (its opening no longer rebuilds it).
    with database.transaction() as session:
        session.execute(
            update(LedgerOpening).where(LedgerOpening.idx == 3).values(event=b'{"n":99}')
        )
    with database.transaction(write=False) as session:
        problems = check_recent(session, verifier=verifier, cache=TileCache())
    assert problems and "log entry 3" in problems[0]
    # ...or rewrites a stored tile.
    with database.transaction() as session:
        session.execute(update(LedgerTile).values(data=b"\x00" * 32 * 5))
    with database.transaction(write=False) as session:
        problems = check_recent(session, verifier=verifier, cache=TileCache())
    assert any("not the checkpoint's root" in p for p in problems), problems


def test_readyz_is_503_while_the_log_does_not_check(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    _logged(settings, database, clock, 3)
    app = create_app(settings, database=database, clock=clock, background=False)
    checker: IntegrityChecker = app.state.integrity
    with TestClient(app) as client:
        assert checker.run_once().ok
        assert client.get("/readyz").status_code == 200
        with database.transaction() as session:
            session.execute(
                update(LedgerOpening).where(LedgerOpening.idx == 1).values(salt=b"\x01" * 32)
            )
        assert not checker.run_once().ok
        ready = client.get("/readyz")
        assert "pouch_integrity_problems 1.0" in client.get("/metrics").text
    assert ready.status_code == 503
    assert any("integrity: The opening of log entry 1" in p for p in ready.json()["problems"])
