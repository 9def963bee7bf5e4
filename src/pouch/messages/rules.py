"""Deadline and hold arithmetic: pure functions over plain values.

Precedences and their speed-of-service defaults follow ACP 121: FLASH 10 min,
IMMEDIATE 30 min, PRIORITY 3 h, ROUTINE 6 h from acceptance to delivery.
A message waits in the watch floor's queue for at most its *triage window*;
then Pouch delivers it by itself unless a hold approved by two officers is in
force. Holds are capped per precedence, and in total at 72 hours.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pouch.settings import Settings


class Precedence(enum.StrEnum):
    FLASH = "FLASH"
    IMMEDIATE = "IMMEDIATE"
    PRIORITY = "PRIORITY"
    ROUTINE = "ROUTINE"

    @property
    def rank(self) -> int:
        """0 for the most urgent.

        >>> sorted(Precedence, key=lambda p: p.rank)[0]
        <Precedence.FLASH: 'FLASH'>
        """
        return list(Precedence).index(self)


@dataclass(frozen=True)
class Timetable:
    """Per precedence: delivery deadline, triage window and hold cap."""

    deadline: dict[Precedence, timedelta]
    triage: dict[Precedence, timedelta]
    hold_cap: dict[Precedence, timedelta]
    hold_total_cap: timedelta = timedelta(hours=72)

    @classmethod
    def from_settings(cls, settings: Settings) -> Timetable:
        """The deadlines, triage windows and hold caps the settings give; built once per
        process (``create_app``, a command)."""
        return cls(
            deadline={
                Precedence.FLASH: settings.deadline_flash,
                Precedence.IMMEDIATE: settings.deadline_immediate,
                Precedence.PRIORITY: settings.deadline_priority,
                Precedence.ROUTINE: settings.deadline_routine,
            },
            triage={
                Precedence.FLASH: settings.triage_flash,
                Precedence.IMMEDIATE: settings.triage_immediate,
                Precedence.PRIORITY: settings.triage_priority,
                Precedence.ROUTINE: settings.triage_routine,
            },
            hold_cap={
                Precedence.FLASH: settings.hold_cap_flash,
                Precedence.IMMEDIATE: settings.hold_cap_immediate,
                Precedence.PRIORITY: settings.hold_cap_priority,
                Precedence.ROUTINE: settings.hold_cap_routine,
            },
            hold_total_cap=settings.hold_total_cap,
        )

    def hold_cap_minutes(self) -> dict[Precedence, int]:
        """The longest hold per precedence, in whole minutes (a form's limit).

        >>> DEFAULT_TIMETABLE.hold_cap_minutes()[Precedence.FLASH]
        15
        """
        return {p: int(self.hold_cap[p].total_seconds() // 60) for p in Precedence}

    def deliver_by(self, precedence: Precedence, accepted_at: datetime) -> datetime:
        """The delivery deadline.

        >>> DEFAULT_TIMETABLE.deliver_by(Precedence.FLASH, datetime(2026, 11, 5, 14, 0)).time()
        datetime.time(14, 10)
        """
        return accepted_at + self.deadline[precedence]

    def auto_deliver_at(self, precedence: Precedence, accepted_at: datetime) -> datetime:
        """When Pouch delivers a message nobody has routed or held."""
        return accepted_at + min(self.triage[precedence], self.deadline[precedence])

    def check_hold(
        self, precedence: Precedence, *, duration: timedelta, already_held: timedelta
    ) -> str | None:
        """Why a hold of ``duration`` is not allowed, or None when it is.

        >>> DEFAULT_TIMETABLE.check_hold(
        ...     Precedence.FLASH, duration=timedelta(minutes=20), already_held=timedelta(0))
        'a FLASH hold lasts at most 0:15:00; asked 0:20:00'
        """
        if duration <= timedelta(0):
            return "a hold must last a positive time"
        cap = self.hold_cap[precedence]
        if duration > cap:
            return f"a {precedence.value} hold lasts at most {cap}; asked {duration}"
        if already_held + duration > self.hold_total_cap:
            left = max(self.hold_total_cap - already_held, timedelta(0))
            return (
                f"holds on one message total at most {self.hold_total_cap}; "
                f"{already_held} used, {left} left"
            )
        return None


DEFAULT_TIMETABLE = Timetable(
    deadline={
        Precedence.FLASH: timedelta(minutes=10),
        Precedence.IMMEDIATE: timedelta(minutes=30),
        Precedence.PRIORITY: timedelta(hours=3),
        Precedence.ROUTINE: timedelta(hours=6),
    },
    triage={
        Precedence.FLASH: timedelta(minutes=3),
        Precedence.IMMEDIATE: timedelta(minutes=10),
        Precedence.PRIORITY: timedelta(hours=1),
        Precedence.ROUTINE: timedelta(hours=2),
    },
    hold_cap={
        Precedence.FLASH: timedelta(minutes=15),
        Precedence.IMMEDIATE: timedelta(hours=1),
        Precedence.PRIORITY: timedelta(hours=6),
        Precedence.ROUTINE: timedelta(hours=24),
    },
)


def find_gaps(
    sequences: list[int], *, first: int = 1, last: int | None = None
) -> list[tuple[int, int]]:
    """Missing runs in an office's sequence numbers from ``first`` (1: they start at 1)
    up to ``last`` (None: the highest seen); numbers before ``first`` are not looked at.

    >>> find_gaps([1, 2, 3, 6, 7, 9])
    [(4, 5), (8, 8)]
    >>> find_gaps([])
    []
    >>> find_gaps([3, 5, 12], first=5, last=14)
    [(6, 11), (13, 14)]
    """
    gaps = []
    expected = first
    for number in sorted(set(sequences)):
        if number < first:
            continue
        if number > expected:
            gaps.append((expected, number - 1))
        expected = number + 1
    if last is not None and last >= expected:
        gaps.append((expected, last))
    return gaps


def joined_runs(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs in order, those that touch made one.

    >>> joined_runs([(2, 3), (4, 4), (7, 9), (10, 12)])
    [(2, 4), (7, 12)]
    """
    joined: list[tuple[int, int]] = []
    for start, end in runs:
        if joined and joined[-1][1] + 1 == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined
