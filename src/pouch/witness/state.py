"""The witness's own state: one SQLite file, in WAL mode, on the witness's machine.

Tables:

- ``checkpoints``: per origin, the latest checkpoint this witness cosigned:
  its size and root, the note exactly as served to monitors (the log's
  verified signatures and this witness's cosignature) and when. It is only
  ever replaced through ``advance``, a compare-and-swap under SQLite's write
  lock (``BEGIN IMMEDIATE``): read, check, write and commit happen with no
  other writer in between, across threads and processes. That closes the
  rollback race of c2sp.org/tlog-witness, and ``advance`` itself refuses to
  store a smaller tree or another tree of the same size.
- ``refusals``: requests refused after the log's signature verified (an old
  size the witness did not cosign, a failed consistency proof, another tree
  of a cosigned size), kept as evidence of a log's misbehaviour with the
  exact request body. One row per origin, status and checkpoint text: a
  repeat only counts (``count``, ``last_seen``), so replaying a public
  checkpoint cannot fill the disk.

Sizes are stored as decimal text: a tree size is a uint64, SQLite's INTEGER a
signed int64.

Exceptions::

    StateUnusable          the file cannot be a witness state (missing, not
                           SQLite, another schema): fix the command line
    StateUnavailable       SQLite failed to read or write (a full disk, an I/O
    │                      error): nothing was changed; retry
    └── StateBusy          another writer held the lock past the timeout
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pouch.witness.protocol import origin_hash

__all__ = [
    "CosignedCheckpoint",
    "Refusal",
    "StateBusy",
    "StateUnavailable",
    "StateUnusable",
    "WitnessState",
]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin TEXT PRIMARY KEY,
    origin_hash TEXT NOT NULL UNIQUE,
    size TEXT NOT NULL,
    root BLOB NOT NULL,
    note BLOB NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    checkpoint_hash BLOB NOT NULL,
    body BLOB NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,
    UNIQUE (origin, status, checkpoint_hash)
);
"""


class StateUnavailable(Exception):
    """SQLite could not read or write the witness state; nothing was changed."""


class StateBusy(StateUnavailable):
    """Another writer held the witness state longer than the busy timeout."""


class StateUnusable(Exception):
    """The state file is missing, not an SQLite database, or not a witness's."""


@dataclass(frozen=True)
class CosignedCheckpoint:
    """The latest checkpoint of a log this witness cosigned."""

    origin: str
    size: int
    root: bytes
    note: bytes  # the log's signature(s) and this witness's cosignature
    cosigned_at: int  # POSIX seconds


@dataclass(frozen=True)
class Refusal:
    """A refused request whose log signature verified, kept as evidence."""

    id: int
    origin: str
    status: int
    reason: str
    body: bytes  # the request body, byte for byte
    first_seen: int
    last_seen: int
    count: int


