"""RFC 6962 Merkle tree hashing and proofs, as specified again in RFC 9162.

Sections followed:

- RFC 9162 §2.1.1, the Merkle Tree Hash: ``MTH({}) = SHA-256()``, a leaf is
  ``SHA-256(0x00 || d)``, an interior node ``SHA-256(0x01 || left || right)``,
  and a tree of ``n > 1`` leaves splits at ``k``, the largest power of two
  smaller than ``n``.
- §2.1.3.1 (``PATH``) and §2.1.4.1 (``PROOF``/``SUBPROOF``) to generate
  inclusion and consistency proofs; §2.1.3.2 and §2.1.4.2 to verify them,
  step by step, with the edge cases of transparency-dev/merkle's published
  test vectors (a consistency proof from size 0 proves nothing and fails).

Addressing. ``NodeID(level, index)`` names the root of the *complete*
subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``: level 0
holds the leaf hashes. Such a node never changes once the tree has grown past
it, which is what a tile store keeps (c2sp.org/tlog-tiles stores level
``8 * L`` in its level-``L`` tiles).

Proof generation from a store. A proof element is ``MTH`` of an aligned
range of leaves. All of them are complete subtrees except at most one per
proof, the *ephemeral* node on the right edge of the tree (a range whose size
is not a power of two). ``inclusion_proof`` and ``consistency_proof`` ask the
``get_node`` callback only for complete subtrees and recompute the ephemeral
node from the complete subtrees that cover its range (one per set bit of its
size). A proof of a tree of size ``n`` therefore costs at most
``2 * ceil(log2 n)`` lookups and as many hashes; ``inclusion_proof_nodes`` and
``consistency_proof_nodes`` list those lookups up front so a store can fetch
all the tiles it needs in one batch.

Appending. ``CompactRange`` holds the complete subtrees that cover
``[0, size)``, one per set bit of ``size``: O(log n) hashes suffice to append
leaves, to report each complete node as it is formed (for the tile writer),
and to compute the root. It reloads from those same stored nodes.

>>> leaf_hash(b"").hex()
'6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
>>> EMPTY_ROOT.hex()
'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pouch.ledger.errors import InvalidProof

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "NodeGetter",
    "NodeID",
    "consistency_proof",
    "consistency_proof_nodes",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


@dataclass(frozen=True, order=True, slots=True)
class NodeID:
    """The root of the complete subtree over ``2**level`` leaves at ``index``.

    >>> NodeID(level=3, index=2).leaves
    range(16, 24)
    """

    level: int
    index: int

    @property
    def leaves(self) -> range:
        """The leaf indexes this subtree covers."""
        return range(self.index << self.level, (self.index + 1) << self.level)


NodeGetter = Callable[[NodeID], bytes]
"""Returns the hash of a complete subtree of the tree being proven."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a list of leaf hashes, straight from §2.1.1.

    This is the reference definition (O(n) memory); a log uses
    ``CompactRange`` instead.

    >>> root_from_leaf_hashes([]) == EMPTY_ROOT
    True
    >>> root_from_leaf_hashes([leaf_hash(b"")]) == leaf_hash(b"")
    True
    """
    for i, h in enumerate(leaf_hashes):
        _require_hash(h, f"leaf hash {i}", ValueError)
    if not leaf_hashes:
        return EMPTY_ROOT

    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaf_hashes[start]
        k = _split(end - start)
        return node_hash(mth(start, start + k), mth(start + k, end))

    return mth(0, len(leaf_hashes))


# -- proof generation -------------------------------------------------------


def inclusion_proof_nodes(index: int, size: int) -> list[NodeID]:
    """The complete subtrees ``inclusion_proof`` will look up, in order.

    >>> inclusion_proof_nodes(2, 7)
    [NodeID(level=0, index=3), NodeID(level=1, index=0), NodeID(level=1, index=2), NodeID(level=0, index=6)]
    """  # noqa: E501
    return [node for element in _inclusion_plan(index, size) for node in element]


def inclusion_proof(index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (§2.1.3.1).

    Hashes are ordered from the leaf's sibling up to the child of the root.
    """
    return [_element_hash(element, get_node) for element in _inclusion_plan(index, size)]


def consistency_proof_nodes(old_size: int, new_size: int) -> list[NodeID]:
    """The complete subtrees ``consistency_proof`` will look up, in order.

    >>> consistency_proof_nodes(3, 7)
    [NodeID(level=0, index=2), NodeID(level=0, index=3), NodeID(level=1, index=0), NodeID(level=1, index=2), NodeID(level=0, index=6)]
    """  # noqa: E501
    return [node for element in _consistency_plan(old_size, new_size) for node in element]


