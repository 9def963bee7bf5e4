"""Alarms: what a monitor found that does not hold, each with its evidence. Pure.

An alarm has a stable ``key`` (the same problem seen at the next poll has the
same key, so it is alerted once), a ``kind`` from ``KINDS``, one line that
says what is wrong in words, and its ``evidence``: plain JSON values (log
entries and their indexes, the office's counter and tag, what the server
answered, the checkpoints, proofs), enough for a third party to check the
claim without the monitor.

>>> alarm = Alarm("deadline-missed:m-1", "deadline-missed", "message m-1 is 5 min late",
...               {"message": "m-1", "late_seconds": 300})
>>> print(render([alarm]))
ALARM deadline-missed: message m-1 is 5 min late
  message: m-1
  late_seconds: 300
>>> Alarm.from_json(alarm.to_json()) == alarm
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Every kind of alarm, and what it means.
KINDS: dict[str, str] = {
    "server-unreachable": "the server did not answer (the monitor's state is untouched)",
    "log-malformed": "a checkpoint, tile or entry bundle the server serves is malformed",
    "checkpoint-unverified": "a checkpoint not signed by the log's key, or without the quorum",
    "rollback": "a checkpoint smaller than one seen before",
    "split-view": "a second checkpoint of a size already seen, with another root",
    "inconsistent": "the log does not extend the checkpoint seen before",
    "entry-malformed": "a log entry that is not a Pouch event entry",
    "hidden-entry": "a counter of the office that no log entry carries: an event never logged",
    "counter-repeated": "a counter of the office found twice: the counter was stepped back",
    "opening-refused": "the server does not open an entry carrying the office's tag",
    "opening-mismatch": "an opening that does not rebuild its log entry byte for byte",
    "not-concerning": "an entry with the office's tag whose event does not concern it",
    "unknown-rotation": "the office's tag key rotated to a key its history does not hold",
    "untagged": "an event about the office, logged without the office's tag",
    "message-missing": "a message in the log that the server no longer shows",
    "message-readdressed": "a message the server shows addressed elsewhere than it was accepted",
    "content-changed": "what the server shows of a message is not what was accepted",
    "content-not-sent": "the accepted content is not what the sender kept of what it sent",
    "sequence-repeated": "an office sequence number accepted twice",
    "sequence-gap": "office sequence numbers never shown to the office",
    "step-hidden": "a logged step of a message that the server no longer shows",
    "deadline-missed": "a message past its deadline with neither delivered nor overdue logged",
}


@dataclass(frozen=True)
class Alarm:
    key: str
    kind: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, f"unknown alarm kind {self.kind!r}"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "summary": self.summary,
            "evidence": self.evidence,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alarm:
        return cls(data["key"], data["kind"], data["summary"], dict(data.get("evidence", {})))


def _lines(value: Any, indent: str) -> list[str]:
    if isinstance(value, dict):
        out = []
        for name, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{indent}{name}:")
                out += _lines(item, indent + "  ")
            else:
                out.append(f"{indent}{name}: {_scalar(item)}")
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict | list) and item:
                nested = _lines(item, indent + "  ")
                out.append(f"{indent}- {nested[0].lstrip()}")
                out += nested[1:]
            else:
                out.append(f"{indent}- {_scalar(item)}")
        return out
    return [f"{indent}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        # A multi-line value (a checkpoint, a note) shows its lines, indented with it.
        return value.rstrip("\n").replace("\n", "\n      ") if "\n" in value else value
    return json.dumps(value)


def render(alarms: Iterable[Alarm], *, already: frozenset[str] = frozenset()) -> str:
    """The alarms as a person reads them: a headline each, then the evidence. Those
    alerted at an earlier poll (``already``) say so."""
    blocks = []
    for alarm in alarms:
        again = " (alerted before)" if alarm.key in already else ""
        head = f"ALARM {alarm.kind}: {alarm.summary}{again}"
        blocks.append("\n".join([head, *_lines(alarm.evidence, "  ")]))
    return "\n".join(blocks)
