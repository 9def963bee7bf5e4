"""The monitor's pure core: the walk of the log with an office's keys, across polls;
each opening rebuilt and understood; deadlines by the log's times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pouch.ledger.events import Opening, entry_for, format_time, new_salt
from pouch.ledger.merkle import leaf_hash
from pouch.ledger.tags import KeyHistory, tag
from pouch.monitor.party import (
    Answer,
    Dossier,
    PartyState,
    Step,
    deadline_alarms,
    rotation_alarms,
    take_opening,
    walk,
)

T0 = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
OFFICE = 2
KEY = bytes(range(32))
NEW_KEY = bytes(range(32, 64))


def event(kind: str, **details: Any) -> dict[str, Any]:
    return {"kind": kind, "time": format_time(T0), **details}


def logged(counters: list[int], history: KeyHistory, *, strangers: int = 1) -> bytes:
    mine = [tag(history.key_for(c), c) for c in counters]
    others = [tag(bytes(32), 1000 + i) for i in range(strangers)]
    return entry_for(event("delivered", message="m-x"), new_salt(), tags=mine + others)


def test_the_walk_resumes_where_the_last_poll_ended_and_sees_repeats_across_polls() -> None:
    history = KeyHistory([(KEY, 0), (NEW_KEY, 3)])
    state = PartyState(office=OFFICE, role="office")
    first = [logged([0], history), logged([], history), logged([1], history)]
    assert walk(state, history, 0, first) == [(0, 0), (1, 2)]
    assert state.frontier == 2 and not state.findings
    # The next poll: counters 2 and 3 (under the new key), then 5 without 4, then
    # counter 1 again.
    second = [logged([2], history), logged([3], history), logged([5], history)]
    second.append(logged([1], history))
    assert walk(state, history, 3, second) == [(2, 3), (3, 4), (5, 5)]
    assert state.frontier == 6
    assert sorted(a.kind for a in state.findings.values()) == ["counter-repeated", "hidden-entry"]
    hidden = state.findings["hidden-entry:4"]
    assert hidden.evidence == {"counter": 4, "entry_before": 4, "entry_after": 5}
    repeated = state.findings["counter-repeated:1:6"]
    assert repeated.evidence["first_index"] == 2
    # A malformed entry is named, and the walk goes on past it.
    assert walk(state, history, 7, [b"not an entry\n", logged([6], history)]) == [(6, 8)]
    assert "entry-malformed:7" in state.findings
    # Round trip through the state file.
    assert PartyState.from_json(state.to_json()).to_json() == state.to_json()


def opened(index: int, body: dict[str, Any], **kwargs: Any) -> tuple[bytes, Answer]:
    opening = Opening(index, new_salt(), body, tags=(tag(KEY, 0),))
    return leaf_hash(opening.entry()), Answer(200, opening.to_json())


def test_openings_are_rebuilt_and_understood() -> None:
    state = PartyState(office=OFFICE, role="office")
    accepted = event(
        "accepted",
        message="m-1",
        from_office=3,
        to_office=OFFICE,
        office_sequence=1,
        precedence="FLASH",
        content="c" * 64,
        deliver_by=format_time(T0 + timedelta(minutes=10)),
    )
    leaf, answer = opened(10, accepted)
    take_opening(state, index=10, counter=0, leaf=leaf, answer=answer)
    assert state.messages["m-1"].office_sequence == 1 and not state.findings
    leaf, answer = opened(11, event("delivered", message="m-1"))
    take_opening(state, index=11, counter=1, leaf=leaf, answer=answer)
    assert [s.kind for s in state.messages["m-1"].steps] == ["delivered"]

    # An opening that rebuilds another entry than the one logged.
    _, answer = opened(12, event("read", message="m-1"))
    take_opening(state, index=12, counter=2, leaf=bytes(32), answer=answer)
    assert state.findings["opening-mismatch:12"].evidence["counter"] == 2
    # Events that do not concern the office, and a rotation it never asked for.
    for index, body in (
        (13, {**accepted, "message": "m-2", "to_office": 4}),
        (14, event("membership.granted", office=9, user=1, role="staff", by=None)),
        (15, event("call.confirmed", call="c-unknown")),
        (16, event("worker.failed", job="overdue", row=1, error="x")),
    ):
        leaf, answer = opened(index, body)
        take_opening(state, index=index, counter=index, leaf=leaf, answer=answer)
        assert f"not-concerning:{index}" in state.findings, body
    leaf, answer = opened(17, event("tag-key.rotated", office=OFFICE, by=1, from_counter=40))
    take_opening(state, index=17, counter=39, leaf=leaf, answer=answer)
    (unknown,) = rotation_alarms(state, KeyHistory([(KEY, 0)]))
    assert unknown.key == "unknown-rotation:17" and unknown.evidence["from_counter"] == 40
    assert rotation_alarms(state, KeyHistory([(KEY, 0), (NEW_KEY, 40)])) == []
    # Refused: kept to be asked again, and named with what the server said.
    take_opening(state, index=18, counter=5, leaf=bytes(32), answer=Answer(403, {"x": 1}))
    assert state.unopened[18].status == 403


def dossier(precedence: str, window: timedelta, *steps: Step) -> Dossier:
    return Dossier(
        message=f"m-{precedence}",
        from_office=3,
        to_office=OFFICE,
        office_sequence=1,
        precedence=precedence,
        content="c" * 64,
        deliver_by=format_time(T0 + window),
        accepted_index=1,
        accepted_time=format_time(T0),
        steps=list(steps),
    )


def test_deadlines_by_the_log_s_times_with_a_grace_of_at_most_half_the_window() -> None:
    grace = timedelta(seconds=60)
    flash = dossier("FLASH", timedelta(minutes=10))
    short = dossier("SHORT", timedelta(seconds=30))
    due = T0 + timedelta(minutes=10)
    assert deadline_alarms([flash], now=due + grace, grace=grace) == []
    (late,) = deadline_alarms([flash], now=due + grace + timedelta(seconds=1), grace=grace)
    assert late.evidence["late_seconds"] == 61
    # A 30-second window: 15 seconds of grace, not 60.
    assert deadline_alarms([short], now=T0 + timedelta(seconds=45), grace=grace) == []
    assert len(deadline_alarms([short], now=T0 + timedelta(seconds=46), grace=grace)) == 1
    # Delivered in time, or marked overdue: nothing to say; delivered late unmarked: alarm.
    on_time = Step("delivered", 2, format_time(due))
    overdue = Step("overdue", 2, format_time(due + timedelta(seconds=5)))
    after = Step("delivered", 3, format_time(due + timedelta(seconds=1)))
    later = T0 + timedelta(days=1)
    assert (
        deadline_alarms([dossier("FLASH", timedelta(minutes=10), on_time)], now=later, grace=grace)
        == []
    )
    assert (
        deadline_alarms(
            [dossier("FLASH", timedelta(minutes=10), overdue, after)], now=later, grace=grace
        )
        == []
    )
    (unmarked,) = deadline_alarms(
        [dossier("FLASH", timedelta(minutes=10), after)], now=later, grace=grace
    )
    assert "delivered 1 s after its deadline" in unmarked.summary