class WitnessState:
    """The witness's SQLite file. Each call opens its own connection, so one
    instance serves any number of threads; processes share the file."""

    def __init__(self, path: Path, *, create: bool = True, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        if not create and not path.is_file():
            raise StateUnusable(f"{path}: no witness state here")
        try:
            with self._connect() as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    raise StateUnusable(f"{path}: witness state of schema {version}, not 1")
                if version == 0:
                    if not create:
                        raise StateUnusable(f"{path}: not a witness state")
                    connection.executescript(
                        f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
                    )
        except sqlite3.DatabaseError as error:
            raise StateUnusable(f"{path}: {error}") from None

    def _connect(self) -> _Closing:
        try:
            connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None
            )
        except sqlite3.OperationalError as error:
            raise StateUnusable(f"{self.path}: {error}") from None
        # Cosignatures are promises: one answered 200 must survive a power cut.
        connection.execute("PRAGMA synchronous=FULL")
        return _Closing(connection)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as connection:
            try:
                yield connection
            except sqlite3.DatabaseError as error:
                raise StateUnavailable(f"witness state cannot be read: {error}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from its first statement."""
        with self._connect() as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise StateBusy(f"witness state is busy: {error}") from None
            except sqlite3.DatabaseError as error:
                raise StateUnavailable(f"witness state cannot be written: {error}") from None
            try:
                yield connection
                connection.execute("COMMIT")
            except sqlite3.DatabaseError as error:
                _rollback(connection)
                raise StateUnavailable(f"witness state cannot be written: {error}") from None
            except BaseException:
                _rollback(connection)
                raise

    # -- checkpoints -------------------------------------------------------------

    def latest(self, origin: str) -> CosignedCheckpoint | None:
        """The latest checkpoint of ``origin`` this witness cosigned, if any."""
        with self._read() as connection:
            return _latest(connection, origin)

    def latest_by_hash(self, digest: str) -> CosignedCheckpoint | None:
        """The same, found by the lowercase hex SHA-256 of the origin (the monitoring path)."""
        with self._read() as connection:
            row = connection.execute(
                "SELECT origin, size, root, note, cosigned_at FROM checkpoints "
                "WHERE origin_hash = ?",
                (digest,),
            ).fetchone()
        return None if row is None else _cosigned(row)

    def all_latest(self) -> list[CosignedCheckpoint]:
        """Every log's latest cosigned checkpoint, by origin."""
        with self._read() as connection:
            rows = connection.execute(
                "SELECT origin, size, root, note, cosigned_at FROM checkpoints ORDER BY origin"
            ).fetchall()
        return [_cosigned(row) for row in rows]

    def advance(
        self,
        origin: str,
        update: Callable[[CosignedCheckpoint | None], CosignedCheckpoint],
    ) -> CosignedCheckpoint:
        """Compare-and-swap the latest cosigned checkpoint of ``origin``.

        ``update`` gets the stored checkpoint (None if never cosigned), checks
        the request against it and returns the checkpoint to store, or raises
        to change nothing. It runs under the write lock, so it must be quick
        (verifying a proof and signing are): no network, no waiting.
        """
        with self._write() as connection:
            current = _latest(connection, origin)
            new = update(current)
            # The last line of defence; ``update`` already refused these.
            if new.origin != origin:
                raise ValueError(f"checkpoint of {new.origin!r} stored as {origin!r}")
            if current is not None and (
                new.size < current.size or (new.size == current.size and new.root != current.root)
            ):
                raise ValueError(
                    f"refusing to replace the cosigned tree of size {current.size} of "
                    f"{origin!r} by another of size {new.size}"
                )
            connection.execute(
                "INSERT INTO checkpoints (origin, origin_hash, size, root, note, cosigned_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                "size = excluded.size, root = excluded.root, note = excluded.note, "
                "cosigned_at = excluded.cosigned_at",
                (origin, origin_hash(origin), str(new.size), new.root, new.note, new.cosigned_at),
            )
        # Committed: a cosignature may now be handed out.
        return new

    # -- refusals ----------------------------------------------------------------

    def record_refusal(
        self,
        *,
        origin: str,
        status: int,
        reason: str,
        checkpoint_text: str,
        body: bytes,
        now: int,
    ) -> None:
        """Keep a refused request as evidence; a repeat of the same checkpoint only counts."""
        digest = hashlib.sha256(checkpoint_text.encode()).digest()
        with self._write() as connection:
            connection.execute(
                "INSERT INTO refusals (origin, status, reason, checkpoint_hash, body, "
                "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (origin, status, checkpoint_hash) DO UPDATE SET "
                "count = count + 1, last_seen = excluded.last_seen",
                (origin, status, reason, digest, body, now, now),
            )

    def refusal_count(self) -> int:
        """How many distinct refusals are kept."""
        with self._read() as connection:
            count: int = connection.execute("SELECT count(*) FROM refusals").fetchone()[0]
        return count

    def refusals(self, *, limit: int = 10) -> list[Refusal]:
        """The refusals seen most recently, newest first."""
        with self._read() as connection:
            rows = connection.execute(
                "SELECT id, origin, status, reason, body, first_seen, last_seen, count "
                "FROM refusals ORDER BY last_seen DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Refusal(*row) for row in rows]

    def refusal(self, refusal_id: int) -> Refusal | None:
        with self._read() as connection:
            row = connection.execute(
                "SELECT id, origin, status, reason, body, first_seen, last_seen, count "
                "FROM refusals WHERE id = ?",
                (refusal_id,),
            ).fetchone()
        return None if row is None else Refusal(*row)


def _rollback(connection: sqlite3.Connection) -> None:
    # After some errors (a full disk) SQLite has already rolled back by itself.
    if connection.in_transaction:
        connection.execute("ROLLBACK")


class _Closing:
    """A connection closed on leaving ``with`` (sqlite3's own only ends a transaction)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> sqlite3.Connection:
        return self._connection

    def __exit__(self, *exc: object) -> None:
        self._connection.close()


def _latest(connection: sqlite3.Connection, origin: str) -> CosignedCheckpoint | None:
    row = connection.execute(
        "SELECT origin, size, root, note, cosigned_at FROM checkpoints WHERE origin = ?",
        (origin,),
    ).fetchone()
    return None if row is None else _cosigned(row)


def _cosigned(row: tuple[str, str, bytes, bytes, int]) -> CosignedCheckpoint:
    origin, size, root, note, cosigned_at = row
    return CosignedCheckpoint(origin, int(size), bytes(root), bytes(note), cosigned_at)
