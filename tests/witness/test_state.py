"""The witness's SQLite state: the compare-and-swap, its lock, reload, and evidence."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pouch.witness.service import SizeMismatch, Witness
from pouch.witness.state import CosignedCheckpoint, StateBusy, StateUnusable, WitnessState
from tests.witness.helpers import ORIGIN, T0, TestLog


def checkpoint(size: int, root: bytes = b"r" * 32) -> CosignedCheckpoint:
    return CosignedCheckpoint(ORIGIN, size, root, b"note %d" % size, T0)


def test_a_new_state_is_in_wal_mode_and_versioned(state_path: Path) -> None:
    WitnessState(state_path)
    with sqlite3.connect(state_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 1


def test_what_advance_stores_survives_a_restart(state_path: Path) -> None:
    WitnessState(state_path).advance(ORIGIN, lambda current: checkpoint(7))
    reopened = WitnessState(state_path)  # as after the process was killed and restarted
    assert reopened.latest(ORIGIN) == checkpoint(7)
    assert reopened.all_latest() == [checkpoint(7)]


def test_tree_sizes_up_to_2_64_minus_1_are_kept_exactly(state_path: Path) -> None:
    state = WitnessState(state_path)
    state.advance(ORIGIN, lambda current: checkpoint(2**64 - 1))
    latest = state.latest(ORIGIN)
    assert latest is not None and latest.size == 2**64 - 1


def test_a_refusing_update_changes_nothing(state_path: Path) -> None:
    state = WitnessState(state_path)
    state.advance(ORIGIN, lambda current: checkpoint(3))

    def refuse(current: CosignedCheckpoint | None) -> CosignedCheckpoint:
        raise SizeMismatch("no", size=3)

    with pytest.raises(SizeMismatch):
        state.advance(ORIGIN, refuse)
    assert state.latest(ORIGIN) == checkpoint(3)


@pytest.mark.parametrize(
    "replacement",
    [checkpoint(4), checkpoint(5, root=b"s" * 32)],
    ids=["a smaller tree", "another tree of the same size"],
)
def test_advance_itself_refuses_a_rollback_or_a_second_tree_of_one_size(
    state_path: Path, replacement: CosignedCheckpoint
) -> None:
    state = WitnessState(state_path)
    state.advance(ORIGIN, lambda current: checkpoint(5))
    with pytest.raises(ValueError, match="refusing to replace"):
        state.advance(ORIGIN, lambda current: replacement)
    assert state.latest(ORIGIN) == checkpoint(5)


def test_the_write_lock_is_held_from_the_read_to_the_commit(state_path: Path) -> None:
    """While one request is between reading the stored size and writing its own,
    no other writer (thread or process) can start; readers still see the old state."""
    state = WitnessState(state_path)
    state.advance(ORIGIN, lambda current: checkpoint(1))
    impatient = WitnessState(state_path, busy_timeout=0)
    seen: list[object] = []

    def update(current: CosignedCheckpoint | None) -> CosignedCheckpoint:
        try:
            impatient.advance(ORIGIN, lambda other: checkpoint(9))
        except StateBusy as busy:
            seen.append(busy)
        seen.append(impatient.latest(ORIGIN))
        return checkpoint(2)

    state.advance(ORIGIN, update)
    assert isinstance(seen[0], StateBusy)
    assert seen[1] == checkpoint(1)
    assert state.latest(ORIGIN) == checkpoint(2)


def race(witness: Witness, bodies: dict[int, bytes]) -> dict[int, bytes | SizeMismatch]:
    """Submit every body at once, each from its own thread, released together."""
    barrier = threading.Barrier(len(bodies))
    outcomes: dict[int, bytes | SizeMismatch] = {}

    def submit(key: int) -> None:
        barrier.wait()
        try:
            outcomes[key] = witness.add_checkpoint(bodies[key])
        except SizeMismatch as refusal:
            outcomes[key] = refusal

    threads = [threading.Thread(target=submit, args=(key,)) for key in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_requests_from_threads_cosign_once(witness: Witness, log: TestLog) -> None:
    """The spec's rollback race, for real: requests from one old size to several
    new sizes at once. One is cosigned; every other learns the size that won."""
    for start in (0, 8, 16):
        sizes = range(start + 1, start + 9)
        outcomes = race(witness, {size: log.request(start, size) for size in sizes})
        winners = [size for size, outcome in outcomes.items() if isinstance(outcome, bytes)]
        assert len(winners) == 1, outcomes
        (winner,) = winners
        losers = [o for o in outcomes.values() if isinstance(o, SizeMismatch)]
        assert len(losers) == len(sizes) - 1
        assert all(loser.size == winner for loser in losers)
        latest = witness.state.latest(ORIGIN)
        assert latest is not None and latest.size == winner
        # Line the log up for the next round (the winner may be any of the sizes).
        if winner != start + 8:
            witness.add_checkpoint(log.request(winner, start + 8))


def test_a_repeated_refusal_is_counted_once(state_path: Path) -> None:
    state = WitnessState(state_path)
    for now in (T0, T0 + 5, T0 + 9):
        state.record_refusal(
            origin=ORIGIN, status=422, reason="r", checkpoint_text="t\n", body=b"b", now=now
        )
    state.record_refusal(
        origin=ORIGIN, status=409, reason="s", checkpoint_text="t\n", body=b"c", now=T0 + 10
    )
    assert state.refusal_count() == 2
    newest, oldest = state.refusals()
    assert (newest.status, newest.body) == (409, b"c")
    assert (oldest.count, oldest.first_seen, oldest.last_seen) == (3, T0, T0 + 9)
    assert state.refusal(oldest.id) == oldest
    assert state.refusal(999) is None


def test_a_file_that_is_not_a_witness_state_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StateUnusable, match="no witness state here"):
        WitnessState(tmp_path / "missing.sqlite3", create=False)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not sqlite" * 100)
    with pytest.raises(StateUnusable, match="not a database"):
        WitnessState(garbage)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(StateUnusable, match="not a witness state"):
        WitnessState(other, create=False)
    with pytest.raises(StateUnusable):
        WitnessState(tmp_path / "no-such-directory" / "state.sqlite3")
