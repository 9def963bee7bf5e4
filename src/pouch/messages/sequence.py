"""Whether an office was shown every message addressed to it (invariant 5): pure.

An office's listing gives, for each message accepted for it, the message's
sequence number and the opening of its ``accepted`` event. Each opening must
be an acceptance for this office carrying that number, and its entry must be
in the log; the numbers that pass must then run from 1 without a hole, up to
the last number the office's counter issued when that is known. An office
that has seen 1..37 and then 40 learns that 38 and 39 exist. What the office
is shown of each message (subject, body, attachments: ``content``, hashed as
``acceptance.content_hash`` hashes it) must be what its acceptance committed
to; a message changed after acceptance still counts as shown, and mismatches.

How an entry is known to be in the log is the caller's: the inbox page
compares it with the entry the server stores (``message_service.office_check``),
an office verifies a receipt under a checkpoint the log's key signed
(``check.check_office``, behind ``pouch office check``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from pouch.events import EventKind
from pouch.ledger.events import InvalidEvent, Opening
from pouch.messages.rules import find_gaps


@dataclass(frozen=True)
class Listed:
    """A message as its addressee office's listing shows it (``opening`` is None when
    the server kept no opening for its ``accepted`` event), and the content hash of
    what the office is shown of it (None when it is not shown yet, or not checked)."""

    message: str
    office_sequence: int
    opening: Opening | None
    content: str | None = None

    @property
    def where(self) -> str:
        return f"message {self.message} (sequence {self.office_sequence})"


@dataclass(frozen=True)
class Mismatch:
    """A listed message whose opening does not hold, or whose content shown is not the
    one accepted (``what``), and why."""

    listed: Listed
    reason: str
    what: Literal["opening", "content"] = "opening"

    def __str__(self) -> str:
        return f"{self.listed.where}: {self.reason}"


@dataclass(frozen=True)
class SequenceCheck:
    """``verified`` numbers checked, the ``highest`` of them, the numbers ``issued``
    (0 when unknown), the missing runs, and the listed messages that do not check."""

    verified: int
    highest: int
    issued: int
    gaps: list[tuple[int, int]]
    mismatched: list[Mismatch]


#: Why ``entry``, made from a listed message's opening, is not in the log; None when it is.
InLog = Callable[[Listed, bytes], str | None]


def acceptance_problem(office_id: int, listed: Listed) -> str | None:
    """Why the listed opening is not this message's acceptance for the office, or None.

    >>> from pouch.ledger.events import new_salt
    >>> event = {"kind": "accepted", "to_office": 2, "office_sequence": 7}
    >>> listed = Listed("m-1", 7, Opening(0, new_salt(), event))
    >>> acceptance_problem(2, listed) is None
    True
    >>> acceptance_problem(3, listed)
    'the opening is not an acceptance for this office'
    >>> acceptance_problem(2, Listed("m-1", 8, listed.opening))
    'the listed sequence differs from the committed one'
    """
    if listed.opening is None:
        return "no opening is kept for its acceptance"
    event = listed.opening.event
    if event.get("kind") != EventKind.ACCEPTED or event.get("to_office") != office_id:
        return "the opening is not an acceptance for this office"
    if event.get("office_sequence") != listed.office_sequence:
        return "the listed sequence differs from the committed one"
    return None


def content_problem(listed: Listed) -> str | None:
    """Why what the office is shown of the message is not what was accepted, or None.

    >>> from pouch.ledger.events import new_salt
    >>> event = {"kind": "accepted", "to_office": 2, "office_sequence": 7, "content": "ab"}
    >>> opening = Opening(0, new_salt(), event)
    >>> content_problem(Listed("m-1", 7, opening, "ab")) is None
    True
    >>> content_problem(Listed("m-1", 7, opening, "cd"))
    'what is shown (content cd) is not what was accepted (content ab): changed after acceptance'
    """
    if listed.content is None or listed.opening is None:
        return None
    accepted = listed.opening.event.get("content")
    if accepted == listed.content:
        return None
    return (
        f"what is shown (content {listed.content}) is not what was accepted "
        f"(content {accepted}): changed after acceptance"
    )


def check_sequence(
    office_id: int, listed: Iterable[Listed], *, in_log: InLog, issued: int = 0, first: int = 1
) -> SequenceCheck:
    """Check each listed opening, then find the numbers from ``first`` on never shown to
    the office (those before ``first`` are the caller's to account for).

    >>> from pouch.ledger.events import new_salt
    >>> def shown(n):
    ...     event = {"kind": "accepted", "time": "2026-11-05T14:00:00.000Z",
    ...              "to_office": 2, "office_sequence": n}
    ...     return Listed(f"m-{n}", n, Opening(n, new_salt(), event))
    >>> report = check_sequence(2, [shown(1), shown(2), shown(5)], in_log=lambda *_: None)
    >>> report.verified, report.highest, report.gaps
    (3, 5, [(3, 4)])
    >>> check_sequence(2, [shown(1)], in_log=lambda *_: None, issued=3).gaps
    [(2, 3)]
    >>> check_sequence(2, [shown(5)], in_log=lambda *_: None, issued=7, first=4).gaps
    [(4, 4), (6, 7)]
    """
    numbers: list[int] = []
    mismatched: list[Mismatch] = []
    for item in listed:
        reason = acceptance_problem(office_id, item)
        if reason is None:
            assert item.opening is not None
            try:
                entry = item.opening.entry()
            except InvalidEvent as error:
                reason = f"not in the log as opened: {error}"
            else:
                reason = in_log(item, entry)
        if reason is not None:
            mismatched.append(Mismatch(item, reason))
            continue
        numbers.append(item.office_sequence)
        # Its number is accounted for; what it says may still have been changed.
        if (changed := content_problem(item)) is not None:
            mismatched.append(Mismatch(item, changed, "content"))
    # Numbers before ``first`` are the caller's to count (they were checked all the same).
    numbers = [number for number in numbers if number >= first]
    highest = max(numbers, default=0)
    gaps = find_gaps(numbers, first=first, last=issued)
    return SequenceCheck(
        verified=len(numbers), highest=highest, issued=issued, gaps=gaps, mismatched=mismatched
    )
