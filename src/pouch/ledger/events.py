"""Event entries: salted commitments in the public log, openings for the entitled.

Every step of every message is an event. The log holds only a commitment to
it, so the public sees how many events happened and when, never who or what.
An *entry* is lines of ASCII::

    pouch-event/v2
    2026-11-05T14:00:00.123Z
    <base64 of the 32-byte commitment>
    <base64 of a 16-byte tag>          zero or more, sorted, one per party

and the commitment is ``SHA-256("pouch-event-commitment/v1\\n" || salt ||
JCS(event))``, where ``salt`` is 32 random bytes and ``JCS`` is the RFC 8785
canonical JSON of the event. A *tag* lets one party (an office) recognise the
entries that concern it, and nobody else learns anything from it
(``pouch.ledger.tags``). Entries written before tags (``pouch-event/v1``)
have exactly the first three lines; both versions are read.

The *opening* is the salt, the event and the entry's tags; with it anyone
recomputes the entry byte for byte and checks it against the log. The event
always carries ``kind`` and ``time``; ``time`` equals the entry's second
line. The format, with test vectors, is in docs/log-format.md.

>>> salt = bytes(32)
>>> event = {"kind": "accepted", "time": "2026-11-05T14:00:00.000Z", "message": "m-1"}
>>> print(entry_for(event, salt).decode(), end="")
pouch-event/v1
2026-11-05T14:00:00.000Z
zSnEwjMZdBtuVY5woGDv+ymI9HHpRIpHgmeeLGoqRao=
>>> print(entry_for(event, salt, tags=[bytes(16), b"\\xff" * 16]).decode(), end="")
pouch-event/v2
2026-11-05T14:00:00.000Z
zSnEwjMZdBtuVY5woGDv+ymI9HHpRIpHgmeeLGoqRao=
/////////////////////w==
AAAAAAAAAAAAAAAAAAAAAA==
>>> parse_entry(entry_for(event, salt, tags=[bytes(16)])).tags == (bytes(16),)
True
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

ENTRY_HEADER = "pouch-event/v2"
ENTRY_HEADER_V1 = "pouch-event/v1"
COMMITMENT_PREFIX = b"pouch-event-commitment/v1\n"
SALT_SIZE = 32
COMMITMENT_SIZE = 32
#: HMAC-SHA-256 truncated to 128 bits: a tag is only ever compared with tags its
#: office computes itself, so guessing one is a 2**-128 chance (docs/log-format.md).
TAG_SIZE = 16
MAX_EVENT_BYTES = 60_000  # leaves room in an entry bundle and keeps openings small
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class InvalidEvent(ValueError):
    """An event that cannot be committed, or an opening that does not match its entry."""


class MalformedEntry(InvalidEvent):
    """Bytes that are not a well-formed event entry (v1 or v2)."""


def format_time(instant: datetime) -> str:
    """UTC with milliseconds and a Z, the one time format of events.

    >>> format_time(datetime(2026, 11, 5, 14, 0, 0, 123456, tzinfo=UTC))
    '2026-11-05T14:00:00.123Z'
    """
    if instant.tzinfo is None:
        raise InvalidEvent("event times must be timezone-aware")
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def canonical(event: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JCS) serialization of ``event``."""
    try:
        return bytes(rfc8785.dumps(dict(event)))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        raise InvalidEvent(f"the event cannot be canonicalized: {error}") from None


def _check(event: Mapping[str, Any]) -> None:
    kind = event.get("kind")
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise InvalidEvent("an event needs a 'kind' of lowercase letters, digits, . _ -")
    time = event.get("time")
    if not isinstance(time, str) or not _TIME.fullmatch(time):
        raise InvalidEvent("an event needs a 'time' like 2026-11-05T14:00:00.000Z")


def commitment(event_json: bytes, salt: bytes) -> bytes:
    if len(salt) != SALT_SIZE:
        raise InvalidEvent(f"a salt is {SALT_SIZE} bytes, not {len(salt)}")
    return hashlib.sha256(COMMITMENT_PREFIX + salt + event_json).digest()


