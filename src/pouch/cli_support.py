"""What every command of ``pouch`` shares: its consoles, its settings, its transaction.

The root (``pouch.cli``) builds the settings once and hangs them on the Typer
context; each domain's sub-app (``pouch.<domain>.cli``) reads them with
``settings_of``, opens one transaction with ``transaction`` and calls its
domain's services. A ``PouchError`` becomes a message naming the field and
exit status 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.orm import Session

from pouch import migrations
from pouch.db import Database
from pouch.errors import PermissionDenied, PouchError
from pouch.identity.models import Role
from pouch.settings import Settings

if TYPE_CHECKING:
    from pouch.ledger.note import Ed25519Verifier


class _Console:
    """A Rich console made at each use, so that it sizes itself to the terminal (or
    ``COLUMNS``) of the command being run, not of the process that imported this."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    def print(
        self, *objects: object, markup: bool | None = None, highlight: bool | None = None
    ) -> None:
        Console(stderr=self._stderr).print(*objects, markup=markup, highlight=highlight)


console = _Console()
errors = _Console(stderr=True)


def sub_app(help_text: str) -> typer.Typer:
    """A domain's group of commands, shown with its help when called without one."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback built for this command."""
    settings: Settings = ctx.find_root().obj
    return settings


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


def validation_failed(error: ValidationError) -> NoReturn:
    """Each invalid field on its own line, then exit 1."""
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "input"
        errors.print(f"[red]error:[/red] {where}: {problem['msg']}")
    raise typer.Exit(1)


def read_text(source: Path) -> str:
    """A UTF-8 file the command was given; one it cannot read is an error naming it (exit 1)."""
    try:
        return source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        errors.print(f"[red]error:[/red] {source}: {error}")
        raise typer.Exit(1) from None


AsUser = Annotated[str, typer.Option("--as", help="The officer acting (a user name).")]


def acting_officer(session: Session, username: str, roles: tuple[Role, ...], what: str) -> int:
    """The id of the user acting, who must hold one of ``roles`` in the operations office."""
    from pouch.identity import service as identity_service

    user = identity_service.get_user_by_username(session, username)
    actor = identity_service.actor_for_user(session, user)
    if not any(actor.holds_in_operations(role) for role in roles):
        raise PermissionDenied(f"{username} is not {what} of the operations center")
    return user.id


def read_vkey(value: str) -> Ed25519Verifier:
    """A signed-note verifier key given inline or as a file holding it."""
    from pouch.ledger.errors import LedgerFormatError
    from pouch.ledger.note import Ed25519Verifier

    text = value
    candidate = Path(value)
    if "+" not in value or candidate.exists():
        try:
            text = candidate.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise typer.BadParameter(f"cannot read {value}: {error}", param_hint="--vkey") from None
    try:
        return Ed25519Verifier.from_vkey(text)
    except LedgerFormatError as error:
        raise typer.BadParameter(str(error), param_hint="--vkey") from None
