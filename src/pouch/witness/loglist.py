"""The logs a witness cosigns for: the witness network's ``logs/v0`` log list.

Format followed (transparency-dev/witness-network ``docs/log-list-format.md``,
and its ``cmd/validate``):

- Lines starting with ``#`` are comments; comment and blank lines are
  ignored anywhere. Surrounding whitespace and a final carriage return are
  dropped, as the network's validator does.
- The first other line is ``logs/v0``; zero or more logs follow.
- A log is, in this order: ``vkey VKEY`` (an Ed25519 signed-note verifier
  key, type 0x01), ``origin ORIGIN|none`` (``none``: the key's name is the
  origin), ``bastion URL|none``, ``qpd N`` (add-checkpoint requests a day, a
  positive decimal), ``contact TEXT``.
- Tolerated, because published lists do it: no ``origin`` line (the
  network's own lists omit it; it means ``none``), no ``bastion`` line, and a
  ``bastion`` line after ``qpd`` (the format's own example puts it there).

One origin may be listed with several keys (a log rotating its key): a
checkpoint signed by any of them is trusted. The same key twice, or two keys
a note cannot tell apart (same name and key ID), is an error.

Every error names its line: ``line 7: expected 'qpd N', found 'contact …'``.

>>> logs = LogList.parse('''logs/v0
... vkey example.com/log+1dde4531+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop
... origin none
... qpd 1440
... contact log@example.com
... ''')
>>> [entry.origin for entry in logs.entries], logs.keys_for("example.com/log")[0].name
(['example.com/log'], 'example.com/log')
>>> LogList.parse(logs.to_text()) == logs
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.note import Ed25519Verifier, parse_vkey

__all__ = ["HEADER", "LogEntry", "LogList", "MalformedLogList", "new_entry"]

HEADER = "logs/v0"
NONE = "none"
_QPD = re.compile(r"[1-9][0-9]{0,17}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class MalformedLogList(LedgerFormatError):
    """A log list that does not follow ``logs/v0`` (the line is named)."""


@dataclass(frozen=True)
class LogEntry:
    """One log the witness cosigns for."""

    verifier: Ed25519Verifier
    origin: str
    qpd: int
    contact: str
    bastion: str | None = None

    def to_text(self) -> str:
        """The entry's lines, in the format's order, ``origin none`` when it can be."""
        origin = NONE if self.origin == self.verifier.name else self.origin
        lines = [f"vkey {self.verifier.vkey}", f"origin {origin}"]
        lines.append(f"bastion {self.bastion or NONE}")
        lines += [f"qpd {self.qpd}", f"contact {self.contact}"]
        return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class LogList:
    """A parsed log list: its entries in file order, and the keys trusted per origin."""

    entries: tuple[LogEntry, ...]

    @classmethod
    def parse(cls, text: str) -> LogList:
        return cls(tuple(_parse_entries(text)))

    @cached_property
    def _by_origin(self) -> dict[str, tuple[Ed25519Verifier, ...]]:
        by_origin: dict[str, list[Ed25519Verifier]] = {}
        for entry in self.entries:
            by_origin.setdefault(entry.origin, []).append(entry.verifier)
        return {origin: tuple(keys) for origin, keys in by_origin.items()}

    @property
    def origins(self) -> tuple[str, ...]:
        """Each origin once, in the order the list first names it."""
        return tuple(self._by_origin)

    def keys_for(self, origin: str) -> tuple[Ed25519Verifier, ...]:
        """The log keys trusted for ``origin``; empty when the origin is unknown."""
        return self._by_origin.get(origin, ())

    def to_text(self) -> str:
        """The list as a ``logs/v0`` file."""
        return HEADER + "\n" + "".join("\n" + entry.to_text() for entry in self.entries)


def new_entry(
    *, vkey: str, contact: str, qpd: int, origin: str | None = None, bastion: str | None = None
) -> LogEntry:
    """An entry from values given one by one (``pouch witness add-log``), checked as a
    list's lines are."""
    values = {"vkey": vkey, "origin": origin or NONE, "qpd": str(qpd), "contact": contact}
    if bastion is not None:
        values["bastion"] = bastion
    for keyword, value in values.items():
        if value != value.strip() or not value or _CONTROL.search(value):
            raise MalformedLogList(
                f"{keyword} {_clip(value)!r} is empty, or has surrounding spaces "
                "or a control character"
            )
    order = ("vkey", "origin", "bastion", "qpd", "contact")
    text = HEADER + "\n" + "".join(f"{k} {values[k]}\n" for k in order if k in values)
    try:
        (entry,) = _parse_entries(text)
    except MalformedLogList as error:
        # The lines are ours, not the user's: name the value, not a line number.
        raise MalformedLogList(str(error).partition(": ")[2]) from None
    return entry


