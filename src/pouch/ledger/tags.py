"""Office tags: how a party finds, in the public log, every entry that concerns it.

Pure: plain values in, plain values out; no database.

A party (an office) has a secret *tag key*, shared only with the server, and
its own *counter* of the events that concern it: 0, 1, 2, … with no gaps,
across key rotations. The entry of each such event carries the party's tag
for that counter::

    tag = HMAC-SHA-256(tag key, "pouch-tag/v1\\n" || decimal counter)[:16]

Only the key's holders can compute a tag; the public sees random-looking
lines, sorted, so it learns neither the party nor the counter. A party that
walks the log with its key history (each key and the counter it starts at)
finds every entry about it, whatever the server shows: the server cannot
take an entry back out of the log. ``find`` returns what it found, the
counters missing below the highest one found (an entry never logged: a
hidden event), and counters found twice (a counter stepped back).

>>> import base64
>>> key = bytes(range(32))
>>> [base64.b64encode(tag).decode() for tag in tags_for(key, range(3))]
['pYbpJm8seCMlynpIMSCwLQ==', 'DoRmzDTxzL5i9XEzj33lkg==', 'TnrlipY2rPVw5stjojQdNw==']
>>> from pouch.ledger.events import entry_for
>>> def logged(counter, *others):
...     event = {"kind": "accepted", "time": "2026-11-05T14:00:00.000Z"}
...     mine = [tag(key, counter)] if counter is not None else []
...     return entry_for(event, bytes(32), tags=mine + list(others))
>>> stranger = tags_for(bytes(32), [0])
>>> log = [(0, logged(0)), (1, logged(None, *stranger)), (2, logged(2)), (3, logged(3))]
>>> found = find([(key, 0)], log)
>>> found.found, found.missing, found.highest
([(0, 0), (2, 2), (3, 3)], [1], 3)
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pouch.ledger.events import TAG_SIZE, MalformedEntry, parse_entry

TAG_PREFIX = b"pouch-tag/v1\n"
KEY_SIZE = 32
#: How many counters past the highest found ``find`` looks for: the counters of
#: one party are logged in order, so the next one is always within reach.
LOOKAHEAD = 1024


def tag(key: bytes, counter: int) -> bytes:
    """The party's tag for its event number ``counter``."""
    if counter < 0:
        raise ValueError(f"a counter is 0 or more, not {counter}")
    digest = hmac.new(key, TAG_PREFIX + str(counter).encode("ascii"), hashlib.sha256).digest()
    return digest[:TAG_SIZE]


def tags_for(key: bytes, counters: Iterable[int]) -> list[bytes]:
    """The tags of ``counters`` under ``key``, in the same order.

    >>> [len(t) for t in tags_for(bytes(32), [0, 1])], tags_for(bytes(32), [])
    ([16, 16], [])
    """
    return [tag(key, counter) for counter in counters]


class KeyHistory:
    """A party's keys, each with the counter from which it applies (the first one's
    counter is where the party's knowledge begins, usually 0).

    >>> history = KeyHistory([(b"k" * 32, 0), (b"n" * 32, 5)])
    >>> history.key_for(4) == b"k" * 32, history.key_for(5) == b"n" * 32
    (True, True)
    >>> KeyHistory([(b"k" * 32, 3), (b"n" * 32, 3)])
    Traceback (most recent call last):
        ...
    ValueError: each key starts at a higher counter than the one before (3, then 3)
    """

    def __init__(self, keys: Sequence[tuple[bytes, int]]) -> None:
        if not keys:
            raise ValueError("a key history has at least one key")
        for key, start in keys:
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise ValueError(f"a tag key is {KEY_SIZE} bytes")
            if start < 0:
                raise ValueError(f"a key starts at counter 0 or more, not {start}")
        for (_, before), (_, after) in itertools.pairwise(keys):
            if after <= before:
                raise ValueError(
                    "each key starts at a higher counter than the one before "
                    f"({before}, then {after})"
                )
        self.keys = list(keys)
        self._starts = [start for _, start in keys]

    @property
    def first(self) -> int:
        return self._starts[0]

    def key_for(self, counter: int) -> bytes:
        if counter < self.first:
            raise ValueError(f"no key for counter {counter}: the first starts at {self.first}")
        return self.keys[bisect.bisect_right(self._starts, counter) - 1][0]


@dataclass(frozen=True)
class Found:
    """What a party's walk of the log found.

    ``found``: (counter, index) of each counter found first, by counter.
    ``missing``: counters below the highest found that no entry carries: events
    counted for the party whose entries were never logged (hidden).
    ``repeated``: (counter, index) of a counter's tag seen again in a later
    entry: the party's counter was stepped back.
    """

    found: list[tuple[int, int]] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    repeated: list[tuple[int, int]] = field(default_factory=list)

    @property
    def highest(self) -> int | None:
        return self.found[-1][0] if self.found else None

    def index_of(self, counter: int) -> int | None:
        return dict(self.found).get(counter)


def find(
    history: Sequence[tuple[bytes, int]] | KeyHistory,
    entries: Iterable[tuple[int, bytes]],
    *,
    lookahead: int = LOOKAHEAD,
) -> Found:
    """The entries among ``entries`` (index, bytes) that carry the party's tags.

    Tags are computed for the counters from the history's first up to
    ``lookahead`` past the highest found so far. Every entry is parsed, v1 or
    v2; a malformed one is refused (``MalformedEntry``, naming its index).
    """
    keys = history if isinstance(history, KeyHistory) else KeyHistory(history)
    if lookahead < 1:
        raise ValueError("lookahead is at least 1")
    expected: dict[bytes, int] = {}  # tag -> counter, for counters not yet found
    seen: dict[bytes, int] = {}  # tag -> counter, for counters found
    frontier = keys.first  # tags are computed for counters below this

    def reach(upto: int) -> None:
        nonlocal frontier
        for counter in range(frontier, upto):
            expected[tag(keys.key_for(counter), counter)] = counter
        frontier = max(frontier, upto)

    reach(keys.first + lookahead)
    found: dict[int, int] = {}
    repeated: list[tuple[int, int]] = []
    for index, data in entries:
        try:
            parsed = parse_entry(data)
        except MalformedEntry as error:
            raise MalformedEntry(f"entry {index}: {error}") from None
        for entry_tag in parsed.tags:
            counter = expected.pop(entry_tag, None)
            if counter is not None:
                found[counter] = index
                seen[entry_tag] = counter
                reach(counter + 1 + lookahead)
            elif entry_tag in seen:
                repeated.append((seen[entry_tag], index))
    ordered = sorted(found.items())
    highest = ordered[-1][0] if ordered else keys.first - 1
    missing = [c for c in range(keys.first, highest + 1) if c not in found]
    return Found(found=ordered, missing=missing, repeated=repeated)
