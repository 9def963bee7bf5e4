"""The lists that grow with a year of letters read messages through an index, never by
reading the whole table (issue 19).

Each page and API call listed below is requested as its reader would; every SQL
statement it sends that reads ``messages`` (or their steps, or the log) is explained
by the database itself. On PostgreSQL with ``enable_seqscan = off``, so that a
sequential scan in the plan means no index could serve the query, whatever the
table's size today; on SQLite ``EXPLAIN QUERY PLAN``, where ``SCAN messages``
without an index is a read of every row. A query added to one of these paths
without the index it needs fails this test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, event

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from tests.factories import World, log_in_form
from tests.messages.helpers import route, submit

#: The tables a year of data makes large.
LARGE = ("messages", "message_events", "ledger_entries", "ledger_openings")


@contextmanager
def statements(connection: Connection) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT sent on ``connection`` in the block, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((sql, params))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def full_scans(connection: Connection, sql: str, params: Any) -> list[str]:
    """The large tables the statement reads whole, as the database plans it."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        try:
            plan = [row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params)]
        finally:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
        scanned = [re.search(r"Seq Scan on (\w+)", line) for line in plan]
    else:
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
        # "SCAN messages" alone reads every row; "SCAN … USING INDEX" walks an index.
        scanned = [re.fullmatch(r"SCAN (\w+)(?: AS \w+)?", line.strip()) for line in plan]
    return sorted({m.group(1) for m in scanned if m is not None and m.group(1) in LARGE})


def test_the_growing_lists_read_messages_through_indexes(
    app_client: TestClient,
    world: World,
    database: Database,
    clock: ManualClock,
    connection: Connection,
) -> None:
    ids = [
        submit(database, clock, world, subject=f"Congratulations {n}").message.public_id
        for n in range(6)
    ]
    for public_id in ids[:3]:
        route(database, clock, world, public_id)
    irish = world.offices["ie-taoiseach"].id
    principal = world.offices["president-elect"].id
    message = ids[0]
    api_reads = {
        Role.WATCH_OFFICER: [
            "/api/queue",
            f"/api/messages/{message}",
            f"/api/messages/{message}/status",
            f"/api/messages?q=Congratulations&office={irish}",
            "/api/messages?sort=precedence&state=delivered",
        ],
        Role.SENDER: [
            "/api/messages",
            f"/api/messages/{message}/status",
            f"/api/offices/{irish}/ledger",
        ],
        Role.PRINCIPAL_STAFF: [
            f"/api/offices/{principal}/inbox",
            # A page of it by sequence number, as `pouch office check` reads it.
            f"/api/offices/{principal}/inbox?after=1&limit=2",
            "/api/messages?sort=unread",
            # A page of the office's ledger, as bench_scale.py reads a year's.
            f"/api/offices/{principal}/ledger?after=2&limit=2",
        ],
    }
    pages = {
        "watch-officer": ["/watch", "/watch?delivered=1", f"/watch/{message}", "/find?q=Congrat"],
        "principal-staff": ["/inbox", f"/inbox/{message}"],
        "sender": ["/track", f"/track/{message}"],
    }
    found: dict[str, list[str]] = {}

    def read(path: str, **request: Any) -> None:
        with statements(connection) as seen:
            answer = app_client.get(path, **request)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert seen, f"{path} read nothing from the database"
        for sql, params in seen:
            scans = full_scans(connection, sql, params)
            if scans:
                found.setdefault(path, []).append(f"{scans}: {' '.join(sql.split())[-400:]}")

    for role, paths in api_reads.items():
        for path in paths:
            read(path, headers=world.auth(role))
    for username, paths in pages.items():
        app_client.cookies.clear()
        log_in_form(app_client, username)
        for path in paths:
            read(path)
    assert found == {}, "\n".join(f"{path}: {lines}" for path, lines in found.items())
