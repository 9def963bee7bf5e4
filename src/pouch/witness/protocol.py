"""The witness protocol's bytes (c2sp.org/tlog-witness), shared by the log's
client and ``pouch witness serve``.

Sections followed (C2SP/C2SP tlog-witness.md, as of 5ba5ee8):

- "add-checkpoint": ``POST <submission prefix>/add-checkpoint`` with a body
  of an old size line (``old`` SP decimal, no leading zeros), zero to 63
  consistency proof lines (one base64 hash each), an empty line, and the
  signed checkpoint. Every line ends in a newline.
- A 409 answer's body is the witness's latest cosigned size in decimal and a
  newline, as ``text/x.tlog.size``.
- A 200 answer's body is one or more note signature lines, each starting
  with U+2014 and ending with a newline.
- "Monitor Retrieval Mechanism": ``GET <monitoring prefix>/<origin
  hash>/checkpoint``, the origin hash being the lowercase hex SHA-256 of the
  origin.

>>> note = "o\\n0\\nr\\n\\n\\u2014 o x\\n".encode()
>>> request = AddCheckpoint(old_size=0, proof=(), checkpoint=note)
>>> AddCheckpoint.parse(request.to_body()) == request
True
>>> parse_size_body(size_body(20852014))
20852014
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from pouch.ledger.checkpoint import parse_decimal
from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.merkle import HASH_SIZE
from pouch.ledger.note import MAX_NOTE_SIZE, b64decode_strict

__all__ = [
    "ADD_CHECKPOINT_PATH",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "MalformedRequest",
    "MalformedResponse",
    "monitoring_path",
    "origin_hash",
    "parse_cosignature_lines",
    "parse_size_body",
    "size_body",
]

ADD_CHECKPOINT_PATH = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
# The proof (at most 63 lines of 45 bytes) and the old size line, then a note.
MAX_REQUEST_SIZE = MAX_NOTE_SIZE + 64 * 64
_EM_DASH = "\u2014"


class MalformedRequest(LedgerFormatError):
    """An add-checkpoint body that does not follow the spec (a 400)."""


class MalformedResponse(LedgerFormatError):
    """A witness's answer that does not follow the spec."""


@dataclass(frozen=True)
class AddCheckpoint:
    """One add-checkpoint request: the old size, the proof from it, the signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes  # the signed note, verbatim

    def to_body(self) -> bytes:
        if len(self.proof) > MAX_PROOF_LINES:
            raise ValueError(f"a consistency proof of {len(self.proof)} hashes is over 63")
        lines = [f"old {self.old_size}\n".encode()]
        lines += [base64.b64encode(node) + b"\n" for node in self.proof]
        return b"".join(lines) + b"\n" + self.checkpoint

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body strictly; the checkpoint note is checked by its verifier."""
        if len(body) > MAX_REQUEST_SIZE:
            raise MalformedRequest(f"request body is over {MAX_REQUEST_SIZE} bytes")
        head, separator, checkpoint = body.partition(b"\n\n")
        if not separator:
            raise MalformedRequest("request body has no empty line before the checkpoint")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise MalformedRequest("old size and proof lines are not ASCII") from None
        first, proof_lines = lines[0], lines[1:]
        if not first.startswith("old "):
            raise MalformedRequest(f"first line {first[:40]!r} is not 'old <size>'")
        old_size = parse_decimal(first[4:], "old size", MalformedRequest)
        if len(proof_lines) > MAX_PROOF_LINES:
            raise MalformedRequest(f"{len(proof_lines)} consistency proof lines, at most 63")
        proof = []
        for number, line in enumerate(proof_lines, 2):
            node = b64decode_strict(line, f"proof line {number}", MalformedRequest)
            if len(node) != HASH_SIZE:
                raise MalformedRequest(f"proof line {number} is {len(node)} bytes, not 32")
            proof.append(node)
        if not checkpoint:
            raise MalformedRequest("request body has no checkpoint after the empty line")
        return cls(old_size=old_size, proof=tuple(proof), checkpoint=checkpoint)


def size_body(size: int) -> bytes:
    """A 409 answer's body: the witness's latest cosigned size."""
    return f"{size}\n".encode()


def parse_size_body(body: bytes) -> int:
    """The size in a 409 answer's body, strictly."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedResponse("a text/x.tlog.size body is not ASCII") from None
    if not text.endswith("\n") or "\n" in text[:-1]:
        raise MalformedResponse(f"a text/x.tlog.size body {text[:40]!r} is not one line")
    return parse_decimal(text[:-1], "witness's tree size", MalformedResponse)


def parse_cosignature_lines(body: bytes) -> str:
    """The signature lines of a 200 answer, checked for shape; appended to the checkpoint
    they are verified by the note's verifier against the witness's key."""
    if len(body) > MAX_NOTE_SIZE:
        raise MalformedResponse(f"cosignature response is over {MAX_NOTE_SIZE} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedResponse("cosignature response is not UTF-8") from None
    if not text or not text.endswith("\n"):
        raise MalformedResponse("cosignature response is empty or does not end in a newline")
    for number, line in enumerate(text[:-1].split("\n"), 1):
        if not line.startswith(_EM_DASH + " "):
            raise MalformedResponse(f"response line {number} is not a note signature line")
    return text


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of a log's origin, as in the monitoring path."""
    return hashlib.sha256(origin.encode()).hexdigest()


def monitoring_path(origin: str) -> str:
    """Where a witness serves its latest cosigned checkpoint of ``origin``."""
    return f"/{origin_hash(origin)}/checkpoint"
