"""The c2sp.org/tlog-tiles layout: tiles, entry bundles and their paths.

Sections followed (c2sp.org/tlog-tiles):

- "Merkle Tree": a tile is up to 256 consecutive hashes of one Merkle level;
  the level-``L`` tile ``N`` holds the hashes at Merkle level ``8 * L`` with
  indexes ``N * 256`` to ``N * 256 + 255``, as concatenated 32-byte values.
  A full tile is 8,192 bytes.
- "Partial Tiles": the rightmost tile of a level holds
  ``floor(size / 256**L) mod 256`` hashes and is addressed with a ``.p/<W>``
  suffix; an empty tile does not exist.
- Paths ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``: ``L`` in
  0..63 and ``W`` in 1..255 without leading zeros, ``N`` in zero-padded
  groups of three digits, each but the last prefixed with ``x``.
- "Log entries": an entry bundle is a sequence of big-endian uint16
  length-prefixed entries, the entry ``i`` of the bundle hashing to the hash
  ``i`` of the level-0 tile with the same index.

Parsing is strict: a path is accepted only in the one form ``TileID.path``
writes, so that one resource never has two names.

>>> TileID(level=0, index=1234067).path
'tile/0/x001/x234/067'
>>> TileID(level=1, index=5, width=17).path
'tile/1/005.p/17'
>>> BundleID(index=1000, width=3).path
'tile/entries/x001/000.p/3'
>>> parse_path("tile/2/x001/x234/067.p/8")
TileID(level=2, index=1234067, width=8)
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pouch.ledger.errors import MalformedBundle, MalformedTile
from pouch.ledger.merkle import HASH_SIZE, NodeID, leaf_hash, root_from_leaf_hashes

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "BundleID",
    "NodeInTile",
    "TileID",
    "bundles_for_size",
    "encode_bundle",
    "encode_tile",
    "format_index",
    "new_bundles",
    "new_tiles",
    "node_hash_from_tile",
    "parse_bundle",
    "parse_path",
    "parse_tile",
    "partial_width",
    "tile_for_node",
    "tiles_for_size",
    "verify_bundle",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
# Tree sizes are uint64 in every C2SP format, so no tile index reaches this.
_INDEX_LIMIT = 1 << 64

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def _check_coordinates(index: int, width: int) -> None:
    if not 0 <= index < _INDEX_LIMIT:
        raise ValueError(f"tile index {index} is outside 0..2^64-1")
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} is outside 1..{TILE_WIDTH}")


@dataclass(frozen=True, order=True)
class TileID:
    """The level-``level`` Merkle tile number ``index``, ``width`` hashes wide."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise ValueError(f"tile level {self.level} is outside 0..{MAX_TILE_LEVEL}")
        _check_coordinates(self.index, self.width)

    @property
    def path(self) -> str:
        """The path below the log prefix, e.g. ``tile/0/x001/234.p/5``."""
        return f"tile/{self.level}/{_format_index_width(self.index, self.width)}"

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def nodes(self) -> list[NodeID]:
        """The Merkle nodes whose hashes the tile holds, in order.

        >>> TileID(level=1, index=2, width=2).nodes
        [NodeID(level=8, index=512), NodeID(level=8, index=513)]
        """
        first = self.index * TILE_WIDTH
        return [NodeID(TILE_HEIGHT * self.level, first + i) for i in range(self.width)]


@dataclass(frozen=True, order=True)
class BundleID:
    """The entry bundle number ``index``, holding ``width`` entries."""

    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        _check_coordinates(self.index, self.width)

    @property
    def path(self) -> str:
        """The path below the log prefix, e.g. ``tile/entries/x001/234``."""
        return f"tile/entries/{_format_index_width(self.index, self.width)}"

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def entries(self) -> range:
        """The indexes, in the log, of the entries the bundle holds.

        >>> BundleID(index=2, width=3).entries
        range(512, 515)
        """
        first = self.index * TILE_WIDTH
        return range(first, first + self.width)


def format_index(index: int) -> str:
    """Encode a tile index as tlog-tiles path elements.

    >>> format_index(1234067)
    'x001/x234/067'
    >>> format_index(0)
    '000'
    """
    if index < 0:
        raise ValueError(f"tile index {index} is negative")
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index > 0:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(elements))


def _format_index_width(index: int, width: int) -> str:
    suffix = f".p/{width}" if width < TILE_WIDTH else ""
    return format_index(index) + suffix


