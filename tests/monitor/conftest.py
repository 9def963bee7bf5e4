"""A served Pouch on a database of its own (SQLite and PostgreSQL), and its two monitors:
the president-elect's office (the addressee) and the Irish sender office."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.settings import Settings
from tests.factories import build_world
from tests.monitor.helpers import Party, Pouch, party, serve


@pytest.fixture
def pouch(
    fresh_database: Database, clock: ManualClock, settings: Settings, tmp_path: Path
) -> Iterator[Pouch]:
    world = build_world(fresh_database, clock)
    app = create_app(settings, database=fresh_database, clock=clock, background=False)
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(app.state.ledger.vkey + "\n")
    with serve(app) as url:
        yield Pouch(url, fresh_database, clock, world, app, vkey_file)


@pytest.fixture
def office(pouch: Pouch, tmp_path: Path) -> Party:
    """The president-elect's office, watching as the addressee with its principal's token."""
    watcher = party(
        pouch,
        tmp_path,
        "president-elect",
        Role.PRINCIPAL,
        "--office",
        pouch.world.tokens[Role.PRINCIPAL],
    )
    watcher.rotate()
    return watcher


@pytest.fixture
def sender(pouch: Pouch, tmp_path: Path) -> Party:
    """The Irish office, watching what it sent with its sender's token (and naming itself
    by its slug, as a person would)."""
    watcher = party(
        pouch,
        tmp_path,
        "ie-taoiseach",
        Role.SENDER,
        "--sender",
        pouch.world.tokens[Role.SENDER],
        by_slug=True,
    )
    watcher.rotate()
    return watcher
