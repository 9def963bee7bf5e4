"""What every command of ``pouch`` shares and that needs no database: its consoles, its
settings, reading the files it is given.

The officer's commands (``pouch messages``, ``pouch calls``, ``pouch language``,
``pouch office``) import from here and from ``pouch.cli_client``, never from
``pouch.cli_support``, whose transaction is the operator's: an import-linter
contract in pyproject.toml keeps it so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from pouch.settings import Settings

if TYPE_CHECKING:
    from pouch.ledger.note import Ed25519Verifier


#: The width of output that goes to a pipe or a file: wide enough that no table wraps.
PIPED_WIDTH = 1000


class _Console:
    """A Rich console made at each use, so that it sizes itself to the terminal (or
    ``COLUMNS``) of the command being run, not of the process that imported this."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    def print(
        self, *objects: object, markup: bool | None = None, highlight: bool | None = None
    ) -> None:
        console = Console(stderr=self._stderr)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            # Piped or redirected: lines as long as they are, for grep and files, not
            # wrapped at Rich's 80 columns (COLUMNS still decides when it is set).
            console = Console(stderr=self._stderr, width=PIPED_WIDTH)
        console.print(*objects, markup=markup, highlight=highlight)


console = _Console()
errors = _Console(stderr=True)


def sub_app(help_text: str) -> typer.Typer:
    """A domain's group of commands, shown with its help when called without one."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback built for this command."""
    settings: Settings = ctx.find_root().obj
    return settings


def fail(message: str) -> NoReturn:
    """An error the user can act on, on stderr, then exit 1."""
    errors.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(1)


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
