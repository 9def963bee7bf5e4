"""A witness (c2sp.org/tlog-witness "add-checkpoint"): check, cosign, remember.

The checks, in the order of the spec, each a refusal with its status::

    Refusal(Exception)
    ├── BadRequest     400  the body, note or checkpoint is malformed;
    │                       the old size is larger than the checkpoint's
    ├── NotTrusted     403  no signature from a key trusted for the origin,
    │                       or a trusted key's signature fails
    ├── UnknownLog     404  the origin is not in the log list
    ├── SizeMismatch   409  the old size is not the latest cosigned size
    └── Inconsistent   422  a size-0 checkpoint whose root is not SHA-256(""),
                            a proof from size 0, a proof that fails, or
                            another tree of the size cosigned last

A request whose log signature verified and that shows the log misbehaving
(every 422, and a 409 carrying another tree of the cosigned size) is kept in
the state as evidence, body and all.

The comparison with the stored checkpoint and its replacement happen in one
``WitnessState.advance``: the witness never cosigns two trees of one size and
never rolls back, whatever requests race.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from pouch.ledger.checkpoint import Checkpoint
from pouch.ledger.errors import BadSignature, InvalidProof, LedgerFormatError, UnverifiedNote
from pouch.ledger.merkle import EMPTY_ROOT, verify_consistency
from pouch.ledger.note import CosignatureSigner, Note, NoteSignature, open_note, parse_note
from pouch.witness.loglist import LogList
from pouch.witness.protocol import AddCheckpoint
from pouch.witness.state import CosignedCheckpoint, WitnessState

__all__ = [
    "BadRequest",
    "Inconsistent",
    "NotTrusted",
    "Refusal",
    "SizeMismatch",
    "UnknownLog",
    "Witness",
]

logger = logging.getLogger(__name__)


class Refusal(Exception):
    """The witness does not cosign; ``status`` is the HTTP answer."""

    status: ClassVar[int]

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(Refusal):
    status = 400


class NotTrusted(Refusal):
    status = 403


class UnknownLog(Refusal):
    status = 404


class SizeMismatch(Refusal):
    status = 409

    def __init__(self, reason: str, *, size: int, fork: bool = False) -> None:
        super().__init__(reason)
        self.size = size  # the latest cosigned size, the 409's body
        self.fork = fork


class Inconsistent(Refusal):
    status = 422


@dataclass(frozen=True)
class _Request:
    """A request that passed the checks that need no state."""

    body: bytes
    add: AddCheckpoint
    checkpoint: Checkpoint
    text: str  # the checkpoint's note text, as the log signed it
    log_signatures: tuple[NoteSignature, ...]


class Witness:
    """Cosigns the checkpoints of the listed logs with ``signer``, keeping ``state``."""

    def __init__(
        self,
        *,
        signer: CosignatureSigner,
        logs: LogList,
        state: WitnessState,
        clock: Callable[[], int],
    ) -> None:
        self.signer = signer
        self.logs = logs
        self.state = state
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> bytes:
        """The cosignature line(s) for a request body, or a ``Refusal``.

        Returns only once the cosigned checkpoint is committed to the state.
        """
        request = self._authenticate(body)
        try:
            _check_alone(request)
            cosigned = self.state.advance(
                request.checkpoint.origin, lambda current: self._cosign(request, current)
            )
        except Inconsistent as refusal:
            self._keep_evidence(request, refusal)
            raise
        except SizeMismatch as refusal:
            if refusal.fork:
                self._keep_evidence(request, refusal)
            raise
        # The witness's own signature is the last line of the note it stored.
        return parse_note(cosigned.note).signatures[-1].line.encode()

    def latest(self, origin_hash: str) -> bytes | None:
        """The latest cosigned checkpoint (log signature and cosignature) of a log."""
        cosigned = self.state.latest_by_hash(origin_hash)
        return None if cosigned is None else cosigned.note

    # -- steps ---------------------------------------------------------------------

    def _authenticate(self, body: bytes) -> _Request:
        """Parse the request and verify the log's signature: 400, 404, 403, then 400."""
        try:
            add = AddCheckpoint.parse(body)
            text = parse_note(add.checkpoint).text
            checkpoint = Checkpoint.parse(text)
        except LedgerFormatError as error:
            raise BadRequest(str(error)) from None
        keys = self.logs.keys_for(checkpoint.origin)
        if not keys:
            raise UnknownLog(f"unknown log origin {_clip(checkpoint.origin)!r}")
        try:
            opened = open_note(add.checkpoint, keys)
        except UnverifiedNote:
            raise NotTrusted(
                f"checkpoint is not signed by a key trusted for {_clip(checkpoint.origin)!r}"
            ) from None
        except BadSignature as error:
            raise NotTrusted(str(error)) from None
        except LedgerFormatError as error:
            raise BadRequest(str(error)) from None
        if add.old_size > checkpoint.size:
            raise BadRequest(f"old size {add.old_size} is larger than the checkpoint's size")
        return _Request(body, add, checkpoint, opened.text, opened.verified)

    def _cosign(self, request: _Request, current: CosignedCheckpoint | None) -> CosignedCheckpoint:
        """Under the state's write lock: compare with what was cosigned, then cosign."""
        checkpoint, old_size = request.checkpoint, request.add.old_size
        latest_size = 0 if current is None else current.size
        if old_size != latest_size:
            fork = (
                current is not None
                and checkpoint.size == current.size
                and checkpoint.root_hash != current.root
            )
            raise SizeMismatch(
                f"old size {old_size} is not the latest cosigned size {latest_size}"
                + (f", and this is another tree of size {latest_size}" if fork else ""),
                size=latest_size,
                fork=fork,
            )
        if current is not None and old_size > 0:
            if checkpoint.size == current.size and checkpoint.root_hash != current.root:
                raise Inconsistent(f"another tree of the cosigned size {current.size}: a fork")
            try:
                verify_consistency(
                    old_size=old_size,
                    new_size=checkpoint.size,
                    old_root=current.root,
                    new_root=checkpoint.root_hash,
                    proof=request.add.proof,
                )
            except InvalidProof as error:
                raise Inconsistent(f"consistency proof fails: {error}") from None
        # The cosigned note keeps only the signatures the witness verified.
        text = request.text.encode()
        cosignature = NoteSignature(self.signer.name, self.signer.key_id, self.signer.sign(text))
        note = Note(request.text, (*request.log_signatures, cosignature)).to_bytes()
        return CosignedCheckpoint(
            origin=checkpoint.origin,
            size=checkpoint.size,
            root=checkpoint.root_hash,
            note=note,
            cosigned_at=self.clock(),
        )

    def _keep_evidence(self, request: _Request, refusal: Refusal) -> None:
        logger.warning(
            "refused a checkpoint signed by %s (%d, kept as evidence): %s",
            request.checkpoint.origin,
            refusal.status,
            refusal.reason,
        )
        try:
            self.state.record_refusal(
                origin=request.checkpoint.origin,
                status=refusal.status,
                reason=refusal.reason,
                checkpoint_text=request.text,
                body=request.body,
                now=self.clock(),
            )
        except Exception:
            # The refusal itself must still be answered; the operator sees this in the log.
            logger.exception("could not keep the refused request as evidence")


def _check_alone(request: _Request) -> None:
    """The checks that need no state (c2sp.org/tlog-witness, both 422)."""
    if request.checkpoint.size == 0 and request.checkpoint.root_hash != EMPTY_ROOT:
        raise Inconsistent("a checkpoint of size 0 must have the root SHA-256 of the empty string")
    if request.add.old_size == 0 and request.add.proof:
        raise Inconsistent("a consistency proof from size 0 must be empty")


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