def tag_lines(tags: Iterable[bytes]) -> list[str]:
    """The tag lines of a v2 entry: base64, in ascending order, each once.

    >>> tag_lines([b"\\xff" * 16, bytes(16)])
    ['/////////////////////w==', 'AAAAAAAAAAAAAAAAAAAAAA==']
    """
    lines = []
    for tag in tags:
        if len(tag) != TAG_SIZE:
            raise InvalidEvent(f"a tag is {TAG_SIZE} bytes, not {len(tag)}")
        lines.append(base64.b64encode(tag).decode())
    lines.sort()
    if len(set(lines)) != len(lines):
        raise InvalidEvent("an entry carries each tag once")
    return lines


@dataclass(frozen=True)
class Committed:
    """An event checked, canonicalized and committed to: everything of its entry but
    the tags, which the log adds once it has counted the event for its parties."""

    time: str
    digest: bytes
    event_json: bytes

    def entry(self, tags: Iterable[bytes] | None) -> bytes:
        """The v2 entry with ``tags`` (sorted here), or the v1 entry for None."""
        head = f"{self.time}\n{base64.b64encode(self.digest).decode()}\n"
        if tags is None:
            return f"{ENTRY_HEADER_V1}\n{head}".encode()
        lines = "".join(f"{line}\n" for line in tag_lines(tags))
        return f"{ENTRY_HEADER}\n{head}{lines}".encode()


def commit(event: Mapping[str, Any], salt: bytes) -> Committed:
    """Check ``event``, canonicalize it once and commit to it with ``salt``."""
    _check(event)
    event_json = canonical(event)
    if len(event_json) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"the event is {len(event_json)} bytes; the limit is {MAX_EVENT_BYTES}")
    return Committed(str(event["time"]), commitment(event_json, salt), event_json)


def entry_for(event: Mapping[str, Any], salt: bytes, tags: Iterable[bytes] | None = None) -> bytes:
    """The public log entry that commits to ``event`` with ``salt``: v2 with ``tags``
    (an empty list included), v1 without (``None``)."""
    return commit(event, salt).entry(tags)


def sealed(
    event: Mapping[str, Any], salt: bytes, tags: Iterable[bytes] | None = None
) -> tuple[bytes, bytes]:
    """The entry that commits to ``event`` with ``salt``, and the canonical JSON
    of the event (what its opening stores), canonicalized once for both."""
    committed = commit(event, salt)
    return committed.entry(tags), committed.event_json


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_SIZE)


def _decode(text: str, size: int, what: str) -> bytes:
    """Standard padded base64 of exactly ``size`` bytes, in its one canonical form."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise MalformedEntry(f"{what} is not base64: {text[:60]!r}") from None
    if base64.b64encode(raw).decode() != text:
        raise MalformedEntry(f"{what} is not canonical base64: {text[:60]!r}")
    if len(raw) != size:
        raise MalformedEntry(f"{what} is {len(raw)} bytes, not {size}")
    return raw


@dataclass(frozen=True)
class Entry:
    """An entry read back: its version (1 or 2), time, commitment and tags (none in v1)."""

    version: int
    time: str
    commitment: bytes
    tags: tuple[bytes, ...]


def parse_entry(data: bytes) -> Entry:
    """Read an entry of either version; anything else is ``MalformedEntry``, saying why.

    >>> entry = parse_entry(b"pouch-event/v2\\n2026-11-05T14:00:00.000Z\\n" + b"A" * 43 + b"=\\n")
    >>> entry.version, entry.time, entry.commitment == bytes(32), entry.tags
    (2, '2026-11-05T14:00:00.000Z', True, ())
    >>> parse_entry(b"pouch-event/v3\\n")
    Traceback (most recent call last):
        ...
    pouch.ledger.events.MalformedEntry: not a Pouch event entry: header 'pouch-event/v3'
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedEntry("an entry is ASCII text") from None
    if not text.endswith("\n"):
        raise MalformedEntry("an entry ends with a newline")
    lines = text[:-1].split("\n")
    header = lines[0]
    if header == ENTRY_HEADER_V1:
        version = 1
        if len(lines) != 3:
            raise MalformedEntry(f"a v1 entry has 3 lines, not {len(lines)}")
    elif header == ENTRY_HEADER:
        version = 2
        if len(lines) < 3:
            raise MalformedEntry(f"a v2 entry has at least 3 lines, not {len(lines)}")
    else:
        raise MalformedEntry(f"not a Pouch event entry: header {header[:40]!r}")
    if not _TIME.fullmatch(lines[1]):
        raise MalformedEntry(
            f"line 2 is not a time like 2026-11-05T14:00:00.000Z: {lines[1][:40]!r}"
        )
    digest = _decode(lines[2], COMMITMENT_SIZE, "the commitment (line 3)")
    tags = tuple(
        _decode(line, TAG_SIZE, f"the tag on line {number}")
        for number, line in enumerate(lines[3:], start=4)
    )
    if any(a >= b for a, b in itertools.pairwise(lines[3:])):
        raise MalformedEntry("the tags are not in ascending order, each once")
    return Entry(version=version, time=lines[1], commitment=digest, tags=tags)


