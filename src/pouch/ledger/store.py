"""The log's storage on Pouch's database: entries, hash tiles, the checkpoint.

Tables:

- ``ledger_entries``: every entry by index, written by ``append`` in the
  caller's transaction (so an entry is durable exactly when what it records is).
- ``ledger_head``: one row, the next index to assign. ``append`` bumps it with
  ``UPDATE … RETURNING`` (on PostgreSQL the first append of a transaction; the
  others count on from it and the row gets its final value at commit); the row
  lock (PostgreSQL) or the write lock (SQLite) makes appends take turns, so
  indexes are gapless and never reused.
- ``ledger_tiles``: the hash tiles of c2sp.org/tlog-tiles, level and index,
  with their width (256 when full). Full tiles never change; the rightmost
  tile of each level is rewritten wider as the tree grows.
- ``ledger_checkpoint``: two rows. Row 1 is the latest checkpoint the log
  signed; it is only ever replaced by compare-and-swap on (size, root), in
  the same transaction that writes the tiles it commits to, so Pouch never
  signs two trees that are not consistent. Row 2 is the latest *published*
  checkpoint, the one ``/log/checkpoint`` serves and receipts carry: the same
  as row 1 when no witness policy is set, otherwise row 1's checkpoint once
  the policy's witnesses cosigned it (``witnessing`` says how it was
  published), only ever replaced by a larger one.
- ``ledger_witnesses``: each witness of the policy, the largest tree it
  cosigned (or told us of), and its latest error.
- ``ledger_witness_refusals``: every refusal or failure of a witness, kept
  as evidence; ``alarm`` marks those that only a fork or a rollback explains.
- ``ledger_openings``: the private half of each event entry (salt, event, and
  the entry's tags), with the parties the event concerns; handed to the
  parties entitled to it, never served publicly.
- ``ledger_tag_keys``: each party's tag key, the counter it applies from, and
  the party's next counter (``pouch.ledger.tags``). Bumped like the head
  row, by appends that already hold the head row, so a party's counters are
  gapless and in the order of the log.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from pouch.db import Base, UTCDateTime
from pouch.ledger.layout import TILE_HEIGHT, TILE_WIDTH, TileID, parse_tile
from pouch.ledger.merkle import HASH_SIZE, NodeID, node_hash


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerHead(Base):
    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_index: Mapped[int] = mapped_column(BigInteger)


class LedgerTile(Base):
    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Row 2 only: "unwitnessed" (no policy), "quorum", or "without-quorum".
    witnessing: Mapped[str | None] = mapped_column(String(16))


class LedgerWitness(Base):
    __tablename__ = "ledger_witnesses"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    vkey: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    cosigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class LedgerWitnessRefusal(Base):
    __tablename__ = "ledger_witness_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    witness: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    alarm: Mapped[bool] = mapped_column(Boolean, default=False)
    checkpoint: Mapped[str] = mapped_column(Text)
    response: Mapped[bytes | None] = mapped_column(LargeBinary)


class LedgerOpening(Base):
    __tablename__ = "ledger_openings"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    event: Mapped[bytes] = mapped_column(LargeBinary)  # RFC 8785 canonical JSON
    # The entry's tags, concatenated in the entry's order; NULL for a v1 entry.
    tags: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The parties the event concerns, as a JSON list of ids; NULL for a v1 entry.
    parties: Mapped[str | None] = mapped_column(Text)


class LedgerTagKey(Base):
    __tablename__ = "ledger_tag_keys"

    party: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tag_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_from: Mapped[int] = mapped_column(BigInteger)  # the counter the key applies from
    next_counter: Mapped[int] = mapped_column(BigInteger)
    # Whether the key was handed to the party: the one made at its first event is
    # not, until the party's first rotation hands it over with the new one.
    disclosed: Mapped[bool] = mapped_column(Boolean, default=False)


HEAD_ROW = 1
CHECKPOINT_ROW = 1
PUBLISHED_ROW = 2


class TileCache:
    """Full tiles never change, so any process may keep them: a bounded LRU.

    At 8 KiB a tile, the default 4,096 tiles are 32 MiB: the top levels of a
    log of a billion entries and the recent level-0 tiles.

    It also keeps, for the ``subtree_capacity`` tiles used last, the hashes
    of the complete subtrees within each tile (the Merkle levels between a
    tile's own and the next tile level), which proofs need: about 8 KiB a
    tile more, 8 MiB for the default 1,024. They are kept with the exact
    tile body they were computed from and recomputed whenever the body read
    differs, so partial tiles are served from here as safely as full ones.
    """

    def __init__(self, capacity: int = 4096, subtree_capacity: int = 1024) -> None:
        self.capacity = capacity
        self.subtree_capacity = subtree_capacity
        self._tiles: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._subtrees: OrderedDict[tuple[int, int], tuple[bytes, list[bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, level: int, index: int) -> bytes | None:
        with self._lock:
            data = self._tiles.get((level, index))
            if data is not None:
                self._tiles.move_to_end((level, index))
            return data

    def put(self, level: int, index: int, data: bytes) -> None:
        if len(data) != TILE_WIDTH * 32:
            return  # only full tiles are immutable
        with self._lock:
            self._tiles[(level, index)] = data
            self._tiles.move_to_end((level, index))
            while len(self._tiles) > self.capacity:
                self._tiles.popitem(last=False)

    def subtrees(self, level: int, index: int, data: bytes) -> list[bytes]:
        """``tile_subtrees(data)`` for the tile ``level``/``index`` whose body is ``data``."""
        key = (level, index)
        with self._lock:
            cached = self._subtrees.get(key)
            if cached is not None and cached[0] == data:
                self._subtrees.move_to_end(key)
                return cached[1]
        subtrees = tile_subtrees(data)
        with self._lock:
            self._subtrees[key] = (data, subtrees)
            self._subtrees.move_to_end(key)
            while len(self._subtrees) > self.subtree_capacity:
                self._subtrees.popitem(last=False)
        return subtrees


def tile_subtrees(data: bytes) -> list[bytes]:
    """The complete subtrees within a tile body, level by level from the tile's own.

    Item ``h`` concatenates the hashes of the complete subtrees of ``2**h``
    of the tile's hashes, from the left: ``MTH`` of hashes ``j * 2**h`` to
    ``(j + 1) * 2**h - 1`` is its ``j``-th hash. Item 0 is ``data`` itself.

    >>> from pouch.ledger.merkle import leaf_hash, root_from_leaf_hashes
    >>> hashes = [leaf_hash(bytes([i])) for i in range(5)]
    >>> levels = tile_subtrees(b"".join(hashes))
    >>> [len(level) // 32 for level in levels]
    [5, 2, 1]
    >>> levels[2] == root_from_leaf_hashes(hashes[:4])
    True
    """
    levels = [data]
    below = data
    while len(below) >= 2 * HASH_SIZE:
        below = b"".join(
            node_hash(below[i : i + HASH_SIZE], below[i + HASH_SIZE : i + 2 * HASH_SIZE])
            for i in range(0, len(below) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE)
        )
        levels.append(below)
    return levels


_TILES = cast(Table, LedgerTile.__table__)
_READ_TILE = select(_TILES.c.width, _TILES.c.data).where(
    _TILES.c.level == bindparam("level"), _TILES.c.idx == bindparam("index")
)
_READ_TILES = select(_TILES.c.idx, _TILES.c.width, _TILES.c.data).where(
    _TILES.c.level == bindparam("level"), _TILES.c.idx.in_(bindparam("indexes", expanding=True))
)


def read_tile(
    session: Session, level: int, index: int, cache: TileCache | None
) -> tuple[int, bytes] | None:
    """(width, data) of the stored tile, or None when it does not exist yet."""
    if cache is not None and (data := cache.get(level, index)) is not None:
        return TILE_WIDTH, data
    row = session.connection().execute(_READ_TILE, {"level": level, "index": index}).first()
    if row is None:
        return None
    width, data = int(row[0]), bytes(row[1])
    if cache is not None and width == TILE_WIDTH:
        cache.put(level, index, data)
    return width, data


def read_tiles(
    connection: Connection, tiles: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], tuple[int, bytes]]:
    """(width, data) of each stored tile among ``tiles`` (level, index), one query a level."""
    by_level: dict[int, list[int]] = {}
    for level, index in tiles:
        by_level.setdefault(level, []).append(index)
    found: dict[tuple[int, int], tuple[int, bytes]] = {}
    for level, indexes in by_level.items():
        for index, width, data in connection.execute(
            _READ_TILES, {"level": level, "indexes": indexes}
        ):
            found[(level, int(index))] = (int(width), bytes(data))
    return found


class TileNodeReader:
    """Serves complete-subtree hashes from the stored tiles (a ``NodeGetter``).

    Within one call it remembers the tiles it has read, so a proof that needs
    several nodes of one tile reads that tile once; the cache, if any, keeps
    the subtrees within the tiles across calls (``TileCache.subtrees``).
    """

    def __init__(self, session: Session, cache: TileCache | None) -> None:
        self._session = session
        self._cache = cache
        self._seen: dict[tuple[int, int], tuple[int, bytes]] = {}
        self._subtrees: dict[tuple[int, int], list[bytes]] = {}

    def __call__(self, node: NodeID) -> bytes:
        # As layout.tile_for_node and layout.node_hash_from_tile do, without
        # rehashing the node's subtree within the tile for every node.
        tile_level, height = divmod(node.level, TILE_HEIGHT)
        count = 1 << height
        tile_index, first = divmod(node.index << height, TILE_WIDTH)
        key = (tile_level, tile_index)
        tile = self._seen.get(key)
        if tile is None:
            tile = read_tile(self._session, tile_level, tile_index, self._cache)
            if tile is None:
                needed = TileID(tile_level, tile_index, first + count)
                raise LookupError(f"tile {needed.path} is not stored: {node!r} not integrated")
            if len(tile[1]) != tile[0] * HASH_SIZE:
                parse_tile(tile[1], TileID(tile_level, tile_index, tile[0]))  # raises
            self._seen[key] = tile
        width, data = tile
        if first + count > width:
            needed = TileID(tile_level, tile_index, first + count)
            stored = TileID(tile_level, tile_index, width)
            raise ValueError(f"{node!r} needs tile {needed.path}, {stored.path} is narrower")
        if height == 0:
            return data[first * HASH_SIZE : (first + 1) * HASH_SIZE]
        subtrees = self._subtrees.get(key)
        if subtrees is None:
            if self._cache is not None:
                subtrees = self._cache.subtrees(tile_level, tile_index, data)
            else:
                subtrees = tile_subtrees(data)
            self._subtrees[key] = subtrees
        position = first >> height
        return subtrees[height][position * HASH_SIZE : (position + 1) * HASH_SIZE]
