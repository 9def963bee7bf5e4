"""Reload and re-verify a stored log from scratch, as an auditor would."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.ledger.checkpoint import open_checkpoint
from pouch.ledger.layout import encode_tile, tiles_for_size
from pouch.ledger.merkle import CompactRange, NodeID, leaf_hash
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.store import CHECKPOINT_ROW, LedgerCheckpoint, LedgerEntry, LedgerTile


def full_verify(session: Session, verifier: Ed25519Verifier) -> int:
    """Recompute every tile from the entries and check the signed checkpoint.

    Returns the verified tree size; raises AssertionError naming the first
    inconsistency.
    """
    row = session.get_one(LedgerCheckpoint, CHECKPOINT_ROW)
    entries = [
        bytes(e) for e in session.scalars(select(LedgerEntry.data).order_by(LedgerEntry.idx))
    ]
    indexes = list(session.scalars(select(LedgerEntry.idx).order_by(LedgerEntry.idx)))
    assert indexes == list(range(len(indexes))), "entry indexes have a gap or a duplicate"
    size = row.size
    assert size <= len(entries), f"checkpoint size {size} exceeds the {len(entries)} entries"
    if row.note is not None:
        signed = open_checkpoint(row.note.encode(), log=verifier)
        assert signed.checkpoint.size == size
        assert signed.checkpoint.root_hash == bytes(row.root)
    tree = CompactRange()
    nodes: dict[NodeID, bytes] = {}
    for node, digest in tree.extend(leaf_hash(e) for e in entries[:size]):
        nodes[node] = digest
    assert tree.root() == bytes(row.root), f"recomputed root differs at size {size}"
    stored = {
        (t.level, t.idx): (t.width, bytes(t.data)) for t in session.scalars(select(LedgerTile))
    }
    for tile in tiles_for_size(size):
        expected = encode_tile(
            [nodes[NodeID(tile.level * 8, tile.index * 256 + i)] for i in range(tile.width)]
        )
        width, data = stored[(tile.level, tile.index)]
        assert width >= tile.width, f"tile {tile.path} is narrower than the tree"
        assert data[: len(expected)] == expected, f"tile {tile.path} differs from the entries"
    return size
