"""What Pouch writes differently on PostgreSQL, and why: round trips.

On SQLite a statement is a function call into the same process; on
PostgreSQL it is a round trip to the server, and every round trip taken while
a transaction holds a row that others wait for (an office's sequence row, the
log's head row) is time they all wait. A group commit of a few hundred units
that sent each unit's statements one by one spent its time on the network and
in that queue (issue 19: 0.14 of SQLite's appends, 0.7 of its acceptances).
So a group commit's writes go to the server together:

- the log's entries of a whole transaction, and the head row's final value,
  in one statement at commit (``write_entries``); ``pouch.ledger.sequencer``
  hands out the indexes meanwhile from the head it holds;
- the same ``UPDATE … RETURNING`` for each of several rows (each office's
  sequence row, each party's tag counter) in one round trip, in psycopg 3's
  pipeline mode (``returning_each``), still one statement per row and in the
  callers' order, so that concurrent writers take the rows in the same order;
- the rows of a table in one ``INSERT … SELECT * FROM unnest(…)``
  (``insert_many``), not a statement per row;
- a transaction's inserts, and the log's entries, in one round trip
  (``insert_together``), the ids its rows point to taken beforehand
  (``next_ids``): a batch of acceptances holds its offices' rows for four
  round trips (the rows' bump; the head row and the counters; every insert;
  COMMIT), not nine.

Everything PostgreSQL-only is here, SQL and psycopg; ``returning_each`` and
``insert_many`` do the plain thing on SQLite (a statement per row, the
driver's ``executemany``), which costs nothing there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase


def psycopg_of(connection: Connection) -> psycopg.Connection[Any] | None:
    """The psycopg 3 connection under ``connection``, or None on any other driver."""
    if (connection.dialect.name, connection.dialect.driver) != ("postgresql", "psycopg"):
        return None
    driver = connection.connection.driver_connection
    return driver if isinstance(driver, psycopg.Connection) else None


#: An ``UPDATE … RETURNING`` and the parameters of each time it runs.
Bumps = tuple[UpdateBase, Sequence[Mapping[str, Any]]]


def returning_each(
    connection: Connection, statement: UpdateBase, params: Sequence[Mapping[str, Any]]
) -> Sequence[Sequence[Any] | None]:
    """Run ``statement`` (an ``UPDATE … RETURNING``) once with each of ``params``,
    in order; the first row each returned, or None (``returning_each_of``)."""
    (rows,) = returning_each_of(connection, [(statement, params)])
    return rows


def returning_each_of(
    connection: Connection, bumps: Sequence[Bumps]
) -> list[list[Sequence[Any] | None]]:
    """Run each statement once with each of its parameters, statements in order;
    for each, the first row each run returned, or None.

    On psycopg 3, all in one round trip (pipeline mode): the statements run one
    after the other on the server, as they would one round trip each, taking
    their rows' locks in the same order; only the waiting between them is
    saved. A driver error is raised as SQLAlchemy raises it (``DBAPIError``).
    Elsewhere (SQLite), one statement at a time.
    """
    if not bumps:
        return []
    driver = psycopg_of(connection)
    if driver is None:
        return [
            [connection.execute(statement, dict(values)).first() for values in params]
            for statement, params in bumps
        ]
    compiled = [(_compiled(statement, connection.dialect), params) for statement, params in bumps]
    cursors: list[list[psycopg.Cursor[Any]]] = []
    sql = ""
    try:
        with driver.pipeline():
            for (sql, fixed), params in compiled:
                cursors.append([])
                for values in params:
                    cursor = driver.cursor()
                    cursor.execute(sql, {**fixed, **values})
                    cursors[-1].append(cursor)
        # The pipeline synced when its block ended: every answer is here.
        return [[cursor.fetchone() for cursor in of_statement] for of_statement in cursors]
    except psycopg.Error as error:
        raise DBAPIError.instance(sql, None, error, psycopg.Error) from error
    finally:
        for of_statement in cursors:
            for cursor in of_statement:
                cursor.close()


@functools.lru_cache(maxsize=32)
def _compiled(statement: UpdateBase, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The statement's SQL for psycopg (``%(name)s`` marks), compiled once, and the
    values of the parameters it fixes itself (``WHERE id = 1``)."""
    compiled = statement.compile(dialect=dialect)
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}


