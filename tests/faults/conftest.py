"""Fixtures of the fault tests: servers of their own, stopped however a test ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.helpers import Postgres


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL server, started; stopped and removed at teardown."""
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.close()
