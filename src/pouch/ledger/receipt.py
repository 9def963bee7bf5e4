"""Receipts: offline-verifiable proofs of logging (c2sp.org/tlog-proof@v1).

Sections followed (c2sp.org/tlog-proof, "Format" and "Verifying a tlog
proof"):

- Line 1 is ``c2sp.org/tlog-proof@v1``.
- An optional ``extra <base64>`` line carries opaque, unauthenticated data;
  without extra data the line is omitted (so an empty ``extra`` is refused).
- ``index <n>``: the entry's index, ASCII decimal without leading zeros.
- Zero or more lines of base64 hashes: the RFC 6962 inclusion proof, from
  the leaf's sibling up to the root's child.
- An empty line, then the signed checkpoint verbatim (c2sp.org/tlog-checkpoint
  as a c2sp.org/signed-note, cosignatures included).

Verification follows the spec's order: hash the entry, check the checkpoint's
origin and log signature, check the known witnesses' cosignatures against the
caller's quorum, then the inclusion proof.

>>> print(Receipt(index=0, proof=(), checkpoint=b"...").to_bytes().decode(), end="")
c2sp.org/tlog-proof@v1
index 0
<BLANKLINE>
...
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pouch.ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    open_checkpoint,
    parse_decimal,
)
from pouch.ledger.errors import MalformedReceipt, UnverifiedNote
from pouch.ledger.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from pouch.ledger.note import (
    Cosignature,
    CosignatureVerifier,
    Verifier,
    b64decode_strict,
    parse_note,
)
from pouch.ledger.policy import Policy

__all__ = [
    "HEADER",
    "Receipt",
    "VerifiedReceipt",
    "build_receipt",
    "verify_receipt",
]

HEADER = "c2sp.org/tlog-proof@v1"
# A tree of at most 2^64 - 1 leaves has inclusion proofs of at most 64 hashes.
_MAX_PROOF_HASHES = 64


@dataclass(frozen=True)
class Receipt:
    """The parts of a tlog-proof; ``checkpoint`` is the signed note, verbatim."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.index <= MAX_TREE_SIZE:
            raise ValueError(f"receipt index {self.index} is outside 0..2^64-1")
        if len(self.proof) > _MAX_PROOF_HASHES:
            raise ValueError(f"receipt proof has {len(self.proof)} hashes, more than 64")
        for i, h in enumerate(self.proof):
            if len(h) != HASH_SIZE:
                raise ValueError(f"receipt proof hash {i} is {len(h)} bytes, not {HASH_SIZE}")

    def to_bytes(self) -> bytes:
        lines = [HEADER]
        if self.extra:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.proof)
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint

    @classmethod
    def parse(cls, data: bytes) -> Receipt:
        """Parse a receipt strictly; its checkpoint must be a well-formed signed note.

        Signatures and the proof are not checked: see ``verify_receipt``.
        """
        lines = _Lines(data)
        if lines.next() != HEADER:
            raise MalformedReceipt(f"receipt line 1 is not {HEADER!r}")
        line = lines.next()
        extra = b""
        if line.startswith("extra "):
            extra = b64decode_strict(
                line.removeprefix("extra "), "receipt line 2: extra data", MalformedReceipt
            )
            if not extra:
                raise MalformedReceipt("receipt line 2: extra line without data (omit the line)")
            line = lines.next()
        if not line.startswith("index "):
            raise MalformedReceipt(f"receipt line {lines.number} does not start with 'index '")
        index = parse_decimal(
            line.removeprefix("index "), f"receipt line {lines.number}: index", MalformedReceipt
        )
        proof: list[bytes] = []
        while line := lines.next():
            if len(proof) == _MAX_PROOF_HASHES:
                raise MalformedReceipt(f"receipt has more than {_MAX_PROOF_HASHES} proof hashes")
            where = f"receipt line {lines.number}: proof hash"
            h = b64decode_strict(line, where, MalformedReceipt)
            if len(h) != HASH_SIZE:
                raise MalformedReceipt(f"{where} is {len(h)} bytes, not {HASH_SIZE}")
            proof.append(h)
        checkpoint = lines.rest()
        if not checkpoint:
            raise MalformedReceipt("receipt has no checkpoint after its blank line")
        Checkpoint.parse(parse_note(checkpoint).text)
        return cls(index, tuple(proof), checkpoint, extra)


class _Lines:
    """Reads the receipt's header lines one by one, counting them."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self.number = 0

    def next(self) -> str:
        end = self._data.find(b"\n", self._offset)
        self.number += 1
        if end < 0:
            raise MalformedReceipt(f"receipt ends before the newline of line {self.number}")
        raw = self._data[self._offset : end]
        self._offset = end + 1
        if not raw.isascii() or any(b < 0x20 for b in raw):
            raise MalformedReceipt(f"receipt line {self.number} is not printable ASCII")
        return raw.decode("ascii")

    def rest(self) -> bytes:
        return self._data[self._offset :]


def build_receipt(
    *,
    index: int,
    proof: Sequence[bytes],
    checkpoint: bytes,
    leaf_hash: bytes,
    extra: bytes = b"",
) -> bytes:
    """Write a receipt, after checking that ``proof`` leads to the checkpoint's root.

    ``checkpoint`` is the signed checkpoint note as published, cosignatures
    included; ``leaf_hash`` is the entry's RFC 6962 leaf hash.
    """
    receipt = Receipt(index, tuple(proof), checkpoint, extra)
    tree = Checkpoint.parse(parse_note(checkpoint).text)
    verify_inclusion(
        leaf_hash=leaf_hash, index=index, size=tree.size, proof=proof, root=tree.root_hash
    )
    return receipt.to_bytes()


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a verified receipt proves; ``extra`` is NOT authenticated."""

    index: int
    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]
    extra: bytes


def verify_receipt(
    receipt: bytes,
    entry: bytes,
    *,
    log: Verifier | None = None,
    witnesses: Iterable[CosignatureVerifier] = (),
    quorum: int = 0,
    origin: str | None = None,
    policy: Policy | None = None,
) -> VerifiedReceipt:
    """Check that ``entry`` is in the log, as the receipt says, per tlog-proof.

    ``log`` is the log's key, ``witnesses`` the trusted cosigners of which at
    least ``quorum`` must have cosigned; or a ``policy`` (c2sp.org/tlog-policy)
    names the logs, the witnesses and the quorum (with ``log`` too, the
    checkpoint must be signed by that one of its logs). ``origin`` defaults to
    the log key's name. Raises a ``LedgerFormatError`` naming the first problem
    found.
    """
    parsed = Receipt.parse(receipt)
    # Step 1: the leaf hash.
    leaf = leaf_hash(entry)
    # Steps 2 and 3: the origin, the log's signature, the witnesses' cosignatures.
    if policy is not None:
        signed, signer = policy.open(parsed.checkpoint, origin=origin)
        if log is not None and (signer.name, signer.verifier.key_id) != (log.name, log.key_id):
            raise UnverifiedNote(f"the checkpoint is signed by {signer.name}, not by {log.name}")
    elif log is not None:
        signed = open_checkpoint(
            parsed.checkpoint, log=log, witnesses=witnesses, quorum=quorum, origin=origin
        )
    else:
        raise ValueError("verify_receipt needs the log's key or a policy")
    # Step 4: the inclusion proof binds the leaf to the signed root.
    tree = signed.checkpoint
    verify_inclusion(
        leaf_hash=leaf, index=parsed.index, size=tree.size, proof=parsed.proof, root=tree.root_hash
    )
    return VerifiedReceipt(parsed.index, tree, signed.cosignatures, parsed.extra)
