"""Witness policies (c2sp.org/tlog-policy): which logs, which witnesses, what quorum.

Sections followed (C2SP/C2SP tlog-policy.md):

- "Structure": lines end in a newline; items are separated by runs of ASCII
  space and tab only; leading and trailing whitespace, empty lines and lines
  starting with ``#`` are ignored. Groups and the quorum may only name what
  earlier lines defined.
- "Character set": the only control characters are tab and newline; octets
  with the high bit set are opaque (names are compared as octet strings).
- "Defining a log": ``log <vkey> [<url>]``; no two logs with one public key.
- "Defining a witness": ``witness <name> <vkey> [<url>]``; no two witnesses
  with one public key; witnesses and groups share one namespace, and
  ``none`` is reserved.
- "Defining the quorum": exactly one ``quorum <name>`` line; ``quorum none``
  requires no cosignature.
- "Defining a witness group": ``group <name> all|any|<k> <member>...``, at
  least one member, each member at most once, ``1 <= k <= n``.

Pouch's log sends its checkpoints to the witnesses that have a URL (their
tlog-witness submission prefix) and publishes a checkpoint once the quorum
is met; a verifier needs only the keys.

>>> policy = Policy.parse('''
... log example.com/log+1dde4531+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop
... quorum none
... ''')
>>> policy.satisfied(set()), [log.name for log in policy.logs]
(True, ['example.com/log'])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pouch.ledger.checkpoint import Checkpoint, SignedCheckpoint, parse_decimal
from pouch.ledger.errors import LedgerFormatError, UnexpectedOrigin, UnverifiedNote
from pouch.ledger.note import (
    Cosignature,
    CosignatureVerifier,
    Ed25519Verifier,
    Verifier,
    open_note,
    parse_vkey,
)

__all__ = ["MAX_ENTRIES", "MalformedPolicy", "Policy", "PolicyLog", "PolicyWitness"]

#: The spec recommends supporting at least 32 of each; a policy is written by hand.
MAX_ENTRIES = 64
NONE = "none"
_SPLIT = re.compile(r"[ \t]+")
_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


class MalformedPolicy(LedgerFormatError):
    """A policy file that does not follow c2sp.org/tlog-policy (the line is named)."""


@dataclass(frozen=True)
class PolicyLog:
    verifier: Ed25519Verifier
    url: str | None

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class PolicyWitness:
    name: str
    verifier: CosignatureVerifier
    url: str | None


@dataclass(frozen=True)
class _Group:
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A parsed policy: its logs, its witnesses, and the quorum rule over them."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: Mapping[str, _Group] = field(default_factory=dict)
    quorum: str = NONE
    text: str = ""

    @classmethod
    def parse(cls, text: str | bytes) -> Policy:
        data = text.encode() if isinstance(text, str) else text
        if control := _FORBIDDEN.search(data):
            line = data[: control.start()].count(b"\n") + 1
            raise MalformedPolicy(
                f"line {line}: control character 0x{control.group()[0]:02x} "
                "(only tab and newline are allowed)"
            )
        # Octets with the high bit set are opaque: names stay octet strings.
        lines = data.decode("utf-8", errors="surrogateescape").split("\n")
        logs: list[PolicyLog] = []
        witnesses: dict[str, PolicyWitness] = {}
        groups: dict[str, _Group] = {}
        keys: set[bytes] = set()
        quorum: str | None = None
        for number, raw in enumerate(lines, 1):
            stripped = raw.strip(" \t")
            if not stripped or stripped.startswith("#"):
                continue
            keyword, *args = _SPLIT.split(stripped)
            where = f"line {number}"
            if keyword == "log":
                if len(args) not in (1, 2):
                    raise MalformedPolicy(f"{where}: 'log <vkey> [<url>]' takes 1 or 2 items")
                log_key = _log_key(args[0], where)
                if log_key.public_key in keys:
                    raise MalformedPolicy(f"{where}: this public key is listed twice")
                keys.add(log_key.public_key)
                logs.append(PolicyLog(log_key, args[1] if len(args) == 2 else None))
            elif keyword == "witness":
                if len(args) not in (2, 3):
                    raise MalformedPolicy(
                        f"{where}: 'witness <name> <vkey> [<url>]' takes 2 or 3 items"
                    )
                name = _new_name(args[0], where, witnesses, groups)
                witness_key = _witness_key(args[1], where)
                if witness_key.public_key in keys:
                    raise MalformedPolicy(f"{where}: this public key is listed twice")
                keys.add(witness_key.public_key)
                witnesses[name] = PolicyWitness(
                    name, witness_key, args[2] if len(args) == 3 else None
                )
            elif keyword == "group":
                if len(args) < 3:
                    raise MalformedPolicy(
                        f"{where}: 'group <name> all|any|<k> <member>...' needs a member"
                    )
                name = _new_name(args[0], where, witnesses, groups)
                members = tuple(args[2:])
                for member in members:
                    if member not in witnesses and member not in groups:
                        raise MalformedPolicy(
                            f"{where}: group member {member!r} is not defined on an earlier line"
                        )
                if len(set(members)) != len(members):
                    raise MalformedPolicy(f"{where}: a group member is listed twice")
                groups[name] = _Group(_threshold(args[1], len(members), where), members)
            elif keyword == "quorum":
                if len(args) != 1:
                    raise MalformedPolicy(f"{where}: 'quorum <name>' takes one name")
                if quorum is not None:
                    raise MalformedPolicy(f"{where}: a second quorum line")
                if args[0] != NONE and args[0] not in witnesses and args[0] not in groups:
                    raise MalformedPolicy(
                        f"{where}: quorum {args[0]!r} is not defined on an earlier line"
                    )
                quorum = args[0]
            else:
                raise MalformedPolicy(f"{where}: unknown keyword {keyword[:40]!r}")
            if max(len(logs), len(witnesses), len(groups)) > MAX_ENTRIES:
                raise MalformedPolicy(f"{where}: more than {MAX_ENTRIES} logs, witnesses or groups")
        if quorum is None:
            raise MalformedPolicy("the policy has no quorum line")
        text = data.decode("utf-8", errors="replace")
        return cls(tuple(logs), tuple(witnesses.values()), groups, quorum, text)

    def witness(self, name: str) -> PolicyWitness:
        for witness in self.witnesses:
            if witness.name == name:
                return witness
        raise KeyError(name)

    def satisfied(self, cosigned: Iterable[str]) -> bool:
        """Whether witnesses of these names cosigning meets the quorum."""
        names = set(cosigned)
        return self._witnessed(self.quorum, names)

    def _witnessed(self, name: str, cosigned: set[str]) -> bool:
        if name == NONE:
            return True
        group = self.groups.get(name)
        if group is None:
            return name in cosigned
        return sum(self._witnessed(m, cosigned) for m in group.members) >= group.threshold

    def describe_quorum(self) -> str:
        """The quorum in words, e.g. ``2 of (alpha, beta, gamma)``."""
        return self._describe(self.quorum)

    def _describe(self, name: str) -> str:
        if name == NONE:
            return "none"
        group = self.groups.get(name)
        if group is None:
            return name
        inner = ", ".join(self._describe(m) for m in group.members)
        return f"{group.threshold} of ({inner})"

    def open(self, note: bytes, *, origin: str | None = None) -> tuple[SignedCheckpoint, PolicyLog]:
        """Verify a checkpoint under this policy: signed by one of its logs (whose key name
        is the origin), cosigned by witnesses that meet the quorum. Raises
        ``UnverifiedNote`` (or another ``LedgerFormatError``) naming what is missing."""
        verifiers: list[Verifier] = [log.verifier for log in self.logs]
        verifiers += [witness.verifier for witness in self.witnesses]
        opened = open_note(note, verifiers)
        signer = next((log for log in self.logs if opened.signed_by(log.verifier)), None)
        if signer is None:
            raise UnverifiedNote("the checkpoint is not signed by any log of the policy")
        checkpoint = Checkpoint.parse(opened.text)
        expected = signer.name if origin is None else origin
        if checkpoint.origin != expected:
            raise UnexpectedOrigin(
                f"checkpoint origin {checkpoint.origin!r} is not the expected {expected!r}"
            )
        cosignatures: list[Cosignature] = []
        cosigned: list[str] = []
        for witness in self.witnesses:
            signature = opened.signed_by(witness.verifier)
            if signature is not None:
                cosignatures.append(Cosignature.from_signature(signature))
                cosigned.append(witness.name)
        if not self.satisfied(cosigned):
            have = ", ".join(cosigned) or "no witness"
            raise UnverifiedNote(
                f"the checkpoint is cosigned by {have}; the policy's quorum is "
                f"{self.describe_quorum()}"
            )
        return SignedCheckpoint(checkpoint, note, tuple(cosignatures)), signer


def _log_key(text: str, where: str) -> Ed25519Verifier:
    key = _parse_key(text, where)
    if not isinstance(key, Ed25519Verifier):
        raise MalformedPolicy(f"{where}: a log's key must be an Ed25519 key (type 0x01)")
    return key


def _witness_key(text: str, where: str) -> CosignatureVerifier:
    key = _parse_key(text, where)
    if not isinstance(key, CosignatureVerifier):
        raise MalformedPolicy(f"{where}: a witness's key must be a cosignature key (type 0x04)")
    return key


def _parse_key(text: str, where: str) -> Ed25519Verifier | CosignatureVerifier:
    try:
        return parse_vkey(text)
    except ValueError as error:
        raise MalformedPolicy(f"{where}: {error}") from None


def _new_name(name: str, where: str, *taken: Mapping[str, object]) -> str:
    if name == NONE:
        raise MalformedPolicy(f"{where}: 'none' is reserved and cannot name a witness or group")
    if any(name in names for names in taken):
        raise MalformedPolicy(f"{where}: the name {name!r} is defined twice")
    return name


def _threshold(text: str, members: int, where: str) -> int:
    if text == "all":
        return members
    if text == "any":
        return 1
    k = parse_decimal(text, f"{where}: group threshold", MalformedPolicy, limit=MAX_ENTRIES)
    if not 1 <= k <= members:
        raise MalformedPolicy(f"{where}: threshold {k} is not between 1 and {members} members")
    return k