# What may come next, after each line of an entry; a state machine as in the
# network's validator, with the tolerated omissions as extra arrows.
_NEXT: dict[str, tuple[str, ...]] = {
    "start": ("vkey",),
    "vkey": ("origin", "bastion", "qpd"),
    "origin": ("bastion", "qpd"),
    "bastion": ("qpd",),
    "qpd": ("bastion", "contact"),
    "qpd+bastion": ("contact",),
    "contact": ("vkey",),
}
_SHAPE = {
    "vkey": "vkey VKEY",
    "origin": "origin ORIGIN",
    "bastion": "bastion URL",
    "qpd": "qpd N",
    "contact": "contact TEXT",
}


@dataclass
class _Pending:
    """The entry being read: its fields so far, and the line it started on."""

    line: int
    verifier: Ed25519Verifier
    origin: str | None = None
    bastion: str | None = None
    qpd: int = 0


def _parse_entries(text: str) -> list[LogEntry]:
    entries: list[LogEntry] = []
    seen_keys: dict[bytes, int] = {}
    seen_ids: dict[tuple[str, str, int], int] = {}
    header_seen = False
    state = "start"
    pending: _Pending | None = None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.removesuffix("\r").strip()
        if not line or line.startswith("#"):
            continue
        where = f"line {number}"
        if control := _CONTROL.search(line):
            raise MalformedLogList(f"{where}: control character U+{ord(control.group()):04X}")
        if not header_seen:
            if line != HEADER:
                raise MalformedLogList(
                    f"{where}: expected the header {HEADER!r}, found {_clip(line)!r}"
                )
            header_seen = True
            continue
        keyword, _, value = line.partition(" ")
        value = value.strip()
        if keyword not in _NEXT[state]:
            wanted = " or ".join(repr(_SHAPE[k]) for k in _NEXT[state])
            raise MalformedLogList(f"{where}: expected {wanted}, found {_clip(line)!r}")
        if not value:
            raise MalformedLogList(f"{where}: {keyword!r} needs a value ({_SHAPE[keyword]})")
        if keyword in ("vkey", "qpd", "bastion") and len(value.split()) > 1:
            raise MalformedLogList(f"{where}: {keyword!r} takes one value ({_SHAPE[keyword]})")
        if keyword == "vkey":
            verifier = _log_key(value, where)
            if verifier.public_key in seen_keys:
                raise MalformedLogList(
                    f"{where}: this key is already listed on line {seen_keys[verifier.public_key]}"
                )
            seen_keys[verifier.public_key] = number
            pending = _Pending(number, verifier)
            state = "vkey"
            continue
        assert pending is not None  # every state but "start" follows a vkey line
        if keyword == "origin":
            pending.origin = pending.verifier.name if value == NONE else value
        elif keyword == "bastion":
            pending.bastion = None if value == NONE else value
        elif keyword == "qpd":
            if not _QPD.fullmatch(value):
                raise MalformedLogList(
                    f"{where}: qpd {_clip(value)!r} is not a positive decimal number"
                )
            pending.qpd = int(value)
        state = "qpd+bastion" if (state, keyword) == ("qpd", "bastion") else keyword
        if keyword != "contact":
            continue
        origin = pending.origin or pending.verifier.name
        # A note names its signer by (name, key ID) only: two keys of one origin
        # sharing both could not be told apart when verifying a checkpoint.
        identity = (origin, pending.verifier.name, pending.verifier.key_id)
        if identity in seen_ids:
            raise MalformedLogList(
                f"line {pending.line}: a key with the same name and key ID is already listed "
                f"for origin {_clip(origin)!r} on line {seen_ids[identity]}"
            )
        seen_ids[identity] = pending.line
        entries.append(LogEntry(pending.verifier, origin, pending.qpd, value, pending.bastion))
        pending = None
    if not header_seen:
        raise MalformedLogList(f"line 1: the list has no {HEADER!r} header")
    if pending is not None:
        missing = " or ".join(repr(_SHAPE[k]) for k in _NEXT[state])
        raise MalformedLogList(
            f"line {pending.line}: the log listed here is incomplete at the end of the list "
            f"(expected {missing})"
        )
    return entries


def _log_key(text: str, where: str) -> Ed25519Verifier:
    try:
        key = parse_vkey(text)
    except ValueError as error:
        raise MalformedLogList(f"{where}: {error}") from None
    if not isinstance(key, Ed25519Verifier):
        raise MalformedLogList(f"{where}: a log's key must be an Ed25519 key (type 0x01)")
    return key


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
