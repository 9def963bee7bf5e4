"""The database: engine, sessions, and one transaction per request or command.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``, so a
commit is on disk when it returns. pysqlite's own transaction handling is
switched off and Pouch emits ``BEGIN`` itself: that makes savepoints work and
lets a writing unit of work take SQLite's write lock up front (``BEGIN
IMMEDIATE``) instead of failing to upgrade a read lock under contention.
PostgreSQL is reached with psycopg 3.

Services never commit. ``Database.transaction()`` is the unit of work: it
commits when the block ends normally and rolls back on any exception.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so that Alembic migrations are the same on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every table; each capability declares its own models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zone type; PostgreSQL's ``timestamptz`` does. Both give
    back an aware UTC datetime, and a naive datetime is refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Pouch stores only timezone-aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def referring_rows(session: Session, table: Table, key: object) -> dict[str, int]:
    """How many rows of each table still refer to the row ``key`` of ``table`` through a
    foreign key that forbids deleting it (not ``ON DELETE CASCADE`` or ``SET NULL``).

    Read from the tables' metadata, so that a domain can refuse to delete what other
    domains refer to, and say what, without knowing them.
    """
    found: dict[str, int] = {}
    for other in Base.metadata.sorted_tables:
        for constraint in other.foreign_key_constraints:
            if constraint.referred_table is not table:
                continue
            if (constraint.ondelete or "").upper() in ("CASCADE", "SET NULL"):
                continue
            (column,) = constraint.columns
            count = session.scalar(select(func.count()).select_from(other).where(column == key))
            if count:
                found[other.name] = found.get(other.name, 0) + int(count)
    return found


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def create_database_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``, with Pouch's SQLite pragmas when it is SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True)

    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": 30},
        # An in-memory database lives in one connection; share it.
        poolclass=StaticPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Pouch issues BEGIN itself (see _sqlite_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class WriterTurns:
    """Writers of a SQLite file take turns across processes, in the kernel's order.

    SQLite lets one writer in at a time; another connection that finds the lock
    taken sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms … 100 ms) and
    tries again, so a writer of another process can wait for seconds behind a
    busy group committer. An exclusive ``flock`` on a file beside the database,
    taken before ``BEGIN IMMEDIATE`` and released after the commit, hands the
    lock over instead: a waiting writer wakes when it is released. Re-entrant
    per thread, so that a write transaction opened inside another one fails as
    it always did (SQLite's busy timeout) rather than waiting forever.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held = threading.local()

    @contextmanager
    def turn(self) -> Iterator[None]:
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # released when the descriptor closes
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0
        finally:
            os.close(descriptor)


#: Told of every finished transaction: whether it wrote, and how long it held the
#: database (seconds, from taking the writers' turn to the commit or rollback).
TransactionObserver = Callable[[bool, float], None]


class Database:
    """An engine and its session factory: the one way Pouch opens a transaction."""

    def __init__(self, engine: Engine, *, bind: Connection | None = None) -> None:
        self.engine = engine
        # Who wants to know how long transactions hold the database: /metrics, and
        # the tests, which fail a test that holds a write transaction too long.
        self.observers: list[TransactionObserver] = []
        # Write transactions on a SQLite file take turns across processes
        # (``pouch serve --workers``, ``pouch language work``, the CLI).
        database = engine.url.database or ""
        self.writer_turns = (
            WriterTurns(Path(database + "-writers"))
            if bind is None and engine.dialect.name == "sqlite" and database not in ("", ":memory:")
            else None
        )
        # Tests bind sessions to one connection inside an outer transaction that
        # they roll back; a session's commit then only releases a savepoint.
        if bind is not None:
            self._sessions = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
        else:
            self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_database_engine(url))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work: commit at the end of the block, roll back on error.

        ``write=True`` takes SQLite's write lock at BEGIN so that concurrent
        writers queue (busy_timeout) instead of failing on lock upgrade.
        """
        turns = self.writer_turns
        with turns.turn() if write and turns is not None else contextlib.nullcontext():
            started = time.monotonic()
            session = self._sessions()
            try:
                if write and self.backend == "sqlite":
                    session.connection(execution_options={"sqlite_immediate": True})
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
                held = time.monotonic() - started
                for observer in self.observers:
                    observer(write, held)

    def dispose(self) -> None:
        self.engine.dispose()


def utcnow() -> datetime:
    """The current time in UTC; services take a clock instead of calling this."""
    return datetime.now(UTC)
