"""Office tags in the ledger: the pure finder, and each party's counter and key as
``record_events`` and ``rotate_tag_key`` keep them, on both backends.

The ledger knows parties by number only; tests/messages/test_office_tags.py
checks the message path and the attacks on it.
"""

from __future__ import annotations

import base64
import random
import secrets
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import events, tags
from pouch.ledger import service as ledger_service
from pouch.ledger.store import LedgerEntry, LedgerTagKey

TIME = "2026-11-05T14:00:00.000Z"


def _entry(*entry_tags: bytes, salt: bytes | None = None) -> bytes:
    event = {"kind": "accepted", "time": TIME}
    return events.entry_for(event, salt or events.new_salt(), list(entry_tags))


# -- the pure finder ---------------------------------------------------------------


def test_tags_for_is_hmac_sha256_truncated_over_the_decimal_counter() -> None:
    import hashlib
    import hmac

    key = secrets.token_bytes(32)
    for counter in (0, 9, 10, 2**40):
        mac = hmac.new(key, b"pouch-tag/v1\n" + str(counter).encode(), hashlib.sha256)
        assert tags.tag(key, counter) == mac.digest()[:16]
    assert tags.tags_for(key, [3, 1]) == [tags.tag(key, 3), tags.tag(key, 1)]
    with pytest.raises(ValueError, match="0 or more"):
        tags.tag(key, -1)


def test_the_finder_finds_exactly_an_office_s_entries_and_nobody_else_s() -> None:
    rng = random.Random(14)
    keys = {office: secrets.token_bytes(32) for office in (1, 2, 3)}
    counters = dict.fromkeys(keys, 0)
    expected: dict[int, list[tuple[int, int]]] = {office: [] for office in keys}
    log: list[tuple[int, bytes]] = [(0, _entry())]  # an entry about nobody
    log.append((1, events.entry_for({"kind": "old", "time": TIME}, bytes(32))))  # a v1 entry
    for index in range(2, 300):
        concerned = rng.sample(sorted(keys), rng.randint(0, 3))
        entry_tags = []
        for office in concerned:
            entry_tags.append(tags.tag(keys[office], counters[office]))
            expected[office].append((counters[office], index))
            counters[office] += 1
        # A stranger's tag, as another office's would look.
        entry_tags.append(secrets.token_bytes(16))
        log.append((index, _entry(*entry_tags)))
    for office, key in keys.items():
        found = tags.find([(key, 0)], log)
        assert found.found == expected[office]
        assert found.missing == [] and found.repeated == []
        assert found.highest == counters[office] - 1
    nobody = tags.find([(secrets.token_bytes(32), 0)], log)
    assert nobody.found == [] and nobody.missing == [] and nobody.highest is None


def test_a_skipped_counter_is_missing_and_a_repeated_one_is_reported() -> None:
    key = secrets.token_bytes(32)
    # Counter 2 never logged (hidden); counter 4 logged twice (stepped back).
    log = [(i, _entry(tags.tag(key, c))) for i, c in enumerate([0, 1, 3, 4, 4, 5])]
    found = tags.find([(key, 0)], log)
    assert found.found == [(0, 0), (1, 1), (3, 2), (4, 3), (5, 5)]
    assert found.missing == [2]
    assert found.repeated == [(4, 4)]
    assert found.index_of(3) == 2 and found.index_of(2) is None


def test_the_finder_follows_the_key_history_across_rotations() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    # Counters 0..4 under the old key (4 is the rotation's own event), 5.. under the new.
    log = [(c, _entry(tags.tag(old if c < 5 else new, c))) for c in range(9)]
    assert tags.find([(old, 0), (new, 5)], log).found == [(c, c) for c in range(9)]
    # With the old key only, the office sees nothing after the rotation...
    assert tags.find([(old, 0)], log).highest == 4
    # ...and with the new one only, it starts at its first counter.
    assert tags.find([(new, 5)], log).found == [(c, c) for c in range(5, 9)]
    # A key from counter 5 does not make counters 0..4 "missing".
    assert tags.find([(new, 5)], log).missing == []


