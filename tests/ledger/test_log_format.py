"""The test vectors published in docs/log-format.md, recomputed independently."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from pouch.ledger import events

DOC = Path(__file__).parents[2] / "docs" / "log-format.md"


def _vectors() -> list[dict[str, Any]]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- vectors -->\s*```json\n(.*?)```\s*<!-- /vectors -->", text, re.S)
    assert block, "docs/log-format.md lost its vectors block"
    vectors: list[dict[str, Any]] = json.loads(block.group(1))
    return vectors


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["event"]["kind"])
def test_vector(vector: dict[str, Any]) -> None:
    salt = base64.b64decode(vector["salt"])
    canonical = rfc8785.dumps(vector["event"])
    assert canonical.decode() == vector["canonical_event"]
    # Recomputed here from the spec's words, not with Pouch's own functions...
    digest = hashlib.sha256(b"pouch-event-commitment/v1\n" + salt + canonical).digest()
    entry = f"pouch-event/v1\n{vector['event']['time']}\n{base64.b64encode(digest).decode()}\n"
    assert entry == vector["entry"]
    assert hashlib.sha256(b"\x00" + entry.encode()).hexdigest() == vector["leaf_hash"]
    # ...and Pouch agrees, and its opening round-trips.
    assert events.entry_for(vector["event"], salt).decode() == entry
    opening = events.Opening(index=7, salt=salt, event=vector["event"])
    assert events.Opening.parse(json.dumps(opening.to_json())).entry() == entry.encode()


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
