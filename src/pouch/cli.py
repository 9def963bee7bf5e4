"""The ``pouch`` command: a small root that mounts each domain's commands.

Settings are built once, in the root callback, and passed to every command
through the Typer context. Commands are thin: they parse arguments, open one
transaction, call one service, and print. Each domain keeps its commands in
its own ``cli.py`` (``pouch.messages.cli`` …); what they share is in
``pouch.cli_support``. Only the operator's commands live here: ``serve``,
``db`` and ``demo``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from pouch import migrations
from pouch.calls.cli import calls_app
from pouch.cli_support import (
    console,
    errors,
    settings_of,
    sub_app,
    transaction,
    upgrade_database,
)
from pouch.clock import SystemClock
from pouch.directory.cli import directory_app
from pouch.identity.cli import users_app
from pouch.intake.cli import sender_app
from pouch.language.cli import language_app
from pouch.ledger.cli import ensure_key, keys_app, log_app, publish_checkpoint, receipt_app
from pouch.messages.cli import messages_app, office_app
from pouch.monitor.cli import monitor
from pouch.settings import Settings
from pouch.witness.cli import witness_app

app = typer.Typer(
    name="pouch",
    help="Pouch: the correspondence and call desk where no message can be silently withheld.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = sub_app("Database schema.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="log")
app.add_typer(receipt_app, name="receipt")
app.add_typer(office_app, name="office")
app.add_typer(messages_app, name="messages")
app.add_typer(sender_app, name="sender")
app.add_typer(users_app, name="users")
app.add_typer(directory_app, name="directory")
app.add_typer(language_app, name="language")
app.add_typer(calls_app, name="calls")
app.add_typer(witness_app, name="witness")


@app.callback()
def root(ctx: typer.Context) -> None:
    """Pouch reads its settings from POUCH_* environment variables (see docs/settings.md)."""
    try:
        ctx.obj = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = "POUCH_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        errors.print(f"[red]error:[/red] {field}: {first['msg']}")
        raise typer.Exit(2) from None


@db_app.command(
    "upgrade", epilog="Example: POUCH_DATABASE_URL=sqlite:///var/pouch.sqlite3 pouch db upgrade"
)
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration to the database."""
    settings = settings_of(ctx)
    upgrade_database(settings)
    console.print(f"database at migration {migrations.head()}")


@app.command(epilog="Example: pouch serve --port 8000")
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default: POUCH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: POUCH_PORT).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help=(
                "Server processes sharing the port; each has its own group committer and "
                "background workers (the database makes them take turns)."
            ),
        ),
    ] = 1,
) -> None:
    """Apply migrations, then serve the web interface and the API."""
    import uvicorn

    from pouch.app import create_app

    settings = settings_of(ctx)
    upgrade_database(settings)
    ensure_key(settings)
    # Each process of several builds its application from the same POUCH_* environment.
    uvicorn.run(
        create_app(settings) if workers == 1 else "pouch.app:create_app_from_environment",
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level="info",
    )


@app.command(epilog="Example: pouch demo && pouch serve")
def demo(ctx: typer.Context) -> None:
    """Load the demo scenario (a transition week) into the database; safe to repeat."""
    from pouch import demo as demo_scenario

    settings = settings_of(ctx)
    upgrade_database(settings)
    ensure_key(settings)
    with transaction(settings) as session:
        summary = demo_scenario.load(session, settings=settings, now=SystemClock().now())
    publish_checkpoint(settings)
    console.print(summary)


# A party runs it on its own machine (pouch.monitor).
app.command(
    "monitor",
    epilog=(
        "Example: pouch monitor --url https://pouch.example --vkey log.vkey --policy "
        "witnesses.policy --state monitor/ --office 2 --office-key tag-keys.txt --once"
    ),
)(monitor)


def cli_reference() -> str:
    """The Markdown reference of every command, generated from the help texts."""
    from typer.cli import get_docs_for_click

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="pouch")
    with ctx:
        body = get_docs_for_click(obj=command, ctx=ctx, name="pouch", title="CLI reference")
    header = "<!-- Generated by `make docs` from the help texts; do not edit by hand. -->\n\n"
    return header + body.strip() + "\n"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
