"""The log's storage on Pouch's database: entries, hash tiles, the checkpoint.

Tables:

- ``ledger_entries``: every entry by index, written by ``append`` in the
  caller's transaction (so an entry is durable exactly when what it records is).
- ``ledger_head``: one row, the next index to assign. ``append`` bumps it with
  ``UPDATE … RETURNING``; the row lock (PostgreSQL) or the write lock (SQLite)
  makes appends take turns, so indexes are gapless and never reused.
- ``ledger_tiles``: the hash tiles of c2sp.org/tlog-tiles, level and index,
  with their width (256 when full). Full tiles never change; the rightmost
  tile of each level is rewritten wider as the tree grows.
- ``ledger_checkpoint``: one row, the latest signed checkpoint. It is only
  ever replaced by compare-and-swap on (size, root), in the same transaction
  that writes the tiles it commits to, so Pouch never signs two trees that
  are not consistent.
- ``ledger_openings``: the private half of each event entry (salt and event),
  handed to the parties entitled to it; never served publicly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from pouch.db import Base, UTCDateTime
from pouch.ledger.layout import TILE_WIDTH, TileID, node_hash_from_tile, tile_for_node
from pouch.ledger.merkle import NodeID


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


class LedgerOpening(Base):
    __tablename__ = "ledger_openings"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    event: Mapped[bytes] = mapped_column(LargeBinary)  # RFC 8785 canonical JSON


HEAD_ROW = 1
CHECKPOINT_ROW = 1


class TileCache:
    """Full tiles never change, so any process may keep them: a bounded LRU.

    At 8 KiB a tile, the default 4,096 tiles are 32 MiB: the top levels of a
    log of a billion entries and the recent level-0 tiles.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._tiles: OrderedDict[tuple[int, int], bytes] = OrderedDict()
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


def read_tile(
    session: Session, level: int, index: int, cache: TileCache | None
) -> tuple[int, bytes] | None:
    """(width, data) of the stored tile, or None when it does not exist yet."""
    if cache is not None and (data := cache.get(level, index)) is not None:
        return TILE_WIDTH, data
    row = session.execute(
        select(LedgerTile.width, LedgerTile.data).where(
            LedgerTile.level == level, LedgerTile.idx == index
        )
    ).first()
    if row is None:
        return None
    width, data = row
    if cache is not None and width == TILE_WIDTH:
        cache.put(level, index, data)
    return int(width), bytes(data)


class TileNodeReader:
    """Serves complete-subtree hashes from the stored tiles (a ``NodeGetter``).

    Within one call it remembers the tiles it has read, so a proof that needs
    several nodes of one tile reads that tile once.
    """

    def __init__(self, session: Session, cache: TileCache | None) -> None:
        self._session = session
        self._cache = cache
        self._seen: dict[tuple[int, int], tuple[int, bytes]] = {}

    def __call__(self, node: NodeID) -> bytes:
        where = tile_for_node(node)
        key = (where.tile.level, where.tile.index)
        tile = self._seen.get(key)
        if tile is None:
            tile = read_tile(self._session, key[0], key[1], self._cache)
            if tile is None:
                raise LookupError(f"tile {where.tile.path} is not stored: {node!r} not integrated")
            self._seen[key] = tile
        width, data = tile
        return node_hash_from_tile(TileID(key[0], key[1], width), data, node)
