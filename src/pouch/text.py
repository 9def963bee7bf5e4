"""Text hygiene for names and one-line fields.

A name or subject that carries control characters or bidirectional overrides
can display as something other than what it is (the "Trojan Source" trick):
such text is refused, not silently cleaned, so that what was accepted is what
is shown.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# Explicit directional embeddings, overrides and isolates (Unicode TR9).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _refusal(char: str) -> str | None:
    """Why ``char`` may not appear in a name or text, or None when it may."""
    if char in BIDI_CONTROLS:
        return f"contains the bidirectional control character U+{ord(char):04X}"
    if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") and char != "\u200d":
        return f"contains the control or unassigned character U+{ord(char):04X}"
    return None


def _check(value: str, allowed: frozenset[str]) -> None:
    # Each distinct character is looked up once, not each occurrence: letters
    # are long and use few characters. The first refused one is reported.
    refused = {c: why for c in set(value) - allowed if (why := _refusal(c)) is not None}
    if refused:
        first = next(c for c in value if c in refused)
        raise ValueError(refused[first])


_NONE: frozenset[str] = frozenset()
_LINE_BREAKS = frozenset("\n\t")


def check_single_line(value: str) -> str:
    """NFC-normalised ``value``; refuses control characters and bidi controls.

    >>> check_single_line("Taoiseach")
    'Taoiseach'
    >>> check_single_line("evil\\u202egnp.exe")
    Traceback (most recent call last):
    ...
    ValueError: contains the bidirectional control character U+202E
    """
    _check(value, _NONE)
    return unicodedata.normalize("NFC", value)


def check_multiline(value: str) -> str:
    """Like ``check_single_line`` but allows newlines and tabs."""
    if "\r" in value:
        raise ValueError("contains a carriage return; use \\n for new lines")
    _check(value, _LINE_BREAKS)
    return unicodedata.normalize("NFC", value)


#: A one-line human-readable name, 1 to 200 characters, no control or bidi characters.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(check_single_line),
]

#: Free text of up to 10,000 characters, new lines allowed.
Notes = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(check_multiline)]
