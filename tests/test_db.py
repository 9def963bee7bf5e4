"""The database layer on both backends: migrations, UTC times, the unit of work."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text

from pouch import migrations, postgres
from pouch.clock import ManualClock
from pouch.db import Database, WriterTurns, create_database_engine
from pouch.directory.models import Office, OfficeKind
from pouch.messages.search import INDEX_TABLE
from pouch.models import metadata


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            # The search index is the database's own (an FTS5 table and its shadow tables,
            # or tsvectors): written in its migration, not a model.
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: (
                    not (kind == "table" and str(name).startswith(INDEX_TABLE))
                ),
            },
        )
        diff = compare_metadata(context, metadata)
    assert diff == [], "the models changed without a migration: add one in src/pouch/migrations"


def test_schema_is_at_head(engine: Engine) -> None:
    with engine.connect() as connection:
        current, head = migrations.revisions(connection)
    assert current == head


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'cycle.sqlite3'}")
    migrations.upgrade(database)
    with database.engine.begin() as connection:
        from alembic import command

        command.downgrade(migrations.alembic_config(connection=connection), "base")
    with database.engine.connect() as connection:
        assert migrations.revisions(connection)[0] is None
    migrations.upgrade(database)
    with database.engine.connect() as connection:
        assert migrations.revisions(connection)[0] == migrations.head()
    database.dispose()


def test_sqlite_is_durable_and_in_wal_mode(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'sub' / 'p.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def _office(slug: str, at: datetime) -> Office:
    return Office(
        slug=slug,
        name=slug,
        kind=OfficeKind.FOREIGN,
        country_code="IE",
        time_zone="Europe/Dublin",
        notes="",
        created_at=at,
        updated_at=at,
    )


def test_times_come_back_as_utc(database: Database) -> None:
    dublin_evening = datetime(2026, 7, 1, 21, 30, tzinfo=timezone(timedelta(hours=1)))
    with database.transaction() as session:
        session.add(_office("tz-test", dublin_evening))
    with database.transaction() as session:
        office = session.scalar(select(Office).where(Office.slug == "tz-test"))
        assert office is not None
        assert office.created_at == datetime(2026, 7, 1, 20, 30, tzinfo=UTC)
        assert office.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.transaction() as session:
        session.add(_office("naive", datetime(2026, 7, 1, 12, 0)))
        session.flush()


def test_unit_of_work_rolls_back_on_error(database: Database, clock: ManualClock) -> None:
    with pytest.raises(RuntimeError), database.transaction() as session:
        session.add(_office("doomed", clock.now()))
        session.flush()
        raise RuntimeError("boom")
    with database.transaction(write=False) as session:
        assert session.scalar(select(Office).where(Office.slug == "doomed")) is None


def test_each_backend_is_the_one_it_claims(database: Database, backend: str) -> None:
    with database.transaction(write=False) as session:
        if backend == "postgresql":
            assert "PostgreSQL" in session.execute(text("SELECT version()")).scalar_one()
        else:
            assert session.execute(text("SELECT sqlite_version()")).scalar_one()


HOLDER = """
import sys
from pathlib import Path
from pouch.db import WriterTurns

with WriterTurns(Path(sys.argv[1])).turn():
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_sqlite_writers_of_other_processes_take_turns(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'turns.sqlite3'}")
    migrations.upgrade(database)
    turns = database.writer_turns
    assert turns is not None and turns.path == tmp_path / "turns.sqlite3-writers"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(turns.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        began = threading.Event()

        def write() -> None:
            with database.transaction() as session:
                began.set()
                session.execute(text("SELECT 1"))

        writer = threading.Thread(target=write)
        writer.start()
        # Blocked while the other process holds the turn (not polling SQLite's lock).
        assert not began.wait(0.5)
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        writer.join(timeout=30)
        assert began.is_set() and not writer.is_alive()
        # Readers never wait for a turn.
        with database.transaction(write=False) as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes the pipes
        database.dispose()


def test_a_turn_is_reentrant_in_its_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "db-writers")
    other_entered = threading.Event()

    def other() -> None:
        with turns.turn():
            other_entered.set()

    with turns.turn(), turns.turn():  # the same thread again: no deadlock
        thread = threading.Thread(target=other)
        thread.start()
        assert not other_entered.wait(0.3)  # another thread waits for the turn
    thread.join(timeout=30)
    assert other_entered.is_set()


def test_only_sqlite_files_take_turns(tmp_path: Path) -> None:
    assert Database.from_url("sqlite://").writer_turns is None
    engine = create_database_engine(f"sqlite:///{tmp_path / 'bound.sqlite3'}")
    with engine.connect() as connection:
        assert Database(engine, bind=connection).writer_turns is None
    engine.dispose()


def test_a_reading_sees_what_is_committed_outside_any_transaction_on_postgresql(
    engine: Engine, backend: str
) -> None:
    """``Database.reading``: on PostgreSQL a read with no transaction around it (each
    statement its own snapshot, as under READ COMMITTED anyway: no BEGIN, no COMMIT);
    on SQLite a read transaction. Either way it sees what was committed before it."""
    database = Database(engine)
    with database.transaction() as session:
        before = session.scalar(select(text("count(*)")).select_from(Office)) or 0
    with database.reading() as session:
        connection = session.connection()
        if backend == "postgresql":
            driver = postgres.psycopg_of(connection)
            assert driver is not None and driver.autocommit is True
        else:
            assert connection.in_transaction()
        assert session.scalar(select(text("count(*)")).select_from(Office)) == before
