"""Schema migrations (Alembic), applied by ``pouch db upgrade`` and ``pouch serve``.

The migration scripts live beside this file; the configuration is built in
code so that no ``alembic.ini`` is needed at run time.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from pouch.db import Database

HERE = Path(__file__).parent


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database: Database, *, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction."""
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(connection=connection), revision)


def head() -> str:
    script = ScriptDirectory.from_config(alembic_config())
    revision = script.get_current_head()
    assert revision is not None, "there is always at least one migration"
    return revision


def revisions(connection: Connection) -> tuple[str | None, str]:
    """The database's current revision and the code's head."""
    current = MigrationContext.configure(connection).get_current_revision()
    return current, head()
