"""A log that talks to the witness, and a clock that moves only when told to.

``TestLog`` is a real log in memory: entries, RFC 6962 roots, consistency
proofs from ``pouch.ledger.merkle`` and checkpoints signed with its key. It
can also misbehave on purpose (``fork``: another tree with the same key).
"""

from __future__ import annotations

from pathlib import Path

from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
from pouch.ledger.merkle import NodeID, consistency_proof, leaf_hash, root_from_leaf_hashes
from pouch.ledger.note import Ed25519Signer
from pouch.witness.protocol import AddCheckpoint

VECTORS = Path(__file__).parents[2].parent / "shared" / "vectors"
ORIGIN = "transition.example/pouch-log"
WITNESS_NAME = "witness.embassy.example/w1"
T0 = 1_780_000_000  # POSIX seconds; the clock moves only when a test moves it


class Clock:
    """POSIX seconds that move only when told to."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class TestLog:
    """A log in memory that signs checkpoints and proves consistency."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, signer: Ed25519Signer, entries: list[bytes], origin: str = ORIGIN) -> None:
        self.signer = signer
        self.origin = origin
        self.leaves = [leaf_hash(entry) for entry in entries]

    @classmethod
    def counting(cls, signer: Ed25519Signer, size: int, *, origin: str = ORIGIN) -> TestLog:
        return cls(signer, [f"entry {i}".encode() for i in range(size)], origin)

    def root(self, size: int) -> bytes:
        return root_from_leaf_hashes(self.leaves[:size])

    def node(self, node: NodeID) -> bytes:
        span = node.leaves
        return root_from_leaf_hashes(self.leaves[span.start : span.stop])

    def proof(self, old_size: int, new_size: int) -> tuple[bytes, ...]:
        if old_size == 0:
            return ()
        return tuple(consistency_proof(old_size, new_size, self.node))

    def checkpoint(self, size: int, *, root: bytes | None = None) -> bytes:
        text = Checkpoint(self.origin, size, self.root(size) if root is None else root)
        return sign_checkpoint(text, self.signer)

    def request(
        self,
        old_size: int,
        size: int,
        *,
        proof: tuple[bytes, ...] | None = None,
        checkpoint: bytes | None = None,
    ) -> bytes:
        return AddCheckpoint(
            old_size=old_size,
            proof=self.proof(old_size, size) if proof is None else proof,
            checkpoint=self.checkpoint(size) if checkpoint is None else checkpoint,
        ).to_body()

    def fork(self, tag: str = "forked") -> TestLog:
        """The same key and origin over other entries: a split view."""
        return TestLog(
            self.signer,
            [f"entry {i} {tag}".encode() for i in range(len(self.leaves))],
            self.origin,
        )
