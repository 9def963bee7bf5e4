"""Event entries: salted commitments in the public log, openings for the entitled.

Every step of every message is an event. The log holds only a commitment to
it, so the public sees how many events happened and when, never who or what.
An *entry* is three lines of ASCII::

    pouch-event/v1
    2026-11-05T14:00:00.123Z
    <base64 of the 32-byte commitment>

and the commitment is ``SHA-256("pouch-event-commitment/v1\\n" || salt ||
JCS(event))``, where ``salt`` is 32 random bytes and ``JCS`` is the RFC 8785
canonical JSON of the event. The *opening* is the salt and the event; with it
anyone recomputes the entry byte for byte and checks it against the log.
The event always carries ``kind`` and ``time``; ``time`` equals the entry's
second line. The format, with test vectors, is in docs/log-format.md.

>>> salt = bytes(32)
>>> event = {"kind": "accepted", "time": "2026-11-05T14:00:00.000Z", "message": "m-1"}
>>> print(entry_for(event, salt).decode(), end="")
pouch-event/v1
2026-11-05T14:00:00.000Z
zSnEwjMZdBtuVY5woGDv+ymI9HHpRIpHgmeeLGoqRao=
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

ENTRY_HEADER = "pouch-event/v1"
COMMITMENT_PREFIX = b"pouch-event-commitment/v1\n"
SALT_SIZE = 32
MAX_EVENT_BYTES = 60_000  # leaves room in an entry bundle and keeps openings small
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class InvalidEvent(ValueError):
    """An event that cannot be committed, or an opening that does not match its entry."""


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


def entry_for(event: Mapping[str, Any], salt: bytes) -> bytes:
    """The public log entry that commits to ``event`` with ``salt``."""
    return sealed(event, salt)[0]


def sealed(event: Mapping[str, Any], salt: bytes) -> tuple[bytes, bytes]:
    """The entry that commits to ``event`` with ``salt``, and the canonical JSON
    of the event (what its opening stores), canonicalized once for both."""
    _check(event)
    event_json = canonical(event)
    if len(event_json) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"the event is {len(event_json)} bytes; the limit is {MAX_EVENT_BYTES}")
    digest = base64.b64encode(commitment(event_json, salt)).decode()
    return f"{ENTRY_HEADER}\n{event['time']}\n{digest}\n".encode(), event_json


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_SIZE)


@dataclass(frozen=True)
class Opening:
    """What an entitled party receives: the entry's index, the salt and the event."""

    index: int
    salt: bytes
    event: dict[str, Any]

    def entry(self) -> bytes:
        return entry_for(self.event, self.salt)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "salt": base64.b64encode(self.salt).decode(),
            "event": self.event,
        }

    @classmethod
    def from_json(cls, data: Any) -> Opening:
        if not isinstance(data, dict) or set(data) != {"index", "salt", "event"}:
            raise InvalidEvent("an opening is an object with exactly index, salt and event")
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
        return cls(index=index, salt=raw, event=event)

    @classmethod
    def parse(cls, text: str | bytes) -> Opening:
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as error:
            raise InvalidEvent(f"the opening is not JSON: {error}") from None
