"""People at a shell, and the Pouch their officer commands reach over HTTP.

``Person`` runs ``pouch`` through typer's CliRunner with a configuration
directory of its own (``XDG_CONFIG_HOME``) and a database URL that points
nowhere: an officer command can only act through the server. ``served_demo``
loads the demo into a SQLite file and serves it (``create_app`` under uvicorn
in a thread, on a free port); ``token_for`` makes a demo user's API token, as
that user would on the web.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from pouch.app import create_app
from pouch.cli import app
from pouch.db import Database
from pouch.identity.models import Role
from pouch.settings import Settings
from tests.monitor.helpers import serve

#: A database no officer command may need: connecting to it fails at once.
NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere"


class Person:
    """Someone at a shell: a configuration directory of their own."""

    def __init__(self, home: Path, **environment: str) -> None:
        self.config = home / "config"
        self.environment = environment

    def env(self) -> dict[str, str | None]:
        return {
            "XDG_CONFIG_HOME": str(self.config),
            "POUCH_DATABASE_URL": NOWHERE,
            "POUCH_URL": None,
            "POUCH_TOKEN": None,
            "COLUMNS": "400",  # wide enough that Rich never wraps a cell
            **self.environment,
        }

    def run(self, *args: str, stdin: str | None = None) -> tuple[int, str]:
        """Exit status and output (stdout and stderr, whitespace squeezed); an exception
        other than an exit (a traceback) fails the test."""
        result = CliRunner().invoke(app, list(args), env=self.env(), input=stdin)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, " ".join(result.output.split())

    def login(self, url: str, token: str) -> tuple[int, str]:
        return self.run("login", "--url", url, "--token-stdin", stdin=token + "\n")

    @property
    def credentials(self) -> Path:
        return self.config / "pouch" / "credentials.json"


def person(root: Path, name: str, **environment: str) -> Person:
    return Person(root / name, **environment)


@dataclass
class Demo:
    url: str
    database: Database
    root: Path
    summary: str  # what pouch demo printed

    @property
    def operator_env(self) -> dict[str, str]:
        """The server's own settings, for an operator's command run beside it."""
        return {
            "POUCH_DATABASE_URL": f"sqlite:///{self.root / 'demo.sqlite3'}",
            "POUCH_DATA_DIR": str(self.root),
        }

    def officer(self, username: str, role: Role, office: str = "ops") -> Person:
        """``username`` at a shell of their own, logged in with a token for ``role``."""
        who = person(self.root, f"{username}-{role.value}")
        code, output = who.login(self.url, token_for(self.database, username, role, office))
        assert code == 0, output
        return who


def token_for(database: Database, username: str, role: Role, office: str = "ops") -> str:
    from pouch.directory import service as directory_service
    from pouch.identity import service as identity_service

    with database.transaction() as session:
        user = identity_service.get_user_by_username(session, username)
        secret, _ = identity_service.issue_token(
            session,
            user_id=user.id,
            office_id=directory_service.get_office_by_slug(session, office).id,
            role=role,
            name="cli",
            now=datetime.now(UTC),
            lifetime=timedelta(days=1),
        )
    return secret


@contextmanager
def served_demo(root: Path) -> Iterator[Demo]:
    """The demo scenario in a SQLite file under ``root``, served over HTTP."""
    url = f"sqlite:///{root / 'demo.sqlite3'}"
    result = CliRunner().invoke(
        app, ["demo"], env={"POUCH_DATABASE_URL": url, "POUCH_DATA_DIR": str(root)}
    )
    assert result.exit_code == 0, result.output
    settings = Settings(_env_file=None, database_url=url, data_dir=root)  # type: ignore[call-arg]
    database = Database.from_url(url)
    try:
        with serve(create_app(settings, database=database, background=False)) as base:
            yield Demo(base, database, root, " ".join(result.output.split()))
    finally:
        database.dispose()
