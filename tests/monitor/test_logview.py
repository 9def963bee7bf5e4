"""The monitor's view of the log, extended poll by poll, against a log held in memory
(tiles and bundles built here, independently of the sequencer): each poll reads only
what was added, checks every tile it completes and the new partial ones, and refuses
a rollback, a second tree of one size, a failed consistency proof, entries that do not
hash to the checkpoint, a partial bundle whose older entries changed, a malformed or
missing tile, and a checkpoint not signed by the key or without the policy's quorum."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
from pouch.ledger.layout import TILE_HEIGHT, encode_bundle, encode_tile, new_bundles, new_tiles
from pouch.ledger.merkle import (
    NodeID,
    consistency_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
)
from pouch.ledger.note import CosignatureSigner, Ed25519Signer, add_signatures, generate_key
from pouch.ledger.policy import Policy
from pouch.monitor.logview import LogProblem, LogView, Poll, advance

ORIGIN = "test.example/log"


class MemoryLog:
    """A tiles log in memory, served as a ``TileSource``; it may be made to lie."""

    def __init__(self, signer: Ed25519Signer) -> None:
        self.signer = signer
        self.entries: list[bytes] = []
        self.hashes: list[bytes] = []
        self.files: dict[str, bytes] = {}
        self.reads: list[str] = []
        self.nodes: dict[NodeID, bytes] = {}

    def read(self, path: str) -> bytes | None:
        self.reads.append(path)
        return self.files.get(path)

    def leaves(self) -> list[bytes]:
        return self.hashes

    def node(self, node: NodeID) -> bytes:
        if node.level == 0:
            return self.hashes[node.index]
        if node not in self.nodes:
            left = self.node(NodeID(node.level - 1, node.index * 2))
            right = self.node(NodeID(node.level - 1, node.index * 2 + 1))
            self.nodes[node] = node_hash(left, right)
        return self.nodes[node]

    def grow(self, count: int) -> None:
        """Append ``count`` entries and publish every tile, bundle and the checkpoint."""
        start = len(self.entries)
        self.entries += [f"entry {i}".encode() for i in range(start, start + count)]
        self.hashes += [leaf_hash(e) for e in self.entries[start:]]
        size = len(self.entries)
        for tile in new_tiles(start, size):
            level = tile.level * TILE_HEIGHT
            first = tile.index * 256
            self.files[tile.path] = encode_tile(
                [self.node(NodeID(level, first + i)) for i in range(tile.width)]
            )
        for bundle in new_bundles(start, size):
            self.files[bundle.path] = encode_bundle([self.entries[i] for i in bundle.entries])
        self.files["checkpoint"] = self.checkpoint(size)

    def checkpoint(self, size: int, root: bytes | None = None) -> bytes:
        text = Checkpoint(ORIGIN, size, root or root_from_leaf_hashes(self.leaves()[:size]))
        return sign_checkpoint(text, self.signer)

    def prove(self, old: int, new: int) -> Sequence[bytes]:
        return consistency_proof(old, new, self.node)


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer.from_skey(generate_key(ORIGIN)[0])


@pytest.fixture
def log(signer: Ed25519Signer) -> MemoryLog:
    return MemoryLog(signer)


def poll(log: MemoryLog, view: LogView, policy: Policy | None = None) -> Poll:
    log.reads.clear()
    return advance(log, view, log_key=log.signer.verifier, policy=policy, prove=log.prove)


def test_each_poll_reads_only_what_was_added_and_checks_every_tile(log: MemoryLog) -> None:
    view = LogView.empty()
    seen: list[bytes] = []
    for added in (5, 251, 44, 300, 0, 70_000 - 600):
        log.grow(added)
        before = view.size
        result = poll(log, view)
        assert result.first == before and result.entries == log.entries[before:]
        assert result.leaves == [leaf_hash(e) for e in result.entries]
        seen += result.entries
        view = result.view
        assert view.size == len(log.entries)
        # Only bundles that are new or wider are read, never one fully read before.
        for path in log.reads:
            if path.startswith("tile/entries/") and ".p/" not in path:
                index = int(path.rsplit("/", 1)[-1].lstrip("x"))
                assert index * 256 >= before - before % 256
    assert seen == log.entries
    # Every tile of the 70,000-entry tree was compared on the way: the partial ones last.
    assert set(log.reads) >= {"tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"}
    # The view survives a round trip through its JSON.
    assert LogView.from_json(view.to_json()) == view


def test_a_rollback_and_a_second_tree_of_one_size_are_alarms(log: MemoryLog) -> None:
    log.grow(10)
    view = poll(log, LogView.empty()).view
    log.grow(5)
    grown = poll(log, view).view
    # The operator serves the older checkpoint again.
    log.files["checkpoint"] = log.checkpoint(10)
    with pytest.raises(LogProblem) as rolled:
        poll(log, grown)
    assert rolled.value.alarm.kind == "rollback"
    assert rolled.value.alarm.evidence["seen_before"] == grown.note.decode()  # type: ignore[union-attr]
    # A second tree of 15 entries, signed with the log's key.
    log.files["checkpoint"] = log.checkpoint(15, root=bytes(32))
    with pytest.raises(LogProblem) as split:
        poll(log, grown)
    assert split.value.alarm.kind == "split-view"
    assert split.value.alarm.evidence["served_now"] == log.files["checkpoint"].decode()


def test_a_failed_consistency_proof_or_entries_off_the_root_are_inconsistent(
    log: MemoryLog,
) -> None:
    log.grow(10)
    view = poll(log, LogView.empty()).view
    log.grow(10)
    # A checkpoint that does not extend the one seen: the proof cannot verify.
    log.files["checkpoint"] = log.checkpoint(20, root=bytes(32))
    with pytest.raises(LogProblem) as forked:
        poll(log, view)
    assert forked.value.alarm.kind == "inconsistent"
    assert "consistency proof fails" in forked.value.alarm.summary
    # An honest checkpoint, but an entry served that is not the one it commits to.
    log.files["checkpoint"] = log.checkpoint(20)
    served = [*log.entries[:15], b"rewritten", *log.entries[16:]]
    log.files["tile/entries/000.p/20"] = encode_bundle(served)
    with pytest.raises(LogProblem) as rewritten:
        poll(log, view)
    # Its leaf hash is not the one in the tile the log serves: caught before the root.
    assert rewritten.value.alarm.kind == "log-malformed"
    assert rewritten.value.alarm.summary == (
        "tile/0/000.p/20: hash #15 is not the one recomputed from the entries"
    )
    # And were the tile rewritten too, the root would not be the checkpoint's.
    tree = [leaf_hash(e) for e in served]
    log.files["tile/0/000.p/20"] = encode_tile(tree)
    with pytest.raises(LogProblem) as off_root:
        poll(log, view)
    assert off_root.value.alarm.kind == "inconsistent"
    assert off_root.value.alarm.evidence["consistency_proof"] == "verifies"


def test_older_entries_of_a_partial_bundle_that_changed_are_refused(log: MemoryLog) -> None:
    log.grow(10)
    view = poll(log, LogView.empty()).view
    log.grow(10)
    log.files["tile/entries/000.p/20"] = encode_bundle([b"changed", *log.entries[1:]])
    with pytest.raises(LogProblem) as changed:
        poll(log, view)
    assert changed.value.alarm.kind == "log-malformed"
    assert "its first 10 entries are not the ones served at the last poll" in (
        changed.value.alarm.summary
    )


def test_a_malformed_or_missing_tile_or_bundle_is_named(log: MemoryLog) -> None:
    log.grow(300)
    good = dict(log.files)
    for path, body in (
        ("tile/0/000", bytes(8192)),
        ("tile/0/001.p/44", b"short"),
        ("tile/entries/001.p/44", b"\x00\x05ab"),
    ):
        log.files = {**good, path: body}
        with pytest.raises(LogProblem) as bad:
            poll(log, LogView.empty())
        assert bad.value.alarm.kind == "log-malformed"
        assert bad.value.alarm.evidence["path"] == path
    log.files = {k: v for k, v in good.items() if k != "tile/1/000.p/1"}
    with pytest.raises(LogProblem) as missing:
        poll(log, LogView.empty())
    assert "tile/1/000.p/1: missing" in missing.value.alarm.summary


def test_a_checkpoint_needs_the_log_s_key_and_the_policy_s_quorum(
    log: MemoryLog, signer: Ed25519Signer
) -> None:
    log.grow(3)
    other = Ed25519Signer.from_skey(generate_key(ORIGIN)[0])
    log.files["checkpoint"] = sign_checkpoint(Checkpoint(ORIGIN, 3, bytes(32)), other)
    with pytest.raises(LogProblem) as unsigned:
        poll(log, LogView.empty())
    assert unsigned.value.alarm.kind == "checkpoint-unverified"

    witness = CosignatureSigner("witness.example/w", b"w" * 32, clock=lambda: 1_790_000_000)
    policy = Policy.parse(
        f"log {signer.verifier.vkey}\nwitness w {witness.verifier.vkey}\nquorum w\n"
    )
    log.files["checkpoint"] = log.checkpoint(3)
    with pytest.raises(LogProblem) as alone:
        poll(log, LogView.empty(), policy)
    assert alone.value.alarm.kind == "checkpoint-unverified"
    assert "quorum" in alone.value.alarm.summary
    log.files["checkpoint"] = add_signatures(log.checkpoint(3), witness)
    assert poll(log, LogView.empty(), policy).view.size == 3
