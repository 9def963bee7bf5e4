"""How the pages say times left, runs of numbers and gaps: pure text, for any page.

``static/pouch.js`` says a countdown in the same words as ``countdown``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


def countdown(deadline: datetime, now: datetime) -> str:
    """Time left before ``deadline``, or how late it is; static/pouch.js says the same.

    >>> from datetime import UTC, timedelta
    >>> t = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
    >>> countdown(t + timedelta(minutes=9, seconds=30), t)
    '9 min 30 s left'
    >>> countdown(t + timedelta(hours=5, minutes=3), t)
    '5 h 03 min left'
    >>> countdown(t - timedelta(seconds=42), t)
    'overdue by 42 s'
    """
    seconds = int((deadline - now).total_seconds())
    span = abs(seconds)
    hours, rest = divmod(span, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours} h {minutes:02d} min"
    elif minutes:
        text = f"{minutes} min {secs:02d} s"
    else:
        text = f"{secs} s"
    return f"{text} left" if seconds >= 0 else f"overdue by {text}"


def ranges_text(gaps: Iterable[tuple[int, int]]) -> str:
    """Runs of numbers as people write them.

    >>> ranges_text([(12, 12), (38, 39), (50, 52)])
    '12, 38–39 and 50–52'
    """
    parts = [str(a) if a == b else f"{a}–{b}" for a, b in gaps]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def gap_sentence(accounted: int, gaps: list[tuple[int, int]]) -> str:
    """What an office's sequence check says, plainly.

    >>> gap_sentence(40, [])
    'All 40 messages accounted for.'
    >>> gap_sentence(38, [(38, 39)])
    'Messages 38–39 were never shown to this office.'
    >>> gap_sentence(39, [(12, 12)])
    'Message 12 was never shown to this office.'
    >>> gap_sentence(0, [])
    'No message has been addressed to this office yet.'
    """
    if gaps:
        missing = sum(b - a + 1 for a, b in gaps)
        if missing == 1:
            return f"Message {ranges_text(gaps)} was never shown to this office."
        return f"Messages {ranges_text(gaps)} were never shown to this office."
    if accounted == 0:
        return "No message has been addressed to this office yet."
    if accounted == 1:
        return "The one message addressed to this office is accounted for."
    return f"All {accounted} messages accounted for."