def _tags_from_json(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise InvalidEvent("opening tags must be a list of base64 texts")
    try:
        return tuple(_decode(tag, TAG_SIZE, "an opening tag") for tag in value)
    except MalformedEntry as error:
        raise InvalidEvent(str(error)) from None


@dataclass(frozen=True)
class Opening:
    """What an entitled party receives: the entry's index, the salt, the event, and
    the entry's tags (None for a v1 entry, which has none)."""

    index: int
    salt: bytes
    event: dict[str, Any]
    tags: tuple[bytes, ...] | None = None

    def entry(self) -> bytes:
        return entry_for(self.event, self.salt, self.tags)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "salt": base64.b64encode(self.salt).decode(),
            "event": self.event,
        }
        if self.tags is not None:
            data["tags"] = tag_lines(self.tags)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Opening:
        if not isinstance(data, dict) or set(data) - {"tags"} != {"index", "salt", "event"}:
            raise InvalidEvent(
                "an opening is an object with exactly index, salt and event (and tags, "
                "for a v2 entry)"
            )
        index, salt, event = data["index"], data["salt"], data["event"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InvalidEvent("opening index must be a non-negative integer")
        if not isinstance(salt, str) or not isinstance(event, dict):
            raise InvalidEvent("opening salt must be base64 text and event an object")
        try:
            raw = base64.b64decode(salt, validate=True)
        except ValueError:
            raise InvalidEvent("opening salt is not valid base64") from None
        if len(raw) != SALT_SIZE:
            raise InvalidEvent(f"opening salt must decode to {SALT_SIZE} bytes")
        tags = _tags_from_json(data["tags"]) if "tags" in data else None
        return cls(index=index, salt=raw, event=event, tags=tags)

    @classmethod
    def kept(cls, *, index: int, salt: bytes, event: Any, tags: bytes | None) -> Opening:
        """An opening from the bytes the server keeps (its tags concatenated), checked
        as ``from_json`` checks one: without base64 there and back."""
        if not isinstance(event, dict):
            raise InvalidEvent("opening event must be an object")
        if len(salt) != SALT_SIZE:
            raise InvalidEvent(f"opening salt must be {SALT_SIZE} bytes")
        if tags is not None and len(tags) % TAG_SIZE:
            raise InvalidEvent(f"stored tags are {len(tags)} bytes, not a multiple of {TAG_SIZE}")
        split = (
            None
            if tags is None
            else tuple(tags[i : i + TAG_SIZE] for i in range(0, len(tags), TAG_SIZE))
        )
        return cls(index=index, salt=salt, event=event, tags=split)

    @classmethod
    def parse(cls, text: str | bytes) -> Opening:
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as error:
            raise InvalidEvent(f"the opening is not JSON: {error}") from None
