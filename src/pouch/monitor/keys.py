"""An office's tag key history, as its administrator keeps it in a file: pure.

Each line is ``<from counter> <base64 key>``: a key Pouch handed to the office
(``POST /api/offices/{id}/tag-key`` answers ``key`` and ``from_counter``, and
the first time also ``previous``, from counter 0). The lines
``pouch office tag-key`` prints (``key <base64> from counter <n>``) are read
too, so its output can be kept as it is. Blank lines and ``#`` comments are
ignored; the keys may come in any order, each counter once.

>>> history = parse_key_history('''
... # the president-elect's office
... 0 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
... key //////////////////////////////////////////8= from counter 12
... ''')
>>> [(start, key[:1]) for key, start in history.keys]
[(0, b'\\x00'), (12, b'\\xff')]
>>> parse_key_history("0 AAAA")
Traceback (most recent call last):
    ...
pouch.monitor.keys.MalformedKeyHistory: line 1: a tag key is 32 bytes, not 3
"""

from __future__ import annotations

import base64
import binascii
import re

from pouch.ledger.tags import KEY_SIZE, KeyHistory

_PLAIN = re.compile(r"^(\d+)\s+(\S+)$")
_PRINTED = re.compile(r"^key\s+(\S+)\s+from\s+counter\s+(\d+)$")


class MalformedKeyHistory(ValueError):
    """A key file the monitor cannot use; the message names the line."""


def parse_key_history(text: str) -> KeyHistory:
    """The key history a file holds (see the module's docstring)."""
    keys: dict[int, bytes] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"line {number}"
        if plain := _PLAIN.match(line):
            counter_text, key_text = plain.groups()
        elif printed := _PRINTED.match(line):
            key_text, counter_text = printed.groups()
        else:
            raise MalformedKeyHistory(
                f"{where}: expected '<from counter> <base64 key>', got {line[:60]!r}"
            )
        try:
            key = base64.b64decode(key_text, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedKeyHistory(f"{where}: the key is not base64") from None
        if len(key) != KEY_SIZE:
            raise MalformedKeyHistory(f"{where}: a tag key is {KEY_SIZE} bytes, not {len(key)}")
        counter = int(counter_text)
        if counter in keys:
            raise MalformedKeyHistory(f"{where}: a second key from counter {counter}")
        keys[counter] = key
    if not keys:
        raise MalformedKeyHistory("no key: the file has no '<from counter> <base64 key>' line")
    return KeyHistory([(keys[start], start) for start in sorted(keys)])


def starting_at(history: KeyHistory, counter: int) -> KeyHistory:
    """The history as seen from ``counter`` on (for a walk that resumes there).

    >>> h = KeyHistory([(b"a" * 32, 0), (b"b" * 32, 5)])
    >>> [(k[:1], s) for k, s in starting_at(h, 3).keys]
    [(b'a', 3), (b'b', 5)]
    >>> [(k[:1], s) for k, s in starting_at(h, 5).keys]
    [(b'b', 5)]
    """
    later = [(key, start) for key, start in history.keys if start > counter]
    return KeyHistory([(history.key_for(max(counter, history.first)), counter), *later])