def test_the_finder_looks_ahead_past_the_highest_found() -> None:
    key = secrets.token_bytes(32)
    log = [(0, _entry(tags.tag(key, 0))), (1, _entry(tags.tag(key, 40)))]
    assert tags.find([(key, 0)], log, lookahead=50).missing == list(range(1, 40))
    assert tags.find([(key, 0)], log, lookahead=10).found == [(0, 0)]


@pytest.mark.parametrize(
    ("history", "reason"),
    [
        ([], "at least one key"),
        ([(b"short", 0)], "32 bytes"),
        ([(bytes(32), -1)], "0 or more"),
        ([(bytes(32), 4), (bytes(32), 2)], "higher counter"),
    ],
)
def test_a_bad_key_history_is_refused(history: list[tuple[bytes, int]], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        tags.find(history, [])


def test_the_finder_refuses_a_malformed_entry_naming_its_index() -> None:
    key = secrets.token_bytes(32)
    unsorted = b"\n".join(
        [
            b"pouch-event/v2",
            TIME.encode(),
            base64.b64encode(bytes(32)),
            base64.b64encode(bytes(16)),
            base64.b64encode(b"\xff" * 16),
        ]
    )
    for bad, reason in [
        (unsorted + b"\n", "entry 7: the tags are not in ascending order"),
        (b"not an entry", "entry 7: an entry ends with a newline"),
        (b"\xff\xfe\n", "entry 7: an entry is ASCII text"),
    ]:
        with pytest.raises(events.MalformedEntry, match=reason):
            tags.find([(key, 0)], [(6, _entry(tags.tag(key, 0))), (7, bad)])


# -- counters and keys in the database ----------------------------------------------


def _key(database: Database, party: int) -> LedgerTagKey:
    with database.transaction(write=False) as session:
        row = session.get(LedgerTagKey, party)
        assert row is not None
        session.expunge(row)
        return row


def _log(database: Database) -> list[tuple[int, bytes]]:
    with database.transaction(write=False) as session:
        rows = session.execute(select(LedgerEntry.idx, LedgerEntry.data).order_by(LedgerEntry.idx))
        return [(int(i), bytes(d)) for i, d in rows]


def _record(
    database: Database, clock: ManualClock, batch: Iterable[Iterable[int]]
) -> list[ledger_service.RecordedEvent]:
    with database.transaction() as session:
        return ledger_service.record_events(
            session,
            [("test.event", {"n": n}, list(p)) for n, p in enumerate(batch)],
            at=clock.now(),
        )


def test_each_event_carries_a_tag_per_party_counted_per_party(
    database: Database, clock: ManualClock
) -> None:
    first = _record(database, clock, [[101, 102], [102], [], [101, 101]])
    second = _record(database, clock, [[102, 103]])
    recorded = first + second
    keys = {p: _key(database, p) for p in (101, 102, 103)}
    assert {p: (k.next_counter, k.key_from, k.disclosed) for p, k in keys.items()} == {
        101: (2, 0, False),
        102: (3, 0, False),
        103: (1, 0, False),
    }

    def tag(party: int, counter: int) -> bytes:
        return tags.tag(keys[party].tag_key, counter)

    expected = [
        {tag(101, 0), tag(102, 0)},
        {tag(102, 1)},
        set(),
        {tag(101, 1)},  # a party named twice is counted once
        {tag(102, 2), tag(103, 0)},
    ]
    with database.transaction(write=False) as session:
        for r, wanted in zip(recorded, expected, strict=True):
            parsed = events.parse_entry(r.entry)
            assert parsed.version == 2 and set(parsed.tags) == wanted
            assert r.opening.tags == parsed.tags
            assert r.opening.entry() == r.entry == ledger_service.entry(session, r.index)
            kept = ledger_service.kept_opening(session, r.index)
            assert kept is not None and kept.opening == r.opening
            assert kept.opening.to_json()["tags"] == events.tag_lines(wanted)
    with database.transaction(write=False) as session:
        parties = [ledger_service.kept_opening(session, r.index) for r in recorded]
    assert [kept.parties if kept else None for kept in parties] == [
        {101, 102},
        {102},
        set(),
        {101},
        {102, 103},
    ]


def test_a_rotation_is_tagged_with_the_old_key_and_counters_go_on(
    database: Database, clock: ManualClock
) -> None:
    _record(database, clock, [[7], [7, 8]])
    old = _key(database, 7).tag_key
    with database.transaction() as session:
        first = ledger_service.rotate_tag_key(
            session, party=7, kind="tag-key.rotated", at=clock.now(), details={"office": 7}
        )
    # The rotation is the party's counter 2, under the old key; the new key from 3.
    assert first.from_counter == 3
    assert first.recorded.opening.event["from_counter"] == 3
    assert first.recorded.opening.tags == (tags.tag(old, 2),)
    # The key made at the first event had never been handed over: it is, now.
    assert first.previous == (old, 0)
    _record(database, clock, [[7], [7]])
    with database.transaction() as session:
        second = ledger_service.rotate_tag_key(
            session, party=7, kind="tag-key.rotated", at=clock.now(), details={"office": 7}
        )
    assert second.previous is None and second.from_counter == 6
    assert second.recorded.opening.tags == (tags.tag(first.key, 5),)
    _record(database, clock, [[7]])
    kept = _key(database, 7)
    assert (kept.tag_key, kept.key_from, kept.next_counter) == (second.key, 6, 7)
    history = [(old, 0), (first.key, first.from_counter), (second.key, second.from_counter)]
    found = tags.find(history, _log(database))
    assert [c for c, _ in found.found] == list(range(7))
    assert found.missing == [] and found.repeated == []
    # Each key alone finds only its own stretch.
    assert [c for c, _ in tags.find([(first.key, 3)], _log(database)).found] == [3, 4, 5]


def test_a_rotation_for_a_party_never_seen_makes_its_first_key(
    database: Database, clock: ManualClock
) -> None:
    with database.transaction() as session:
        rotation = ledger_service.rotate_tag_key(
            session, party=55, kind="tag-key.rotated", at=clock.now(), details={}
        )
    assert rotation.from_counter == 1 and rotation.previous is not None
    previous_key, previous_from = rotation.previous
    assert previous_from == 0
    assert rotation.recorded.opening.tags == (tags.tag(previous_key, 0),)


def test_a_rolled_back_event_takes_no_counter(database: Database, clock: ManualClock) -> None:
    _record(database, clock, [[9]])
    with pytest.raises(RuntimeError), database.transaction() as session:
        ledger_service.record_events(session, [("test.event", {}, [9])], at=clock.now())
        raise RuntimeError("the state change failed")
    _record(database, clock, [[9]])
    found = tags.find([(_key(database, 9).tag_key, 0)], _log(database))
    assert [c for c, _ in found.found] == [0, 1] and found.missing == []


def test_concurrent_writers_keep_each_party_s_counters_gapless_and_in_log_order(
    fresh_database: Database,
) -> None:
    clock = ManualClock(datetime(2026, 11, 5, 14, 0, tzinfo=UTC))
    parties = (1, 2, 3, 4)
    writers, batches = 6, 15
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(batches):
                # Several appends in one transaction, their parties in any order (as
                # the deadline worker records one row after another): the head row is
                # taken before any party's, so no two writers wait on each other.
                with fresh_database.transaction() as session:
                    for _ in range(rng.randint(1, 3)):
                        batch = [
                            ("test.event", {}, rng.sample(parties, rng.randint(1, 3)))
                            for _ in range(rng.randint(1, 4))
                        ]
                        ledger_service.record_events(session, batch, at=clock.now())
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    log = _log(fresh_database)
    for party in parties:
        kept = _key(fresh_database, party)
        found = tags.find([(kept.tag_key, 0)], log)
        counters = [c for c, _ in found.found]
        assert counters == list(range(kept.next_counter)), party
        assert found.missing == [] and found.repeated == []
        indexes = [i for _, i in found.found]
        assert indexes == sorted(indexes), "a party's counters follow the log's order"
