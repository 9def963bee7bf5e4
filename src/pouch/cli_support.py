"""What the operator's commands share: the database transaction, migrations.

The root (``pouch.cli``) builds the settings once and hangs them on the Typer
context; an operator's command (``serve``, ``db``, ``keys``, ``demo``,
``directory import``, ``users create`` …) reads them with ``settings_of``,
opens one transaction with ``transaction`` and calls its domain's services. A
``PouchError`` becomes a message naming the field and exit status 1.

An officer's command never comes here: it acts as the person logged in, through
the HTTP API (``pouch.cli_client``). What both kinds share without a database
is ``pouch.cli_common``'s, re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pouch import migrations
from pouch.cli_common import (
    console,
    errors,
    read_text,
    read_vkey,
    settings_of,
    sub_app,
    validation_failed,
)
from pouch.db import Database
from pouch.errors import PouchError
from pouch.settings import Settings

__all__ = [
    "console",
    "errors",
    "read_text",
    "read_vkey",
    "settings_of",
    "sub_app",
    "transaction",
    "upgrade_database",
    "validation_failed",
]


def _where(settings: Settings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)


def _missing_database(settings: Settings) -> str | None:
    """Why the configured database is not Pouch's, or None. A SQLite file that is not
    there is not created: a command run from the wrong folder says so instead."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.exists():
            return f"there is no database at {path.resolve()}"
    database = Database.from_url(settings.database_url)
    try:
        with database.engine.connect() as connection:
            current, head = migrations.revisions(connection)
    except Exception as error:  # unreachable, refused, not a database
        return f"the database cannot be opened ({type(error).__name__}: {error})".splitlines()[0]
    finally:
        database.dispose()
    if current is None:
        return "the database has no Pouch tables"
    if current != head:
        return f"the database is at migration {current}, this Pouch needs {head}"
    return None


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One transaction for the command; a PouchError becomes a clean message and exit 1.
    A database that is missing, unreachable or not migrated is a message naming the
    setting and the command to run, never a traceback."""
    problem = _missing_database(settings)
    if problem is not None:
        errors.print(
            f"error: {problem} (POUCH_DATABASE_URL={_where(settings)}).\n"
            "  Run the command where Pouch's .env is, or set POUCH_DATABASE_URL; to create "
            "or update the database: pouch db upgrade (or pouch demo, for the demo).",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)
    database = Database.from_url(settings.database_url)
    try:
        with database.transaction() as session:
            yield session
    except PouchError as error:
        errors.print(f"[red]error:[/red] {error.detail}")
        for field_error in error.field_errors:
            errors.print(f"  {field_error.field}: {field_error.message}")
        raise typer.Exit(1) from None
    finally:
        database.dispose()


def upgrade_database(settings: Settings) -> None:
    """Apply every pending migration."""
    database = Database.from_url(settings.database_url)
    try:
        migrations.upgrade(database)
    finally:
        database.dispose()
