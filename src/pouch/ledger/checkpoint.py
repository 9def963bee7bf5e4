"""Checkpoints (c2sp.org/tlog-checkpoint): the signed tree head of the log.

Sections followed (c2sp.org/tlog-checkpoint):

- "Note text": at least three non-empty lines, each ending in a newline:
  the origin (non-empty; any text but spaces and ``+`` are only discouraged),
  the tree size in ASCII decimal without leading zeros, the root hash in
  standard base64 (32 bytes), then optional non-empty extension lines. As a
  signed-note text it has no control characters and ends in a newline.
- "Signatures": the log's key name SHOULD match the origin; Pouch requires
  it unless the caller names the expected origin. Unknown signatures are
  ignored; witness cosignatures (c2sp.org/tlog-cosignature) are checked
  against the witnesses the caller trusts.

Sizes are limited to 2^64 - 1, the uint64 of RFC 6962 and tlog-cosignature.

>>> cp = Checkpoint("example.com/behind-the-sofa", 20852163,
...                 base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="))
>>> print(cp.to_text(), end="")
example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
>>> Checkpoint.parse(cp.to_text()) == cp
True
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pouch.ledger.errors import MalformedCheckpoint, UnexpectedOrigin, UnverifiedNote
from pouch.ledger.merkle import HASH_SIZE
from pouch.ledger.note import (
    Cosignature,
    CosignatureVerifier,
    Signer,
    Verifier,
    b64decode_strict,
    open_note,
    sign_note,
)

__all__ = [
    "MAX_TREE_SIZE",
    "Checkpoint",
    "SignedCheckpoint",
    "open_checkpoint",
    "parse_decimal",
    "sign_checkpoint",
]

MAX_TREE_SIZE = (1 << 64) - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")


def parse_decimal(text: str, what: str, error: type[ValueError], limit: int = MAX_TREE_SIZE) -> int:
    """Parse ASCII decimal without sign, spaces or leading zeros, up to ``limit``.

    >>> parse_decimal("007", "tree size", ValueError)
    Traceback (most recent call last):
        ...
    ValueError: tree size '007' has a leading zero
    """
    if not _DECIMAL.fullmatch(text):
        if re.fullmatch(r"[0-9]+", text):
            raise error(f"{what} {text!r} has a leading zero")
        raise error(f"{what} {text[:40]!r} is not a decimal number")
    if len(text) > len(str(limit)) or int(text) > limit:
        raise error(f"{what} {text[:40]} is larger than {limit}")
    return int(text)


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and root hash, and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise ValueError("checkpoint origin is empty")
        _check_line(self.origin, "checkpoint origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise ValueError(f"checkpoint tree size {self.size} is outside 0..2^64-1")
        if len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"checkpoint root hash is {len(self.root_hash)} bytes, not 32")
        for i, line in enumerate(self.extensions):
            if not line:
                raise ValueError(f"checkpoint extension line {i + 1} is empty")
            _check_line(line, f"checkpoint extension line {i + 1}")

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly."""
        if not text.endswith("\n"):
            raise MalformedCheckpoint("checkpoint text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint(
                f"checkpoint text has {len(lines)} lines, needs origin, size and root hash"
            )
        for number, line in enumerate(lines, 1):
            if not line:
                raise MalformedCheckpoint(f"checkpoint line {number} is empty")
            if control := _CONTROL.search(line):
                raise MalformedCheckpoint(
                    f"checkpoint line {number} contains control character "
                    f"U+{ord(control.group()):04X}"
                )
        origin, size_text, root_text, *extensions = lines
        size = parse_decimal(size_text, "checkpoint line 2: tree size", MalformedCheckpoint)
        root_hash = b64decode_strict(root_text, "checkpoint line 3: root hash", MalformedCheckpoint)
        if len(root_hash) != HASH_SIZE:
            raise MalformedCheckpoint(
                f"checkpoint line 3: root hash is {len(root_hash)} bytes, not {HASH_SIZE}"
            )
        return cls(origin, size, root_hash, tuple(extensions))

    def to_text(self) -> str:
        """The note text: origin, size, root hash and extensions, one per line."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in [*lines, *self.extensions])


def _check_line(line: str, what: str) -> None:
    if control := _CONTROL.search(line):
        raise ValueError(f"{what} contains control character U+{ord(control.group()):04X}")


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified, with the cosignatures that did."""

    checkpoint: Checkpoint
    note: bytes
    cosignatures: tuple[Cosignature, ...]


def sign_checkpoint(checkpoint: Checkpoint, *signers: Signer) -> bytes:
    """The checkpoint as a signed note."""
    return sign_note(checkpoint.to_text(), *signers)


def open_checkpoint(
    note: bytes,
    *,
    log: Verifier,
    witnesses: Iterable[CosignatureVerifier] = (),
    quorum: int = 0,
    origin: str | None = None,
) -> SignedCheckpoint:
    """Verify a signed checkpoint from ``log`` and parse it.

    The log's signature must verify, and so must every signature from a
    listed witness; at least ``quorum`` distinct witnesses must have
    cosigned. The origin must equal ``origin``, by default the log key's
    name.
    """
    # Listing a witness twice must not let its one cosignature count twice.
    witness_list: Sequence[CosignatureVerifier] = list(dict.fromkeys(witnesses))
    if not 0 <= quorum <= len(witness_list):
        raise ValueError(f"a quorum of {quorum} cannot be met by {len(witness_list)} witnesses")
    opened = open_note(note, [log, *witness_list])
    if opened.signed_by(log) is None:
        raise UnverifiedNote(f"checkpoint is not signed by the log key {log.name}+{log.key_id:08x}")
    checkpoint = Checkpoint.parse(opened.text)
    expected = log.name if origin is None else origin
    if checkpoint.origin != expected:
        raise UnexpectedOrigin(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {expected!r}"
        )
    cosignatures = []
    for witness in witness_list:
        signature = opened.signed_by(witness)
        if signature is not None:
            cosignatures.append(Cosignature.from_signature(signature))
    if len(cosignatures) < quorum:
        raise UnverifiedNote(
            f"checkpoint has {len(cosignatures)} cosignatures from known witnesses, "
            f"the policy needs {quorum}"
        )
    return SignedCheckpoint(checkpoint, note, tuple(cosignatures))
