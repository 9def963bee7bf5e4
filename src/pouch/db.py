"""The database: engine, sessions, and one transaction per request or command.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``, so a
commit is on disk when it returns. pysqlite's own transaction handling is
switched off and Pouch emits ``BEGIN`` itself: that makes savepoints work and
lets a writing unit of work take SQLite's write lock up front (``BEGIN
IMMEDIATE``) instead of failing to upgrade a read lock under contention.
PostgreSQL is reached with psycopg 3.

Services never commit. ``Database.transaction()`` is the unit of work: it
commits when the block ends normally and rolls back on any exception.

When the database is away (PostgreSQL restarting) or its disk is full, ``outage``
names the failure as the 503 a caller sees; the pool checks each connection before
lending it (``pool_pre_ping``), so Pouch reconnects by itself once it is back.
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
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from pouch.errors import DatabaseUnavailable, PouchError, StorageFull

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


#: SQLite's primary result codes (an extended code's low byte) for a full disk, and
#: for a database it cannot use just now.
_SQLITE_FULL = {sqlite3.SQLITE_FULL}
_SQLITE_AWAY = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
}
#: PostgreSQL's SQLSTATEs for a full disk, and for a server shutting down, starting
#: up or refusing connections (with class 08, connection exceptions).
_POSTGRES_FULL = {"53100"}
_POSTGRES_AWAY = {"57P01", "57P02", "57P03", "53300"}


def outage(error: DBAPIError) -> PouchError | None:
    """The database failure ``error`` as the caller should see it when it is the
    database's condition rather than a fault of Pouch: ``StorageFull`` or
    ``DatabaseUnavailable``; None for anything else (a 500).

    >>> full = sqlite3.OperationalError("database or disk is full")
    >>> full.sqlite_errorcode = sqlite3.SQLITE_FULL
    >>> type(outage(OperationalError("COMMIT", None, full))).__name__
    'StorageFull'
    >>> typo = sqlite3.OperationalError("no such table: nowhere")
    >>> typo.sqlite_errorcode = sqlite3.SQLITE_ERROR
    >>> outage(OperationalError("SELECT", None, typo)) is None
    True
    """
    sqlite_code = getattr(error.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        if sqlite_code & 0xFF in _SQLITE_FULL:
            return StorageFull("the disk holding the database is full")
        if sqlite_code & 0xFF in _SQLITE_AWAY:
            return DatabaseUnavailable("the database is busy or cannot be read")
        return None
    sqlstate: str | None = getattr(error.orig, "sqlstate", None)
    if sqlstate in _POSTGRES_FULL:
        return StorageFull("the database server's disk is full")
    if (
        error.connection_invalidated
        or sqlstate in _POSTGRES_AWAY
        or (sqlstate or "").startswith("08")
        # No SQLSTATE at all: the server was never reached, or went away mid-answer.
        or (sqlstate is None and isinstance(error, OperationalError | InterfaceError))
    ):
        return DatabaseUnavailable("the database does not answer")
    return None


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
        self._bound = bind is not None
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

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read of what is committed, for a request whose every statement stands
        alone (a tile, a bundle, the checkpoint: what the log's verifiers fetch by
        the thousand). On PostgreSQL with no transaction around it: under READ
        COMMITTED each statement reads its own snapshot anyway, and BEGIN and
        COMMIT are two round trips of the four such a request took. Elsewhere, and
        in tests bound to one connection, a read transaction."""
        if self.backend != "postgresql" or self._bound:
            with self.transaction(write=False) as session:
                yield session
            return
        session = self._sessions()
        try:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def utcnow() -> datetime:
    """The current time in UTC; services take a clock instead of calling this."""
    return datetime.now(UTC)