def insert_many(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each with the same keys) into ``table``.

    On psycopg 3, one statement, one array a column: ``INSERT … SELECT * FROM
    unnest(…)``. psycopg's ``executemany`` sends a statement per row in its
    pipeline, with Python work for each row, three times a message while the
    rows of a batch of acceptances are held. Elsewhere (SQLite), the driver's
    ``executemany`` through SQLAlchemy, as before.
    """
    if not rows:
        return
    if psycopg_of(connection) is None:
        connection.execute(table.insert(), list(rows))
        return
    connection.exec_driver_sql(*_unnest_write(connection, table, rows))


#: A statement as psycopg takes it, and its parameters.
Write = tuple[str, Mapping[str, Any]]


def insert_together(
    connection: Connection,
    inserts: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]],
    *,
    then: Sequence[Write] = (),
) -> None:
    """Insert each table's rows (as ``insert_many``), in order, then run ``then``.

    On psycopg 3, in one round trip (pipeline mode), so that a transaction
    holding rows that others wait for sends all it writes at once. Elsewhere
    (SQLite), one ``insert_many`` after the other; ``then`` is PostgreSQL's only.
    """
    driver = psycopg_of(connection)
    if driver is None:
        assert not then, "driver statements: PostgreSQL only"
        for table, rows in inserts:
            insert_many(connection, table, rows)
        return
    writes = [_unnest_write(connection, table, rows) for table, rows in inserts if rows]
    writes += then
    sql = ""
    cursors: list[psycopg.Cursor[Any]] = []
    try:
        with driver.pipeline():
            for sql, params in writes:
                cursor = driver.cursor()
                cursor.execute(sql, params)
                cursors.append(cursor)
    except psycopg.Error as error:
        raise DBAPIError.instance(sql, None, error, psycopg.Error) from error
    finally:
        for cursor in cursors:
            cursor.close()


def _unnest_write(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> Write:
    names = tuple(rows[0])
    sql, processors = _unnest_insert(table, names, connection.dialect)
    columns = {
        name: [row[name] for row in rows]
        if processor is None
        else [processor(row[name]) for row in rows]
        for name, processor in zip(names, processors, strict=True)
    }
    return sql, columns


_NEXT_IDS = (
    "SELECT nextval(pg_get_serial_sequence(%(table)s, %(column)s))"
    " FROM generate_series(1, %(count)s)"
)


def next_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """On PostgreSQL, ``count`` new ids of ``table`` (its ``id`` column's sequence),
    in increasing order: rows inserted with them can be pointed to by rows sent in
    the same round trip, before any answer came back."""
    result = connection.exec_driver_sql(
        _NEXT_IDS, {"table": table.name, "column": "id", "count": count}
    )
    return [int(row[0]) for row in result]


@functools.lru_cache(maxsize=64)
def _unnest_insert(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[Callable[[Any], Any] | None]]:
    """The ``INSERT … SELECT * FROM unnest(…)`` of ``names`` into ``table`` (each
    array cast to its column's type, and sent in binary: psycopg's text form
    escapes every element, and every byte of a ``bytea``, in Python), and the
    conversion SQLAlchemy applies to each value."""
    preparer = dialect.identifier_preparer
    arrays = []
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        column = table.c[name]
        arrays.append(f"%({name})b::{column.type.compile(dialect=dialect)}[]")
        processors.append(column.type.dialect_impl(dialect).bind_processor(dialect))
    quoted = ", ".join(preparer.quote(name) for name in names)
    # Nothing here comes from outside: names and types from the models.
    sql = (
        f"INSERT INTO {preparer.format_table(table)} ({quoted}) "  # noqa: S608
        f"SELECT * FROM unnest({', '.join(arrays)})"
    )
    return sql, processors


# The head row is this transaction's (taken by the first append's UPDATE): its
# final value and every entry appended since go in one statement. A data-modifying
# CTE runs whether or not the query reads it. The arrays go in binary (``%b``):
# psycopg's text form escapes every byte of every entry, in Python.
_WRITE_ENTRIES = """
WITH head AS (UPDATE ledger_head SET next_index = %(end)s WHERE id = %(head_row)s)
INSERT INTO ledger_entries (idx, data, appended_at)
SELECT * FROM unnest(%(indexes)b::bigint[], %(data)b::bytea[], %(times)b::timestamptz[])
"""


def write_entries(
    connection: Connection,
    *,
    head_row: int,
    end: int,
    entries: Sequence[tuple[int, bytes, datetime]],
) -> None:
    """Store ``entries`` (index, data, appended at) and set the head row, which this
    transaction holds, to ``end``: one statement, one round trip."""
    connection.exec_driver_sql(*entries_write(head_row=head_row, end=end, entries=entries))


def entries_write(
    *, head_row: int, end: int, entries: Sequence[tuple[int, bytes, datetime]]
) -> Write:
    """``write_entries``'s statement, to send with others (``insert_together``)."""
    return _WRITE_ENTRIES, {
        "end": end,
        "head_row": head_row,
        "indexes": [index for index, _, _ in entries],
        "data": [data for _, data, _ in entries],
        "times": [at.astimezone(UTC) for _, _, at in entries],
    }
