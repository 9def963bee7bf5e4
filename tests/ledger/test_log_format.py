"""The test vectors published in docs/log-format.md, recomputed independently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from pouch.ledger import events, tags

DOC = Path(__file__).parents[2] / "docs" / "log-format.md"


def _vectors() -> list[dict[str, Any]]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- vectors -->\s*```json\n(.*?)```\s*<!-- /vectors -->", text, re.S)
    assert block, "docs/log-format.md lost its vectors block"
    vectors: list[dict[str, Any]] = json.loads(block.group(1))
    return vectors


def _id(vector: dict[str, Any]) -> str:
    version = "v2" if "tags" in vector else "v1"
    return f"{version}-{vector['event']['kind']}"


@pytest.mark.parametrize("vector", _vectors(), ids=_id)
def test_vector(vector: dict[str, Any]) -> None:
    salt = base64.b64decode(vector["salt"])
    canonical = rfc8785.dumps(vector["event"])
    assert canonical.decode() == vector["canonical_event"]
    # Recomputed here from the spec's words, not with Pouch's own functions...
    digest = hashlib.sha256(b"pouch-event-commitment/v1\n" + salt + canonical).digest()
    head = f"{vector['event']['time']}\n{base64.b64encode(digest).decode()}\n"
    if "tags" in vector:
        lines = []
        for tagged in vector["tagged"]:
            key = base64.b64decode(tagged["key"])
            mac = hmac.new(key, f"pouch-tag/v1\n{tagged['counter']}".encode(), hashlib.sha256)
            assert base64.b64encode(mac.digest()[:16]).decode() == tagged["tag"]
            lines.append(tagged["tag"])
        assert sorted(lines) == vector["tags"]
        entry = "pouch-event/v2\n" + head + "".join(f"{line}\n" for line in sorted(lines))
    else:
        entry = "pouch-event/v1\n" + head
    assert entry == vector["entry"]
    assert hashlib.sha256(b"\x00" + entry.encode()).hexdigest() == vector["leaf_hash"]
    # ...and Pouch agrees, and its opening round-trips.
    raw_tags = [base64.b64decode(t) for t in vector["tags"]] if "tags" in vector else None
    assert events.entry_for(vector["event"], salt, raw_tags).decode() == entry
    opening = events.Opening(index=7, salt=salt, event=vector["event"], tags=None)
    if raw_tags is not None:
        opening = events.Opening(7, salt, vector["event"], tuple(raw_tags))
    as_json = opening.to_json()
    assert ("tags" in as_json) == ("tags" in vector)
    assert events.Opening.parse(json.dumps(as_json)).entry() == entry.encode()
    parsed = events.parse_entry(entry.encode())
    assert parsed.version == (2 if "tags" in vector else 1)
    assert parsed.commitment == digest
    assert [base64.b64encode(t).decode() for t in parsed.tags] == vector.get("tags", [])
    for tagged in vector.get("tagged", []):
        key = base64.b64decode(tagged["key"])
        assert tags.tags_for(key, [tagged["counter"]]) == [base64.b64decode(tagged["tag"])]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not JSON"),
        ('{"index": 1}', "exactly index, salt and event"),
        ('{"index": -1, "salt": "AA==", "event": {}}', "non-negative"),
        ('{"index": true, "salt": "AA==", "event": {}}', "non-negative"),
        ('{"index": 1, "salt": "!!", "event": {}}', "base64"),
        ('{"index": 1, "salt": "AA==", "event": {}}', "32 bytes"),
        ('{"index": 1, "salt": "AA==", "event": [], "x": 1}', "exactly"),
        (f'{{"index": 1, "salt": "{"A" * 43}=", "event": {{}}, "tags": "x"}}', "list"),
        (f'{{"index": 1, "salt": "{"A" * 43}=", "event": {{}}, "tags": ["!"]}}', "base64"),
        (f'{{"index": 1, "salt": "{"A" * 43}=", "event": {{}}, "tags": ["AA=="]}}', "16"),
    ],
)
def test_malformed_openings(text: str, reason: str) -> None:
    with pytest.raises(events.InvalidEvent, match=reason):
        events.Opening.parse(text)


def test_a_changed_event_or_salt_changes_the_entry() -> None:
    vector = _vectors()[0]
    salt = base64.b64decode(vector["salt"])
    changed = {**vector["event"], "message": "m-2"}
    assert events.entry_for(changed, salt).decode() != vector["entry"]
    assert events.entry_for(vector["event"], b"\x01" + salt[1:]).decode() != vector["entry"]


# -- hostile entries: refused with a reason, never a crash -------------------------

_TIME = b"2026-11-05T14:00:00.000Z"
_COMMITMENT = base64.b64encode(bytes(32))
_TAG_A = base64.b64encode(bytes(16))  # "AAAA…": sorts after "/…" and digits
_TAG_B = base64.b64encode(b"\xff" * 16)  # "////…"


def _entry(*lines: bytes, header: bytes = b"pouch-event/v2") -> bytes:
    return b"\n".join([header, _TIME, _COMMITMENT, *lines]) + b"\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_entry(b"!!not base64!!"), "the tag on line 4 is not base64"),
        (_entry(b"AAAAAAAAAAAAAAAAAAAAAA=A"), "not base64"),
        (_entry(b"AAAAAAAAAAAAAAAAAAAAAB=="), "not canonical base64"),
        (_entry(_TAG_A, _TAG_B), "not in ascending order"),
        (_entry(_TAG_A, _TAG_A), "each once"),
        (_entry(base64.b64encode(bytes(32))), "the tag on line 4 is 32 bytes, not 16"),
        (_entry(base64.b64encode(bytes(15))), "is 15 bytes, not 16"),
        (_entry(b""), "the tag on line 4 is 0 bytes"),
        (_entry(_TAG_B, b"extra line"), "the tag on line 5 is not base64"),
        (_entry(_TAG_A, header=b"pouch-event/v1"), "a v1 entry has 3 lines, not 4"),
        (_entry(header=b"pouch-event/v3"), "not a Pouch event entry"),
        (_entry() + b"trailing", "ends with a newline"),
        (_entry()[:-1], "ends with a newline"),
        (b"pouch-event/v2\n" + _TIME + b"\n", "at least 3 lines, not 2"),
        (b"pouch-event/v2\nyesterday\n" + _COMMITMENT + b"\n", "line 2 is not a time"),
        (b"pouch-event/v2\n" + _TIME + b"\nAAAA\n", "the commitment (line 3) is 3 bytes"),
        (_entry(b"\xc3\xa9"), "ASCII"),
        (_entry(b"AAAAAAAAAAAAAAAAAAAAAA==\r"), "not base64"),
        (b"", "ends with a newline"),
        (b"\n", "not a Pouch event entry"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_malformed_entries_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(events.MalformedEntry, match=re.escape(reason)):
        events.parse_entry(data)


def test_well_formed_entries_of_both_versions_parse() -> None:
    v1 = events.parse_entry(_entry(header=b"pouch-event/v1"))
    assert (v1.version, v1.tags) == (1, ())
    v2 = events.parse_entry(_entry(_TAG_B, _TAG_A))
    assert (v2.version, v2.tags) == (2, (b"\xff" * 16, bytes(16)))
    assert events.parse_entry(_entry()).tags == ()


def test_an_opening_rebuilds_its_entry_whatever_the_order_of_its_tags() -> None:
    event = {"kind": "accepted", "time": "2026-11-05T14:00:00.000Z"}
    one = events.Opening(3, bytes(32), event, (bytes(16), b"\xff" * 16)).entry()
    other = events.Opening(3, bytes(32), event, (b"\xff" * 16, bytes(16))).entry()
    assert one == other
    assert one.split(b"\n")[3:] == [_TAG_B, _TAG_A, b""]
    with pytest.raises(events.InvalidEvent, match="each tag once"):
        events.Opening(3, bytes(32), event, (bytes(16), bytes(16))).entry()