def consistency_proof(old_size: int, new_size: int, get_node: NodeGetter) -> list[bytes]:
    """The proof that the tree of ``old_size`` is a prefix of ``new_size`` (§2.1.4.1).

    Equal sizes give an empty proof. A proof from the empty tree is refused:
    every tree extends it, so there is nothing to prove (and RFC 9162
    verifiers reject one).
    """
    return [_element_hash(element, get_node) for element in _consistency_plan(old_size, new_size)]


def _split(n: int) -> int:
    """``k``, the largest power of two smaller than ``n`` (for ``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _cover(start: int, end: int) -> list[NodeID]:
    """The complete subtrees whose concatenation is ``[start, end)``, largest first.

    Callers pass ranges that RFC 9162's recursion produces, where ``start`` is
    a multiple of a power of two at least ``end - start``; the greedy split
    then matches ``MTH``'s split at the largest power of two.
    """
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        nodes.append(NodeID(level, start >> level))
        start += 1 << level
    return nodes


def _inclusion_plan(index: int, size: int) -> list[list[NodeID]]:
    if not 0 <= index < size:
        raise ValueError(f"no leaf {index} in a tree of size {size}")
    plan = []
    start, n, m = 0, size, index
    # Walk PATH(m, D[start:start+n]) from the root down; reversed at the end
    # because the proof lists the deepest sibling first.
    while n > 1:
        k = _split(n)
        if m < k:
            plan.append(_cover(start + k, start + n))
            n = k
        else:
            plan.append(_cover(start, start + k))
            start, n, m = start + k, n - k, m - k
    plan.reverse()
    return plan


def _consistency_plan(old_size: int, new_size: int) -> list[list[NodeID]]:
    if old_size < 0 or new_size < old_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0:
        raise ValueError("a consistency proof from the empty tree proves nothing")
    plan = []
    start, n, m, whole_old_tree = 0, new_size, old_size, True
    # SUBPROOF(m, D[start:start+n], whole_old_tree), from the root down.
    while m != n:
        k = _split(n)
        if m <= k:
            plan.append(_cover(start + k, start + n))
            n = k
        else:
            plan.append(_cover(start, start + k))
            start, n, m, whole_old_tree = start + k, n - k, m - k, False
    if not whole_old_tree:
        plan.append(_cover(start, start + n))
    plan.reverse()
    return plan


def _element_hash(element: list[NodeID], get_node: NodeGetter) -> bytes:
    hashes = []
    for node in element:
        h = get_node(node)
        _require_hash(h, f"get_node({node!r})", ValueError)
        hashes.append(h)
    # An ephemeral node: fold the covering subtrees from the right, as MTH does.
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


# -- verification -------------------------------------------------------------


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree ``(size, root)``.

    RFC 9162 §2.1.3.2, step by step. Raises ``InvalidProof`` with the reason.
    """
    _require_hash(leaf_hash, "leaf hash", InvalidProof)
    _require_hash(root, "root hash", InvalidProof)
    for i, p in enumerate(proof):
        _require_hash(p, f"inclusion proof hash {i}", InvalidProof)
    # Step 1.
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is outside a tree of size {size}")
    # Steps 2 and 3.
    fn, sn = index, size - 1
    r = leaf_hash
    # Step 4.
    for p in proof:
        if sn == 0:
            raise _wrong_length("inclusion", len(proof), len(_inclusion_plan(index, size)))
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    # Step 5.
    if sn != 0:
        raise _wrong_length("inclusion", len(proof), len(_inclusion_plan(index, size)))
    if r != root:
        raise InvalidProof(
            f"inclusion proof of leaf {index} leads to root {r.hex()}, not {root.hex()}"
        )


