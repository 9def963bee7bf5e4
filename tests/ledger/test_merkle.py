"""RFC 6962/9162 hashing and proofs, against published vectors and properties."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pouch.ledger import merkle
from pouch.ledger.errors import InvalidProof
from pouch.ledger.merkle import CompactRange, NodeID

VECTORS = Path(__file__).parents[2].parent / "shared" / "vectors"
INCLUSION_FILES = sorted((VECTORS / "merkle" / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((VECTORS / "merkle" / "consistency").rglob("*.json"))
RFC_TREE = json.loads((VECTORS / "rfc6962-tree.json").read_text())
RFC_LEAVES = [merkle.leaf_hash(bytes.fromhex(leaf)) for leaf in RFC_TREE["leaves"]]
RFC_ROOTS = {int(size): bytes.fromhex(root) for size, root in RFC_TREE["roots"].items()}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def build(leaf_hashes: list[bytes]) -> tuple[CompactRange, dict[NodeID, bytes]]:
    """A tree and the store of every complete node, as the sequencer would keep it."""
    tree = CompactRange()
    store = dict(tree.extend(leaf_hashes))
    return tree, store


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_the_vectors_are_there_with_both_outcomes() -> None:
    # Guards against an empty parametrization silently testing nothing.
    for files in (INCLUSION_FILES, CONSISTENCY_FILES):
        outcomes = {load(f)["wantErr"] for f in files}
        assert outcomes == {True, False}
    assert len(INCLUSION_FILES) + len(CONSISTENCY_FILES) == 196


@pytest.mark.parametrize(
    "path", INCLUSION_FILES, ids=[str(p.relative_to(VECTORS)) for p in INCLUSION_FILES]
)
def test_inclusion_vector(path: Path) -> None:
    v = load(path)
    kwargs = {
        "leaf_hash": b64(v["leafHash"]),
        "index": v["leafIdx"],
        "size": v["treeSize"],
        "proof": [b64(p) for p in v["proof"] or []],
        "root": b64(v["root"]),
    }
    if v["wantErr"]:
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(**kwargs)
    else:
        merkle.verify_inclusion(**kwargs)


@pytest.mark.parametrize(
    "path", CONSISTENCY_FILES, ids=[str(p.relative_to(VECTORS)) for p in CONSISTENCY_FILES]
)
def test_consistency_vector(path: Path) -> None:
    v = load(path)
    kwargs = {
        "old_size": v["size1"],
        "new_size": v["size2"],
        "old_root": b64(v["root1"]),
        "new_root": b64(v["root2"]),
        "proof": [b64(p) for p in v["proof"] or []],
    }
    if v["wantErr"]:
        with pytest.raises(InvalidProof):
            merkle.verify_consistency(**kwargs)
    else:
        merkle.verify_consistency(**kwargs)


@pytest.mark.parametrize(
    "path",
    [p for p in INCLUSION_FILES + CONSISTENCY_FILES if p.name == "happy-path.json"],
    ids=lambda p: str(p.relative_to(VECTORS)),
)
def test_generated_proofs_equal_the_published_ones(path: Path) -> None:
    # The vectors' proofs are over the RFC 6962 reference tree.
    _, store = build(RFC_LEAVES)
    v = load(path)
    if "leafIdx" in v:
        proof = merkle.inclusion_proof(v["leafIdx"], v["treeSize"], store.__getitem__)
    else:
        proof = merkle.consistency_proof(v["size1"], v["size2"], store.__getitem__)
    assert proof == [b64(p) for p in v["proof"] or []]


@pytest.mark.parametrize("size", range(9))
def test_rfc6962_tree_roots(size: int) -> None:
    assert merkle.root_from_leaf_hashes(RFC_LEAVES[:size]) == RFC_ROOTS[size]
    tree, _ = build(RFC_LEAVES[:size])
    assert tree.root() == RFC_ROOTS[size]


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc6962_tree_every_proof_verifies(size: int) -> None:
    _, store = build(RFC_LEAVES)
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, store.__getitem__)
        merkle.verify_inclusion(
            leaf_hash=RFC_LEAVES[index], index=index, size=size, proof=proof, root=RFC_ROOTS[size]
        )
    for old in range(1, size + 1):
        proof = merkle.consistency_proof(old, size, store.__getitem__)
        merkle.verify_consistency(
            old_size=old,
            new_size=size,
            old_root=RFC_ROOTS[old],
            new_root=RFC_ROOTS[size],
            proof=proof,
        )


def test_leaf_and_node_hash_prefixes() -> None:
    # RFC 6962 reference: the hash of the empty leaf, and of two leaves.
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert merkle.node_hash(RFC_LEAVES[0], RFC_LEAVES[1]) == RFC_ROOTS[2]
    assert RFC_ROOTS[0] == merkle.EMPTY_ROOT


def test_root_from_leaf_hashes_rejects_a_short_hash() -> None:
    with pytest.raises(ValueError, match="leaf hash 1 is 31 bytes"):
        merkle.root_from_leaf_hashes([bytes(32), bytes(31)])


# -- generated proofs -----------------------------------------------------------


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 700))
    return size, draw(st.integers(0, size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, 700))
    return draw(st.integers(1, new)), new


@settings(max_examples=150)
@given(tree_and_index(), st.integers(min_value=0))
def test_inclusion_proofs_verify_and_any_bit_flip_fails(case: tuple[int, int], bit: int) -> None:
    size, index = case
    all_leaves = leaves(size)
    tree, store = build(all_leaves)
    root = tree.root()
    proof = merkle.inclusion_proof(index, size, store.__getitem__)
    merkle.verify_inclusion(
        leaf_hash=all_leaves[index], index=index, size=size, proof=proof, root=root
    )
    # One flipped bit anywhere in the leaf, the root or the proof is caught.
    material = all_leaves[index] + root + b"".join(proof)
    flipped = flip(material, bit)
    parts = [flipped[i : i + 32] for i in range(0, len(flipped), 32)]
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(
            leaf_hash=parts[0], index=index, size=size, proof=parts[2:], root=parts[1]
        )


@settings(max_examples=100)
@given(tree_and_index(), st.integers(1, 700))
def test_inclusion_proof_for_another_index_or_size_fails(case: tuple[int, int], other: int) -> None:
    size, index = case
    all_leaves = leaves(max(size, other))
    tree, store = build(all_leaves[:size])
    proof = merkle.inclusion_proof(index, size, store.__getitem__)
    if other != index:
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(
                leaf_hash=all_leaves[index], index=other, size=size, proof=proof, root=tree.root()
            )
    if other != size:
        # The size comes from the signed checkpoint, with its own root.
        other_root = merkle.root_from_leaf_hashes(all_leaves[:other])
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(
                leaf_hash=all_leaves[index], index=index, size=other, proof=proof, root=other_root
            )


@settings(max_examples=150)
@given(two_sizes(), st.integers(min_value=0))
def test_consistency_proofs_verify_and_any_bit_flip_fails(sizes: tuple[int, int], bit: int) -> None:
    old, new = sizes
    all_leaves = leaves(new)
    tree, store = build(all_leaves)
    old_root = merkle.root_from_leaf_hashes(all_leaves[:old])
    proof = merkle.consistency_proof(old, new, store.__getitem__)
    merkle.verify_consistency(
        old_size=old, new_size=new, old_root=old_root, new_root=tree.root(), proof=proof
    )
    flipped = flip(old_root + tree.root() + b"".join(proof), bit)
    parts = [flipped[i : i + 32] for i in range(0, len(flipped), 32)]
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(
            old_size=old, new_size=new, old_root=parts[0], new_root=parts[1], proof=parts[2:]
        )


@settings(max_examples=100)
@given(two_sizes())
def test_consistency_proof_with_a_hash_too_many_or_too_few_fails(sizes: tuple[int, int]) -> None:
    old, new = sizes
    all_leaves = leaves(new)
    tree, store = build(all_leaves)
    old_root = merkle.root_from_leaf_hashes(all_leaves[:old])
    proof = merkle.consistency_proof(old, new, store.__getitem__)
    wrong_proofs = [[*proof, bytes(32)], [bytes(32), *proof]]
    if proof:
        wrong_proofs.append(proof[:-1])
    for wrong in wrong_proofs:
        with pytest.raises(InvalidProof):
            merkle.verify_consistency(
                old_size=old, new_size=new, old_root=old_root, new_root=tree.root(), proof=wrong
            )


@settings(max_examples=100)
@given(tree_and_index())
def test_proofs_need_few_lookups_of_complete_nodes(case: tuple[int, int]) -> None:
    size, index = case
    _, store = build(leaves(size))
    asked: list[NodeID] = []

    def get_node(node: NodeID) -> bytes:
        # Only complete subtrees inside the tree may be asked for.
        assert node.leaves.stop <= size
        asked.append(node)
        return store[node]

    bound = 2 * max(1, math.ceil(math.log2(size)))
    merkle.inclusion_proof(index, size, get_node)
    assert asked == merkle.inclusion_proof_nodes(index, size)
    assert len(asked) <= bound
    asked.clear()
    merkle.consistency_proof(index + 1, size, get_node)
    assert asked == merkle.consistency_proof_nodes(index + 1, size)
    assert len(asked) <= bound


def test_proof_node_lists_name_the_ephemeral_cover() -> None:
    # Leaf 2 of 7: sibling 3, left subtree [0, 2), then [4, 7) = [4, 6) + [6, 7).
    assert merkle.inclusion_proof_nodes(2, 7) == [
        NodeID(0, 3),
        NodeID(1, 0),
        NodeID(1, 2),
        NodeID(0, 6),
    ]
    assert merkle.consistency_proof_nodes(4, 4) == []
    assert merkle.consistency_proof_nodes(4, 8) == [NodeID(2, 1)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: merkle.inclusion_proof(3, 3, g), "no leaf 3 in a tree of size 3"),
        (lambda g: merkle.inclusion_proof(-1, 3, g), "no leaf -1"),
        (lambda g: merkle.consistency_proof(0, 3, g), "from the empty tree"),
        (lambda g: merkle.consistency_proof(4, 3, g), "from size 4 to size 3"),
        (lambda g: merkle.consistency_proof(-1, 3, g), "from size -1"),
    ],
)
def test_proof_generation_refuses_impossible_requests(call: Any, message: str) -> None:
    _, store = build(leaves(8))
    with pytest.raises(ValueError, match=message):
        call(store.__getitem__)


def test_proof_generation_refuses_a_store_returning_a_bad_hash() -> None:
    with pytest.raises(ValueError, match=r"get_node\(NodeID\(level=0, index=1\)\) is 3 bytes"):
        merkle.inclusion_proof(0, 2, lambda node: b"abc")


def test_equal_sizes_have_an_empty_consistency_proof() -> None:
    assert merkle.consistency_proof(5, 5, lambda node: pytest.fail("no lookup needed")) == []


# -- verification messages -------------------------------------------------------


def test_inclusion_failure_reasons() -> None:
    _, store = build(RFC_LEAVES)
    proof = merkle.inclusion_proof(5, 8, store.__getitem__)
    ok = {"leaf_hash": RFC_LEAVES[5], "index": 5, "size": 8, "proof": proof, "root": RFC_ROOTS[8]}
    merkle.verify_inclusion(**ok)  # type: ignore[arg-type]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"proof": proof[:2]}, "inclusion proof has 2 hashes, this tree needs 3"),
        ({"proof": [*proof, bytes(32)]}, "inclusion proof has 4 hashes, this tree needs 3"),
        ({"index": 8}, "leaf index 8 is outside a tree of size 8"),
        ({"index": -1}, "leaf index -1 is outside"),
        ({"root": RFC_ROOTS[7]}, "leads to root 5dc9da79"),
        ({"leaf_hash": b""}, "leaf hash is 0 bytes, not 32"),
        ({"root": bytes(33)}, "root hash is 33 bytes"),
        ({"proof": [proof[0], bytes(31), proof[2]]}, "inclusion proof hash 1 is 31 bytes"),
    ]
    for change, message in cases:
        with pytest.raises(InvalidProof, match=message):
            merkle.verify_inclusion(**{**ok, **change})


def test_consistency_failure_reasons() -> None:
    _, store = build(RFC_LEAVES)
    proof = merkle.consistency_proof(3, 7, store.__getitem__)
    ok = {
        "old_size": 3,
        "new_size": 7,
        "old_root": RFC_ROOTS[3],
        "new_root": RFC_ROOTS[7],
        "proof": proof,
    }
    merkle.verify_consistency(**ok)  # type: ignore[arg-type]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"proof": []}, "consistency proof has 0 hashes, this tree needs 4"),
        ({"proof": proof[:3]}, "consistency proof has 3 hashes, this tree needs 4"),
        ({"proof": [*proof, bytes(32)]}, "consistency proof has 5 hashes"),
        ({"old_root": RFC_ROOTS[2]}, "leads to old root aeb6bcfe"),
        ({"new_root": RFC_ROOTS[8]}, "leads to new root ddb89be4"),
        ({"old_size": 8}, "old tree size 8 is not within 0..new tree size 7"),
        ({"old_size": 0}, "from the empty tree proves nothing"),
        ({"old_size": 7, "old_root": RFC_ROOTS[7]}, "equal size need an empty proof"),
        ({"old_size": 7, "proof": []}, "two trees of size 7 have different roots"),
        ({"new_root": bytes(5)}, "new root hash is 5 bytes"),
        ({"proof": [bytes(1)]}, "consistency proof hash 0 is 1 bytes"),
    ]
    for change, message in cases:
        with pytest.raises(InvalidProof, match=message):
            merkle.verify_consistency(**{**ok, **change})


# -- compact range ----------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 1100), st.sets(st.integers(0, 1100), max_size=5))
def test_compact_range_root_equals_the_reference_tree_hash(size: int, probes: set[int]) -> None:
    all_leaves = leaves(size)
    tree = CompactRange()
    for n in range(size):
        if n in probes:
            assert tree.root() == merkle.root_from_leaf_hashes(all_leaves[:n])
        tree.append(all_leaves[n])
    assert tree.size == size
    assert tree.root() == merkle.root_from_leaf_hashes(all_leaves)
    assert len(tree.nodes) == size.bit_count()


@settings(max_examples=100)
@given(st.integers(1, 600))
def test_compact_range_reports_every_complete_node_once(size: int) -> None:
    all_leaves = leaves(size)
    completed = CompactRange().extend(all_leaves)
    nodes = [node for node, _ in completed]
    assert len(nodes) == len(set(nodes))
    expected = {
        NodeID(level, index) for level in range(size.bit_length()) for index in range(size >> level)
    }
    assert set(nodes) == expected
    for node, h in completed:
        leaves_of_node = all_leaves[node.leaves.start : node.leaves.stop]
        assert h == merkle.root_from_leaf_hashes(leaves_of_node)


@settings(max_examples=100)
@given(st.integers(0, 600), st.integers(0, 300))
def test_compact_range_reloads_from_stored_nodes(size: int, more: int) -> None:
    all_leaves = leaves(size + more)
    original, store = build(all_leaves[:size])
    reloaded = CompactRange.load(size, store.__getitem__)
    assert (reloaded.size, reloaded.root()) == (size, original.root())
    assert reloaded.nodes == original.nodes
    for h in all_leaves[size:]:
        assert reloaded.append(h) == original.append(h)
    assert reloaded.root() == merkle.root_from_leaf_hashes(all_leaves)


def test_compact_range_refuses_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="a tree of size 5 needs 2 hashes, got 1"):
        CompactRange.from_hashes(5, [bytes(32)])
    with pytest.raises(ValueError, match=r"hash of NodeID\(level=0, index=4\) is 2 bytes"):
        CompactRange.from_hashes(5, [bytes(32), b"ab"])
    with pytest.raises(ValueError, match="tree size -1 is negative"):
        CompactRange.nodes_for_size(-1)
    with pytest.raises(ValueError, match="leaf hash is 4 bytes"):
        CompactRange().append(b"leaf")


def test_compact_range_repr_names_size_and_root() -> None:
    tree, _ = build(RFC_LEAVES)
    assert repr(tree) == f"CompactRange(size=8, root={RFC_ROOTS[8].hex()})"
