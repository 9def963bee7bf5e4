"""``record_events``: several events, one append, consecutive indexes, openings
stored; ``events.sealed``: the entry and the canonical JSON, computed once."""

from __future__ import annotations

import base64

import pytest

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import events
from pouch.ledger import service as ledger_service


def test_record_events_appends_in_order_and_stores_every_opening(
    database: Database, clock: ManualClock
) -> None:
    with database.transaction() as session:
        size = ledger_service.sequenced_size(session)
        recorded = ledger_service.record_events(
            session,
            [("first", {"n": 1}, ()), ("second.kind", {"n": 2}, ()), ("first", {"n": 3}, ())],
            at=clock.now(),
        )
        single = ledger_service.record_event(session, kind="alone", at=clock.now(), details={})
    assert [r.index for r in recorded] == [size, size + 1, size + 2]
    assert single.index == size + 3
    time = events.format_time(clock.now())
    with database.transaction(write=False) as session:
        assert ledger_service.sequenced_size(session) == size + 4
        for r, kind, n in zip(recorded, ["first", "second.kind", "first"], [1, 2, 3], strict=True):
            assert r.opening.index == r.index
            assert r.opening.event == {"n": n, "kind": kind, "time": time}
            assert r.opening.entry() == r.entry == ledger_service.entry(session, r.index)
            stored = ledger_service.opening(session, r.index)
            assert stored is not None and stored.to_json() == r.opening.to_json()
        salts = {r.opening.salt for r in recorded}
    assert len(salts) == 3  # each event its own salt


def test_one_bad_event_records_none_of_them(database: Database, clock: ManualClock) -> None:
    with database.transaction() as session:
        size = ledger_service.sequenced_size(session)
        with pytest.raises(events.InvalidEvent, match="kind"):
            ledger_service.record_events(
                session, [("good", {}, ()), ("Not A Kind", {}, ())], at=clock.now()
            )
        # Every event is sealed before anything is appended.
        assert ledger_service.sequenced_size(session) == size
        assert ledger_service.entry(session, size) is None


def test_sealed_is_the_entry_and_the_canonical_json() -> None:
    salt = bytes(32)
    event = {"time": "2026-11-05T14:00:00.000Z", "message": "m-1", "kind": "accepted"}
    entry, event_json = events.sealed(event, salt)
    assert entry == events.entry_for(event, salt)
    assert entry.decode().splitlines()[2] == "zSnEwjMZdBtuVY5woGDv+ymI9HHpRIpHgmeeLGoqRao="
    assert event_json == events.canonical(event)
    assert event_json == b'{"kind":"accepted","message":"m-1","time":"2026-11-05T14:00:00.000Z"}'
    assert base64.b64decode(entry.decode().splitlines()[2]) == events.commitment(event_json, salt)
    with pytest.raises(events.InvalidEvent, match="time"):
        events.sealed({"kind": "accepted"}, salt)


def test_record_events_with_no_events_records_nothing(
    database: Database, clock: ManualClock
) -> None:
    with database.transaction() as session:
        size = ledger_service.sequenced_size(session)
        assert ledger_service.record_events(session, [], at=clock.now()) == []
        assert ledger_service.sequenced_size(session) == size
