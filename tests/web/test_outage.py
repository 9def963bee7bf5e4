"""A database that is away or out of space is a 503 with Retry-After, not a 500; a
database error that is Pouch's own fault stays a bare 500. (The real outages, with a
real server, PostgreSQL and disk, are in tests/faults.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from pouch.app import create_app
from pouch.settings import Settings


def _sqlite(code: int, text: str) -> sqlite3.Error:
    error = sqlite3.OperationalError(text)
    error.sqlite_errorcode = code
    return error


FAILURES: dict[str, DBAPIError] = {
    "sqlite-full": OperationalError(
        "COMMIT", None, _sqlite(sqlite3.SQLITE_FULL, "database or disk is full")
    ),
    "sqlite-busy": OperationalError(
        "BEGIN IMMEDIATE", None, _sqlite(sqlite3.SQLITE_BUSY, "database is locked")
    ),
    "sqlite-bug": OperationalError(
        "SELECT", None, _sqlite(sqlite3.SQLITE_ERROR, "no such table: nowhere")
    ),
    "postgres-refused": OperationalError(
        None, None, psycopg.OperationalError("connection failed: Connection refused")
    ),
    "postgres-shutdown": OperationalError(
        "SELECT", None, psycopg.errors.AdminShutdown("terminating connection")
    ),
    "postgres-lost": DBAPIError(
        "SELECT",
        None,
        psycopg.InterfaceError("the connection is closed"),
        connection_invalidated=True,
    ),
    "postgres-full": OperationalError("INSERT", None, psycopg.errors.DiskFull("no space left")),
    "postgres-bug": ProgrammingError("SELECT", None, psycopg.errors.UndefinedTable("nowhere")),
}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, background=False)

    @app.get("/api/fail/{name}")
    @app.get("/fail/{name}")
    def fail(name: str) -> None:
        raise FAILURES[name]

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("sqlite-full", "storage-full"),
        ("postgres-full", "storage-full"),
        ("sqlite-busy", "database-unavailable"),
        ("postgres-refused", "database-unavailable"),
        ("postgres-shutdown", "database-unavailable"),
        ("postgres-lost", "database-unavailable"),
    ],
)
def test_the_database_away_or_full_is_a_503_saying_when_to_retry(
    client: TestClient, name: str, slug: str
) -> None:
    response = client.get(f"/api/fail/{name}")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{slug}"
    assert int(response.headers["retry-after"]) > 0
    # A page says the same, in HTML.
    page = client.get(f"/fail/{name}")
    assert page.status_code == 503 and "retry-after" in page.headers


@pytest.mark.parametrize("name", ["sqlite-bug", "postgres-bug"])
def test_a_database_error_of_pouchs_own_is_a_bare_500(client: TestClient, name: str) -> None:
    response = client.get(f"/api/fail/{name}")
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"
    assert "retry-after" not in response.headers
    assert "nowhere" not in response.text
