"""c2sp.org/tlog-tiles: paths, which tiles a tree has, tile contents, entry bundles."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pouch.ledger import layout, merkle
from pouch.ledger.errors import InvalidProof, LedgerFormatError, MalformedBundle, MalformedTile
from pouch.ledger.layout import BundleID, TileID
from pouch.ledger.merkle import CompactRange, NodeID


def build(size: int) -> tuple[CompactRange, dict[NodeID, bytes], list[bytes]]:
    entries = [b"entry %d" % i for i in range(size)]
    tree = CompactRange()
    store = dict(tree.extend(merkle.leaf_hash(e) for e in entries))
    return tree, store, entries


def write_tiles(size: int, store: dict[NodeID, bytes]) -> dict[TileID, bytes]:
    """The tiles a log of ``size`` serves, read from the store of complete nodes."""
    return {
        tile: layout.encode_tile([store[node] for node in tile.nodes])
        for tile in layout.tiles_for_size(size)
    }


def check_tiles(size: int, root: bytes, tiles: dict[TileID, bytes]) -> None:
    """What a client does: rebuild the root from the tiles, and each full tile
    from the level below. Raises ``LedgerFormatError`` on any mismatch."""
    hashes: dict[NodeID, bytes] = {}
    for tile, data in tiles.items():
        hashes.update(zip(tile.nodes, layout.parse_tile(data, tile), strict=True))
    for tile, data in tiles.items():
        if not tile.is_partial:
            parent = NodeID(layout.TILE_HEIGHT * (tile.level + 1), tile.index)
            if merkle.root_from_leaf_hashes(layout.parse_tile(data, tile)) != hashes[parent]:
                raise MalformedTile(f"{tile.path} does not hash to its parent")
    # The root from the tiles' hashes, by the compact range of the tree size.
    cover = [hashes_for(node, hashes) for node in CompactRange.nodes_for_size(size)]
    if CompactRange.from_hashes(size, cover).root() != root:
        raise InvalidProof("tiles do not lead to the root")


def hashes_for(node: NodeID, hashes: dict[NodeID, bytes]) -> bytes:
    height = node.level % layout.TILE_HEIGHT
    stored = [
        hashes[NodeID(node.level - height, i)]
        for i in range(node.index << height, (node.index + 1) << height)
    ]
    return merkle.root_from_leaf_hashes(stored)


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# -- paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "encoded"),
    [
        (0, "000"),
        (7, "007"),
        (999, "999"),
        (1000, "x001/000"),
        (1234067, "x001/x234/067"),
        (10**9, "x001/x000/x000/000"),
        (2**64 - 1, "x018/x446/x744/x073/x709/x551/615"),
    ],
)
def test_index_encoding(index: int, encoded: str) -> None:
    assert layout.format_index(index) == encoded
    assert layout.parse_path(f"tile/3/{encoded}") == TileID(3, index)
    assert layout.parse_path(f"tile/entries/{encoded}.p/9") == BundleID(index, 9)


def test_format_index_refuses_a_negative_index() -> None:
    with pytest.raises(ValueError, match="tile index -1 is negative"):
        layout.format_index(-1)


@settings(max_examples=300)
@given(
    st.integers(0, layout.MAX_TILE_LEVEL),
    st.integers(0, 2**64 - 1) | st.integers(0, 5000),
    st.integers(1, layout.TILE_WIDTH),
)
def test_paths_round_trip(level: int, index: int, width: int) -> None:
    tile = TileID(level, index, width)
    assert layout.parse_path(tile.path) == tile
    bundle = BundleID(index, width)
    assert layout.parse_path(bundle.path) == bundle
    assert tile.path.endswith(f".p/{width}") == (width < 256) == tile.is_partial


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tile/0/x000/001", "superfluous element 'x000'"),
        ("tile/0/x000/x001/000", "superfluous element 'x000'"),
        ("tile/00/000", "level '00' has a leading zero"),
        ("tile/07/000", "level '07' has a leading zero"),
        ("tile/64/000", "level 64 is outside 0..63"),
        ("tile/-1/000", "level '-1' is not a decimal number"),
        ("tile/data/000", "level 'data' is not a decimal number"),
        ("tile/0/01", "index element '01' is not three decimal digits"),
        ("tile/0/0001", "index element '0001' is not three decimal digits"),
        ("tile/0/x1000/000", "index element 'x1000' is not three decimal digits"),
        ("tile/0/+12", "index element '+12' is not three decimal digits"),
        ("tile/0/\u0660\u0660\u0661", "is not three decimal digits"),
        ("tile/0/001/002", "index element '001' must start with 'x'"),
        ("tile/0/x001", "last index element 'x001' must not start with 'x'"),
        ("tile/0/000/", "index element '000' must start with 'x'"),
        ("tile/0/x000/", "index element '' is not three decimal digits"),
        ("tile/0/000.p/256", "width 256 is outside 1..255"),
        ("tile/0/000.p/0", "width 0 is outside 1..255"),
        ("tile/0/000.p/07", "width '07' has a leading zero"),
        ("tile/0/000.p/", "width '' is not a decimal number"),
        ("tile/0/000.p", "index element '000.p' is not three decimal digits"),
        ("tile/0/000.p/1/2", "index element '000.p' must start with 'x'"),
        ("tile/entries/x001.p/5", "last index element 'x001' must not start with 'x'"),
        ("tile/0/x018/x446/x744/x073/x709/x551/616", "exceeds 2^64 - 1"),
        ("tiles/0/000", "not of the form"),
        ("/tile/0/000", "not of the form"),
        ("tile/0", "not of the form"),
        ("tile//000", "level '' is not a decimal number"),
    ],
)
def test_non_canonical_paths_are_refused(path: str, problem: str) -> None:
    with pytest.raises(MalformedTile, match=re.escape(problem)) as raised:
        layout.parse_path(path)
    assert str(raised.value).startswith(f"tile path {path!r}: ")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TileID(64, 0), "tile level 64 is outside 0..63"),
        (lambda: TileID(0, -1), "tile index -1 is outside"),
        (lambda: TileID(0, 2**64), "tile index 18446744073709551616 is outside"),
        (lambda: TileID(0, 0, 0), "tile width 0 is outside 1..256"),
        (lambda: BundleID(0, 257), "tile width 257 is outside 1..256"),
    ],
)
def test_ids_refuse_impossible_coordinates(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


# -- which tiles a tree has -------------------------------------------------------


def test_the_spec_example_of_70000_leaves() -> None:
    tiles = layout.tiles_for_size(70_000)
    full_level_0 = [t for t in tiles if t.level == 0 and not t.is_partial]
    assert full_level_0 == [TileID(0, n) for n in range(273)]
    assert [t for t in tiles if t.level > 0 or t.is_partial] == [
        TileID(0, 273, 112),
        TileID(1, 0),
        TileID(1, 1, 17),
        TileID(2, 0, 1),
    ]


@pytest.mark.parametrize(
    ("size", "tiles"),
    [
        (0, []),
        (1, [TileID(0, 0, 1)]),
        (255, [TileID(0, 0, 255)]),
        (256, [TileID(0, 0), TileID(1, 0, 1)]),
        (257, [TileID(0, 0), TileID(0, 1, 1), TileID(1, 0, 1)]),
        (65536, [*(TileID(0, n) for n in range(256)), TileID(1, 0), TileID(2, 0, 1)]),
    ],
)
def test_tiles_of_small_trees(size: int, tiles: list[TileID]) -> None:
    assert layout.tiles_for_size(size) == tiles


@settings(max_examples=200)
@given(st.integers(0, 2**20), st.integers(0, 2**20))
def test_new_tiles_are_the_tiles_new_or_wider_at_the_new_size(a: int, b: int) -> None:
    old, new = sorted((a, b))
    before = set(layout.tiles_for_size(old))
    after = layout.tiles_for_size(new)
    assert layout.new_tiles(old, new) == [t for t in after if t not in before]
    # Each level's widths add up to the number of hashes on that level.
    for level in range(8):
        widths = sum(t.width for t in after if t.level == level)
        assert widths == new >> (8 * level)
        partial = [t for t in after if t.level == level and t.is_partial]
        assert [t.width for t in partial] == [w for w in [layout.partial_width(level, new)] if w]
    assert layout.new_bundles(old, new) == [
        BundleID(t.index, t.width) for t in layout.new_tiles(old, new) if t.level == 0
    ]
    assert layout.bundles_for_size(new) == layout.new_bundles(0, new)


def test_a_tree_cannot_shrink() -> None:
    with pytest.raises(ValueError, match="cannot grow from size 5 to 4"):
        layout.new_tiles(5, 4)


# -- tile contents ----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 1400), st.data())
def test_every_complete_node_is_found_in_its_tile(size: int, data: st.DataObject) -> None:
    _, store, _ = build(size)
    tiles = write_tiles(size, store)
    node = data.draw(st.sampled_from(sorted(store)))
    where = layout.tile_for_node(node)
    # The tree's own tile there is at least as wide as the narrowest one needed.
    served = next(t for t in tiles if (t.level, t.index) == (where.tile.level, where.tile.index))
    assert served.width >= where.tile.width
    assert layout.node_hash_from_tile(served, tiles[served], node) == store[node]
    assert (
        layout.node_hash_from_tile(where.tile, tiles[served][: where.tile.width * 32], node)
        == (store[node])
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 1400), st.data())
def test_proofs_served_from_tiles_verify(size: int, data: st.DataObject) -> None:
    tree, store, entries = build(size)
    tiles = write_tiles(size, store)
    by_position = {(t.level, t.index): t for t in tiles}
    reads: list[TileID] = []

    def get_node(node: NodeID) -> bytes:
        where = layout.tile_for_node(node)
        tile = by_position[where.tile.level, where.tile.index]
        reads.append(tile)
        return layout.node_hash_from_tile(tile, tiles[tile], node)

    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, size, get_node)
    merkle.verify_inclusion(
        leaf_hash=merkle.leaf_hash(entries[index]),
        index=index,
        size=size,
        proof=proof,
        root=tree.root(),
    )
    # Below 65536 leaves: the leaf's tile, the partial level-0 tile for the
    # right edge, and the one level-1 tile.
    assert len(set(reads)) <= 3


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1400), st.integers(min_value=0), st.data())
def test_a_flipped_bit_in_any_tile_is_detected(size: int, bit: int, data: st.DataObject) -> None:
    tree, store, _ = build(size)
    tiles = write_tiles(size, store)
    check_tiles(size, tree.root(), tiles)
    tile = data.draw(st.sampled_from(sorted(tiles)))
    tiles[tile] = flip(tiles[tile], bit)
    with pytest.raises(LedgerFormatError):
        check_tiles(size, tree.root(), tiles)


def test_level_2_tiles_of_the_spec_example() -> None:
    tree, store, _ = build(70_000)
    tiles = write_tiles(70_000, store)
    check_tiles(70_000, tree.root(), tiles)
    level_2 = layout.parse_tile(tiles[TileID(2, 0, 1)], TileID(2, 0, 1))
    assert level_2 == [store[NodeID(16, 0)]]
    level_1 = layout.parse_tile(tiles[TileID(1, 0)], TileID(1, 0))
    assert merkle.root_from_leaf_hashes(level_1) == store[NodeID(16, 0)]


def test_tile_for_node_examples() -> None:
    assert layout.tile_for_node(NodeID(8, 3)) == layout.NodeInTile(TileID(1, 0, 4), 3, 1)
    assert layout.tile_for_node(NodeID(7, 5)) == layout.NodeInTile(TileID(0, 2, 256), 128, 128)
    assert layout.tile_for_node(NodeID(16, 1)) == layout.NodeInTile(TileID(2, 0, 2), 1, 1)


def test_node_hash_from_the_wrong_tile_is_refused() -> None:
    _, store, _ = build(300)
    tiles = write_tiles(300, store)
    with pytest.raises(ValueError, match=r"is in tile tile/0/001.p/44, not tile/0/000"):
        layout.node_hash_from_tile(TileID(0, 0), tiles[TileID(0, 0)], NodeID(0, 299))
    narrow = TileID(0, 1, 2)
    with pytest.raises(
        ValueError, match=re.escape("needs tile tile/0/001.p/44, tile/0/001.p/2 is narrower")
    ):
        layout.node_hash_from_tile(narrow, tiles[TileID(0, 1, 44)][:64], NodeID(0, 299))


@pytest.mark.parametrize("length", [0, 31, 33, 8191, 8193, 64])
def test_a_tile_body_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(MalformedTile, match=rf"tile tile/0/000: {length} bytes, expected 256"):
        layout.parse_tile(bytes(length), TileID(0, 0))


def test_a_partial_tile_body_must_match_its_width() -> None:
    assert layout.parse_tile(bytes(96), TileID(1, 2, 3)) == [bytes(32)] * 3
    with pytest.raises(MalformedTile, match=r"tile/1/002.p/3: 128 bytes, expected 3 hashes"):
        layout.parse_tile(bytes(128), TileID(1, 2, 3))


@pytest.mark.parametrize(
    ("hashes", "message"),
    [
        ([], "a tile holds 1 to 256 hashes, not 0"),
        ([bytes(32)] * 257, "a tile holds 1 to 256 hashes, not 257"),
        ([bytes(32), bytes(31)], "tile hash 1 is 31 bytes"),
    ],
)
def test_encode_tile_refuses_bad_hashes(hashes: list[bytes], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        layout.encode_tile(hashes)


# -- entry bundles ----------------------------------------------------------------

ENTRY_LISTS = st.lists(st.binary(max_size=300), min_size=1, max_size=256)


@settings(max_examples=150)
@given(ENTRY_LISTS)
def test_bundles_round_trip(entries: list[bytes]) -> None:
    data = layout.encode_bundle(entries)
    assert len(data) == sum(2 + len(e) for e in entries)
    assert layout.parse_bundle(data) == entries
    assert layout.parse_bundle(data, BundleID(7, len(entries))) == entries


@settings(max_examples=300)
@given(ENTRY_LISTS, st.integers(min_value=0))
def test_a_flipped_bit_in_a_bundle_is_detected(entries: list[bytes], bit: int) -> None:
    leaf_hashes = [merkle.leaf_hash(e) for e in entries]
    flipped = flip(layout.encode_bundle(entries), bit)
    with pytest.raises(MalformedBundle):
        parsed = layout.parse_bundle(flipped, BundleID(0, len(entries)))
        layout.verify_bundle(parsed, leaf_hashes)


def test_largest_entry_and_framing() -> None:
    big = bytes(range(256)) * 255 + bytes(255)
    assert len(big) == layout.MAX_ENTRY_SIZE
    data = layout.encode_bundle([big, b"x"])
    assert data[:2] == b"\xff\xff"
    assert data[-3:] == b"\x00\x01x"
    assert layout.parse_bundle(data) == [big, b"x"]


@pytest.mark.parametrize(
    ("data", "bundle", "message"),
    [
        (b"", None, "entry bundle: empty"),
        (b"\x00", None, "entry 0 at byte 0: length prefix cut short after 1 of 2 bytes"),
        (b"\x00\x01a\x00", None, "entry 1 at byte 3: length prefix cut short after 1 of 2"),
        (b"\x00\x05abc", None, "entry 0 at byte 0: declares 5 bytes, only 3 remain"),
        (b"\x00\x01a\x00\x00", BundleID(0, 1), "entry bundle tile/entries/000.p/1: 2 trailing"),
        (b"\x00\x01a", BundleID(0, 2), "holds 1 entries, expected 2"),
        (b"\x00\x00" * 257, None, "entry bundle: 2 trailing bytes after 256 entries"),
    ],
)
def test_malformed_bundles_are_refused(data: bytes, bundle: BundleID | None, message: str) -> None:
    with pytest.raises(MalformedBundle, match=message):
        layout.parse_bundle(data, bundle)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "an entry bundle holds 1 to 256 entries, not 0"),
        ([b""] * 257, "an entry bundle holds 1 to 256 entries, not 257"),
        ([b"ok", bytes(65536)], "entry 1 is 65536 bytes; an entry bundle holds at most 65535"),
    ],
)
def test_encode_bundle_refuses_what_cannot_be_framed(entries: list[bytes], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        layout.encode_bundle(entries)


def test_verify_bundle_names_the_entry_that_differs() -> None:
    entries = [b"a", b"b", b"c"]
    hashes = [merkle.leaf_hash(e) for e in entries]
    layout.verify_bundle(entries, hashes)
    with pytest.raises(MalformedBundle, match="entry 2 of the bundle does not hash to hash 2"):
        layout.verify_bundle([b"a", b"b", b"C"], hashes)
    with pytest.raises(MalformedBundle, match="holds 2 entries, its tile 3 hashes"):
        layout.verify_bundle(entries[:2], hashes)


def test_bundle_entries_and_tile_nodes() -> None:
    assert BundleID(3, 5).entries == range(768, 773)
    assert BundleID(3).is_partial is False
    assert TileID(2, 1, 2).nodes == [NodeID(16, 256), NodeID(16, 257)]
