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

import typer
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


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One transaction for the command; a PouchError becomes a clean message and exit 1."""
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