def parse_path(path: str) -> TileID | BundleID:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` strictly.

    >>> parse_path("tile/entries/x001/000")
    BundleID(index=1000, width=256)
    >>> parse_path("tile/0/x000/001")
    Traceback (most recent call last):
        ...
    pouch.ledger.errors.MalformedTile: tile path 'tile/0/x000/001': index starts with a superfluous element 'x000'
    """  # noqa: E501
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise MalformedTile(f"tile path {path!r}: not of the form tile/<L>/<N> or tile/entries/<N>")

    def fail(problem: str) -> MalformedTile:
        return MalformedTile(f"tile path {path!r}: {problem}")

    kind, elements = parts[1], parts[2:]
    width = TILE_WIDTH
    if len(elements) >= 2 and elements[-2].endswith(".p"):
        width = _parse_small_decimal(elements[-1], "width", 1, TILE_WIDTH - 1, fail)
        elements = [*elements[:-2], elements[-2].removesuffix(".p")]
    for i, element in enumerate(elements):
        last = i == len(elements) - 1
        if last and element.startswith("x"):
            raise fail(f"last index element {element!r} must not start with 'x'")
        digits = element if last else element.removeprefix("x")
        if not last and not element.startswith("x"):
            raise fail(f"index element {element!r} must start with 'x' (all but the last do)")
        if not re.fullmatch(r"[0-9]{3}", digits):
            raise fail(f"index element {element!r} is not three decimal digits")
    if len(elements) > 1 and elements[0] == "x000":
        raise fail("index starts with a superfluous element 'x000'")
    index = int("".join(e.removeprefix("x") for e in elements))
    if index >= _INDEX_LIMIT:
        raise fail(f"index {index} exceeds 2^64 - 1")
    if kind == "entries":
        return BundleID(index, width)
    level = _parse_small_decimal(kind, "level", 0, MAX_TILE_LEVEL, fail)
    return TileID(level, index, width)


def _parse_small_decimal(
    text: str, what: str, low: int, high: int, fail: Callable[[str], MalformedTile]
) -> int:
    if not _DECIMAL.fullmatch(text):
        if re.fullmatch(r"[0-9]+", text):
            raise fail(f"{what} {text!r} has a leading zero")
        raise fail(f"{what} {text!r} is not a decimal number")
    if len(text) > 3 or not low <= int(text) <= high:
        raise fail(f"{what} {text} is outside {low}..{high}")
    return int(text)


# -- which tiles a tree has ------------------------------------------------------


def partial_width(level: int, size: int) -> int:
    """How many hashes the rightmost level-``level`` tile of a tree holds.

    Zero means that tile does not exist (every tile of the level is full).

    >>> partial_width(0, 70_000), partial_width(1, 70_000), partial_width(2, 70_000)
    (112, 17, 1)
    """
    return (size >> (TILE_HEIGHT * level)) % TILE_WIDTH


def new_tiles(old_size: int, new_size: int) -> list[TileID]:
    """The tiles to write when the tree grows from ``old_size`` to ``new_size``.

    Every tile that is new or wider at ``new_size``: the tiles completed on
    the way (full), then the partial tile at ``new_size``, level by level.

    >>> [t.path for t in new_tiles(250, 260)]
    ['tile/0/000', 'tile/0/001.p/4', 'tile/1/000.p/1']
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"a tree cannot grow from size {old_size} to {new_size}")
    tiles = []
    level = 0
    while new_size >> (TILE_HEIGHT * level):
        old_n = old_size >> (TILE_HEIGHT * level)
        new_n = new_size >> (TILE_HEIGHT * level)
        if old_n != new_n:
            for index in range(old_n // TILE_WIDTH, new_n // TILE_WIDTH):
                tiles.append(TileID(level, index))
            if width := new_n % TILE_WIDTH:
                tiles.append(TileID(level, new_n // TILE_WIDTH, width))
        level += 1
    return tiles


def tiles_for_size(size: int) -> list[TileID]:
    """Every tile of a tree of ``size`` leaves, full and partial.

    The tlog-tiles example: a tree of 70,000 leaves has 273 full level-0
    tiles and these others.

    >>> [t.path for t in tiles_for_size(70_000) if t.level > 0 or t.is_partial]
    ['tile/0/273.p/112', 'tile/1/000', 'tile/1/001.p/17', 'tile/2/000.p/1']
    >>> [t.path for t in tiles_for_size(256)]
    ['tile/0/000', 'tile/1/000.p/1']
    """
    return new_tiles(0, size)


def new_bundles(old_size: int, new_size: int) -> list[BundleID]:
    """The entry bundles to write when the log grows from ``old_size`` to ``new_size``.

    >>> [b.path for b in new_bundles(250, 260)]
    ['tile/entries/000', 'tile/entries/001.p/4']
    """
    return [BundleID(t.index, t.width) for t in new_tiles(old_size, new_size) if t.level == 0]


def bundles_for_size(size: int) -> list[BundleID]:
    """Every entry bundle of a log of ``size`` entries, in order.

    >>> [b.path for b in bundles_for_size(513)]
    ['tile/entries/000', 'tile/entries/001', 'tile/entries/002.p/1']
    """
    return new_bundles(0, size)


# -- hashes in tiles -------------------------------------------------------------


@dataclass(frozen=True)
class NodeInTile:
    """Where a complete subtree's hash is found: ``count`` hashes of ``tile``.

    The node is the Merkle Tree Hash of ``tile``'s hashes
    ``first .. first + count - 1`` (one hash when the node's level is a
    multiple of 8). ``tile`` is the narrowest tile holding them.
    """

    tile: TileID
    first: int
    count: int


def tile_for_node(node: NodeID) -> NodeInTile:
    """Which tile holds the hash of ``node``, or the hashes it is made of.

    >>> tile_for_node(NodeID(level=0, index=1000))
    NodeInTile(tile=TileID(level=0, index=3, width=233), first=232, count=1)
    >>> tile_for_node(NodeID(level=11, index=5))
    NodeInTile(tile=TileID(level=1, index=0, width=48), first=40, count=8)
    """
    tile_level, height = divmod(node.level, TILE_HEIGHT)
    # The node's leftmost descendant on the tile's level, and how many there are.
    start = node.index << height
    count = 1 << height
    tile_index, first = divmod(start, TILE_WIDTH)
    return NodeInTile(TileID(tile_level, tile_index, first + count), first, count)


def node_hash_from_tile(tile: TileID, data: bytes, node: NodeID) -> bytes:
    """The hash of ``node``, read from (or rebuilt within) ``tile``'s ``data``.

    ``tile`` may be any tile at least as wide as ``tile_for_node`` says.
    """
    hashes = parse_tile(data, tile)
    where = tile_for_node(node)
    if (where.tile.level, where.tile.index) != (tile.level, tile.index):
        raise ValueError(f"{node!r} is in tile {where.tile.path}, not {tile.path}")
    if where.tile.width > tile.width:
        raise ValueError(f"{node!r} needs tile {where.tile.path}, {tile.path} is narrower")
    return root_from_leaf_hashes(hashes[where.first : where.first + where.count])


def encode_tile(hashes: Sequence[bytes]) -> bytes:
    """A tile's body: its 1 to 256 hashes concatenated."""
    if not 1 <= len(hashes) <= TILE_WIDTH:
        raise ValueError(f"a tile holds 1 to {TILE_WIDTH} hashes, not {len(hashes)}")
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"tile hash {i} is {len(h)} bytes, not {HASH_SIZE}")
    return b"".join(hashes)


def parse_tile(data: bytes, tile: TileID) -> list[bytes]:
    """Split a tile's body into its hashes, checking its length against ``tile``.

    >>> parse_tile(bytes(64), TileID(level=0, index=0, width=2)) == [bytes(32)] * 2
    True
    """
    if len(data) != tile.width * HASH_SIZE:
        raise MalformedTile(
            f"tile {tile.path}: {len(data)} bytes, expected {tile.width} hashes of "
            f"{HASH_SIZE} bytes ({tile.width * HASH_SIZE})"
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


# -- entry bundles ---------------------------------------------------------------

_LENGTH = struct.Struct(">H")


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle's body: each entry prefixed with its uint16 length.

    >>> encode_bundle([b"", b"ab"]).hex()
    '000000026162'
    """
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    parts = []
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(
                f"entry {i} is {len(entry)} bytes; an entry bundle holds at most {MAX_ENTRY_SIZE}"
            )
        parts.append(_LENGTH.pack(len(entry)))
        parts.append(entry)
    return b"".join(parts)


def parse_bundle(data: bytes, bundle: BundleID | None = None) -> list[bytes]:
    """Split an entry bundle into its entries.

    With ``bundle``, the body must hold exactly ``bundle.width`` entries.

    >>> parse_bundle(bytes.fromhex("000000026162"))
    [b'', b'ab']
    >>> parse_bundle(bytes.fromhex("0003616263ff"))
    Traceback (most recent call last):
        ...
    pouch.ledger.errors.MalformedBundle: entry bundle: entry 1 at byte 5: length prefix cut short after 1 of 2 bytes
    """  # noqa: E501
    name = f"entry bundle {bundle.path}" if bundle else "entry bundle"
    limit = bundle.width if bundle else TILE_WIDTH
    if not data:
        raise MalformedBundle(f"{name}: empty (an empty bundle is never served)")
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(entries) == limit:
            raise MalformedBundle(
                f"{name}: {len(data) - offset} trailing bytes after {limit} entries"
            )
        where = f"{name}: entry {len(entries)} at byte {offset}"
        if offset + _LENGTH.size > len(data):
            raise MalformedBundle(
                f"{where}: length prefix cut short after {len(data) - offset} of 2 bytes"
            )
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if offset + length > len(data):
            raise MalformedBundle(
                f"{where}: declares {length} bytes, only {len(data) - offset} remain"
            )
        entries.append(data[offset : offset + length])
        offset += length
    if bundle and len(entries) != bundle.width:
        raise MalformedBundle(f"{name}: holds {len(entries)} entries, expected {bundle.width}")
    return entries


def verify_bundle(entries: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> None:
    """Check that each entry hashes to the same position of its level-0 tile."""
    if len(entries) != len(leaf_hashes):
        raise MalformedBundle(
            f"entry bundle holds {len(entries)} entries, its tile {len(leaf_hashes)} hashes"
        )
    for i, (entry, expected) in enumerate(zip(entries, leaf_hashes, strict=True)):
        if leaf_hash(entry) != expected:
            raise MalformedBundle(f"entry {i} of the bundle does not hash to hash {i} of its tile")
