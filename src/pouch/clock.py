"""Time, injected: every service asks a clock, so tests never sleep.

``SystemClock`` reads the real time; ``ManualClock`` is the test double that
ships with Pouch (tests and the demo move it by hand).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to.

    >>> clock = ManualClock(datetime(2026, 11, 5, 12, 0, tzinfo=UTC))
    >>> clock.advance(timedelta(minutes=10)).isoformat()
    '2026-11-05T12:10:00+00:00'
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)