def verify_consistency(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree ``(old_size, old_root)`` is a prefix of ``(new_size, new_root)``.

    RFC 9162 §2.1.4.2, step by step, for ``0 < old_size < new_size``. Equal
    sizes need an empty proof and byte-identical roots (which need not be
    hashes: transparency-dev/merkle's vectors check a tree head against itself
    without looking inside). A proof from size 0 fails: there is nothing to
    check it against. Raises ``InvalidProof``.
    """
    for i, c in enumerate(proof):
        _require_hash(c, f"consistency proof hash {i}", InvalidProof)
    if old_size < 0 or new_size < old_size:
        raise InvalidProof(f"old tree size {old_size} is not within 0..new tree size {new_size}")
    if old_size == 0:
        raise InvalidProof("a consistency proof from the empty tree proves nothing")
    if old_size == new_size:
        if proof:
            raise InvalidProof(f"trees of equal size need an empty proof, got {len(proof)} hashes")
        if old_root != new_root:
            raise InvalidProof(
                f"two trees of size {old_size} have different roots "
                f"{old_root.hex()} and {new_root.hex()}"
            )
        return
    _require_hash(old_root, "old root hash", InvalidProof)
    _require_hash(new_root, "new root hash", InvalidProof)
    expected_length = len(_consistency_plan(old_size, new_size))
    # Step 1.
    if not proof:
        raise _wrong_length("consistency", 0, expected_length)
    # Step 2.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3 and 4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise _wrong_length("consistency", len(proof), expected_length)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # Step 7.
    if sn != 0:
        raise _wrong_length("consistency", len(proof), expected_length)
    if fr != old_root:
        raise InvalidProof(f"consistency proof leads to old root {fr.hex()}, not {old_root.hex()}")
    if sr != new_root:
        raise InvalidProof(f"consistency proof leads to new root {sr.hex()}, not {new_root.hex()}")


def _wrong_length(kind: str, got: int, want: int) -> InvalidProof:
    return InvalidProof(f"{kind} proof has {got} hashes, this tree needs {want}")


def _require_hash(value: bytes, what: str, error: type[ValueError]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


# -- compact range --------------------------------------------------------------


class CompactRange:
    """The right edge of an append-only tree: O(log n) hashes to extend it.

    It holds the complete subtrees that cover leaves ``[0, size)``, one per
    set bit of ``size``, largest first (``CompactRange.nodes_for_size``). The
    sequencer appends leaf hashes, writes each completed node it gets back to
    the tiles, and signs ``root()``; after a restart it reloads the same
    nodes from the tiles with ``CompactRange.load``.

    >>> tree = CompactRange()
    >>> [node for node, _ in tree.append(leaf_hash(b"a"))]
    [NodeID(level=0, index=0)]
    >>> [node for node, _ in tree.append(leaf_hash(b"b"))]
    [NodeID(level=0, index=1), NodeID(level=1, index=0)]
    >>> tree.size, tree.root() == root_from_leaf_hashes([leaf_hash(b"a"), leaf_hash(b"b")])
    (2, True)
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @staticmethod
    def nodes_for_size(size: int) -> list[NodeID]:
        """The complete subtrees a compact range of ``size`` leaves holds.

        >>> CompactRange.nodes_for_size(13)
        [NodeID(level=3, index=0), NodeID(level=2, index=2), NodeID(level=0, index=12)]
        """
        if size < 0:
            raise ValueError(f"tree size {size} is negative")
        return _cover(0, size)

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild from the hashes of ``nodes_for_size(size)``, in that order."""
        nodes = cls.nodes_for_size(size)
        if len(hashes) != len(nodes):
            raise ValueError(f"a tree of size {size} needs {len(nodes)} hashes, got {len(hashes)}")
        for node, h in zip(nodes, hashes, strict=True):
            _require_hash(h, f"hash of {node!r}", ValueError)
        compact = cls()
        compact._size = size
        compact._hashes = list(hashes)
        return compact

    @classmethod
    def load(cls, size: int, get_node: NodeGetter) -> CompactRange:
        """Rebuild from a store that serves complete subtrees of the tree."""
        return cls.from_hashes(size, [get_node(node) for node in cls.nodes_for_size(size)])

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def nodes(self) -> list[tuple[NodeID, bytes]]:
        """The complete subtrees held, largest first, with their hashes."""
        return list(zip(self.nodes_for_size(self._size), self._hashes, strict=True))

    def append(self, leaf_hash: bytes) -> list[tuple[NodeID, bytes]]:
        """Add one leaf; return the leaf and every node it completes, bottom up."""
        _require_hash(leaf_hash, "leaf hash", ValueError)
        index = self._size
        h = leaf_hash
        completed = [(NodeID(0, index), h)]
        level = 0
        # Each set low bit of the old size is a complete subtree of that level
        # at the end of the range, waiting for a right sibling of equal size.
        while (index >> level) & 1:
            h = node_hash(self._hashes.pop(), h)
            level += 1
            completed.append((NodeID(level, index >> level), h))
        self._hashes.append(h)
        self._size = index + 1
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[tuple[NodeID, bytes]]:
        """Append several leaves; return every node completed, in order."""
        completed = []
        for h in leaf_hashes:
            completed.extend(self.append(h))
        return completed

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            result = node_hash(h, result)
        return result

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
