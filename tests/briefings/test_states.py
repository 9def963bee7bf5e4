"""The call's state machine and the clearance of papers, over every pair of states."""

from __future__ import annotations

import itertools

import pytest

from pouch.briefings.states import (
    NEXT,
    PAPER_NEXT,
    CallState,
    Clearance,
    may_clear,
    may_move,
    too_many_points,
)

ALLOWED = {
    ("scheduled", "confirmed"),
    ("scheduled", "rescheduled"),
    ("scheduled", "cancelled"),
    ("confirmed", "placing"),
    ("confirmed", "missed"),
    ("confirmed", "rescheduled"),
    ("confirmed", "cancelled"),
    ("placing", "connected"),
    ("placing", "missed"),
    ("connected", "completed"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(CallState, CallState)))
def test_exactly_the_moves_of_the_issue_are_allowed(current: CallState, target: CallState) -> None:
    assert may_move(current, target) == ((current.value, target.value) in ALLOWED)


def test_every_state_has_its_moves_listed_and_the_ends_have_none() -> None:
    assert set(NEXT) == set(CallState)
    ends = {s for s, after in NEXT.items() if not after}
    assert ends == {
        CallState.COMPLETED,
        CallState.MISSED,
        CallState.RESCHEDULED,
        CallState.CANCELLED,
    }


def test_a_paper_is_cleared_only_after_it_is_submitted() -> None:
    assert set(PAPER_NEXT) == set(Clearance)
    assert may_clear(Clearance.SUBMITTED, Clearance.CLEARED)
    assert may_clear(Clearance.SUBMITTED, Clearance.RETURNED)
    assert may_clear(Clearance.RETURNED, Clearance.SUBMITTED)
    for start in (Clearance.DRAFT, Clearance.RETURNED, Clearance.CLEARED):
        assert not may_clear(start, Clearance.CLEARED)


def test_too_many_talking_points_are_flagged_not_refused() -> None:
    assert too_many_points(5, 5) is None
    assert too_many_points(6, 5) == "6 talking points: more than the 5 advised"
