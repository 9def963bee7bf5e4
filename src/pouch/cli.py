"""The ``pouch`` command: a small root that mounts each domain's commands.

Settings are built once, in the root callback, and passed to every command
through the Typer context. Commands are thin: they parse arguments, open one
transaction, call one service, and print. Each domain keeps its commands in
its own ``cli.py`` (``pouch.messages.cli`` …).

Two kinds of command. The operator's, run on the server, open the database
(``pouch.cli_support``): ``serve``, ``db``, ``keys``, ``demo``, ``directory``,
``log``, ``users create``, and the workers (``messages due``, ``language
process``/``work``, from each domain's ``operator_cli.py``). The officer's act
as the person logged in with ``pouch login`` (here, with ``logout`` and
``whoami``), through the HTTP API (``pouch.cli_client``): the command line
has no rights of its own.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from pouch import cli_client, migrations
from pouch.briefings.cli import briefing_app
from pouch.calls.calendar_cli import add_desk_commands
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
from pouch.identity.decision_cli import decision_app
from pouch.intake.cli import sender_app
from pouch.language.cli import language_app
from pouch.language.operator_cli import add_operator_commands as add_language_operator_commands
from pouch.ledger.cli import ensure_key, keys_app, log_app, publish_checkpoint, receipt_app
from pouch.mail.cli import mail_app
from pouch.messages.cli import messages_app, office_app
from pouch.messages.operator_cli import add_operator_commands as add_messages_operator_commands
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
add_desk_commands(calls_app)
app.add_typer(calls_app, name="calls")
app.add_typer(briefing_app, name="briefing")
app.add_typer(witness_app, name="witness")
app.add_typer(decision_app, name="decision")
app.add_typer(mail_app, name="mail")
add_messages_operator_commands(messages_app)
add_language_operator_commands(language_app)


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


@app.command(epilog="Example: pouch login --url https://pouch.example.gov")
def login(
    url: Annotated[str, typer.Option(help="Pouch's address, as your browser shows it.")],
    token_stdin: Annotated[
        bool,
        typer.Option("--token-stdin", help="Read the token from standard input, not a prompt."),
    ] = False,
) -> None:
    """Keep your API token, so that the officer commands act as you.

    Make the token on the web (your tokens page under /admin, or POST /api/tokens),
    for the role you act in; it is checked with Pouch, then kept in your
    configuration directory ($XDG_CONFIG_HOME/pouch/credentials.json, mode 0600).
    POUCH_URL and POUCH_TOKEN, when set, are used instead.
    """
    import getpass

    try:
        base = cli_client.normal_url(url)
    except cli_client.CliProblem as problem:
        cli_client.report(problem)
        raise typer.Exit(1) from None
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = getpass.getpass("API token (made on the web; not shown): ").strip()
    if not token:
        errors.print("error: no token given", markup=False, highlight=False)
        raise typer.Exit(1)
    host = urlsplit(base).hostname or ""
    if base.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
        errors.print(
            f"warning: {base} is plain HTTP: your token crosses the network unencrypted",
            markup=False,
            highlight=False,
        )
    credentials = cli_client.Credentials(base, token)
    with cli_client.officer(environ={"POUCH_URL": base, "POUCH_TOKEN": token}) as api:
        who = _who(api)
    path = cli_client.save(credentials, os.environ)
    console.print(f"logged in to {base} as {who}; token kept in {path}", markup=False)


@app.command(epilog="Example: pouch logout")
def logout() -> None:
    """Forget the token kept by pouch login (it stays valid: revoke it on the web)."""
    path = cli_client.remove(os.environ)
    if path is None:
        console.print("not logged in", markup=False)
        return
    console.print(f"logged out: removed {path}", markup=False)


@app.command(epilog="Example: pouch whoami")
def whoami() -> None:
    """Who the officer commands act as: the user and the role of the token kept."""
    with cli_client.officer() as api:
        who = _who(api)
    console.print(f"{who} at {api.credentials.url}", markup=False)


def _who(api: cli_client.Api) -> str:
    """'watch1 (watch_officer of Operations Center)', as GET /api/me says."""
    me = api.get("/api/me")
    roles = []
    for grant in me["roles"]:
        office = api.get(f"/api/offices/{grant['office_id']}")
        roles.append(f"{grant['role']} of {office['name']}")
    return f"{me['username']} ({', '.join(roles) or 'no role'})"


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
