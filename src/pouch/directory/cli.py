"""``pouch directory``: the directory as YAML, out and in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pouch.cli_support import console, read_text, settings_of, sub_app, transaction
from pouch.clock import SystemClock

directory_app = sub_app("Countries, offices and people.")


@directory_app.command("export", epilog="Example: pouch directory export --output directory.yaml")
def directory_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Write every office and person as YAML."""
    from pouch.directory import transfer

    with transaction(settings_of(ctx)) as session:
        document = transfer.export_directory(session)
    if output is None:
        sys.stdout.write(document)
    else:
        output.write_text(document, encoding="utf-8")
        console.print(f"wrote {output}")


@directory_app.command("import", epilog="Example: pouch directory import directory.yaml")
def directory_import(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="A YAML file as written by 'pouch directory export'.")
    ],
) -> None:
    """Create or update offices and people from YAML (all or nothing)."""
    from pouch.directory import transfer

    text = read_text(source)
    with transaction(settings_of(ctx)) as session:
        counts = transfer.import_directory(session, text=text, now=SystemClock().now())
    console.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
