"""The ``pouch`` command: serve, migrate, manage users and the directory, load the demo.

Settings are built once, in the root callback, and passed to every command
through the Typer context. Commands are thin: they parse arguments, open one
transaction, call one service, and print.
"""

from __future__ import annotations

import getpass
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from pouch import migrations
from pouch.clock import SystemClock
from pouch.db import Database
from pouch.errors import PermissionDenied as PermissionDeniedError
from pouch.errors import PouchError
from pouch.identity.models import Role
from pouch.settings import Settings, key_file

app = typer.Typer(
    name="pouch",
    help="Pouch: the correspondence and call desk where no message can be silently withheld.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True, rich_markup_mode=None)
directory_app = typer.Typer(
    help="Countries, offices and people.", no_args_is_help=True, rich_markup_mode=None
)
keys_app = typer.Typer(help="The log's signing key.", no_args_is_help=True, rich_markup_mode=None)
log_app = typer.Typer(help="The transparency log.", no_args_is_help=True, rich_markup_mode=None)
receipt_app = typer.Typer(
    help="Receipts (c2sp.org/tlog-proof).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="log")
app.add_typer(receipt_app, name="receipt")
office_app = typer.Typer(
    help="An office's own checks.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(office_app, name="office")
messages_app = typer.Typer(
    help="The watch floor from the command line: queue, route, holds, deadlines.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(messages_app, name="messages")
sender_app = typer.Typer(
    help="A sender office's tools: keys and signed submission.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(sender_app, name="sender")
app.add_typer(users_app, name="users")
app.add_typer(directory_app, name="directory")

if TYPE_CHECKING:
    from pouch.calls import service as call_service_module
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


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


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


@contextmanager
def _transaction(settings: Settings) -> Iterator[Session]:
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


def _upgrade(settings: Settings) -> None:
    database = Database.from_url(settings.database_url)
    try:
        migrations.upgrade(database)
    finally:
        database.dispose()


@db_app.command(
    "upgrade", epilog="Example: POUCH_DATABASE_URL=sqlite:///var/pouch.sqlite3 pouch db upgrade"
)
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration to the database."""
    settings = _settings(ctx)
    _upgrade(settings)
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

    settings = _settings(ctx)
    _upgrade(settings)
    _ensure_key(settings)
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


def _parse_grant(value: str) -> tuple[Role, str]:
    role_name, sep, office_slug = value.partition("@")
    try:
        role = Role(role_name)
    except ValueError:
        raise typer.BadParameter(
            f"unknown role {role_name!r}; roles: {', '.join(r.value for r in Role)}",
            param_hint="--role",
        ) from None
    if not sep or not office_slug:
        raise typer.BadParameter(
            "give a role as ROLE@OFFICE, e.g. watch_officer@ops", param_hint="--role"
        )
    return role, office_slug


@users_app.command(
    "create",
    epilog="Example: pouch users create ana --display-name 'Ana Duty' --role watch_officer@ops",
)
def users_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name: lowercase letters, digits, . _ -")],
    display_name: Annotated[str, typer.Option(help="Name shown in the interface.")],
    email: Annotated[str | None, typer.Option(help="E-mail address for notifications.")] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="A role in an office, as ROLE@OFFICE-SLUG; repeatable.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of prompting.")
    ] = False,
) -> None:
    """Create a user with a password and roles in offices."""
    from pouch.directory import service as directory_service
    from pouch.identity import service as identity_service

    grants = [_parse_grant(value) for value in role or []]
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            errors.print("[red]error:[/red] password: the two entries differ")
            raise typer.Exit(1)
    now = SystemClock().now()
    with _transaction(_settings(ctx)) as session:
        user = identity_service.create_user(
            session,
            username=username,
            display_name=display_name,
            password=password,
            email=email,
            now=now,
        )
        for grant_role, office_slug in grants:
            office = directory_service.get_office_by_slug(session, office_slug)
            identity_service.grant_role(
                session, user_id=user.id, office_id=office.id, role=grant_role, now=now
            )
    console.print(f"created user {username!r} (id {user.id})")


@users_app.command("list", epilog="Example: pouch users list")
def users_list(ctx: typer.Context) -> None:
    """List users and their roles."""
    from pouch.directory import service as directory_service
    from pouch.identity import service as identity_service

    table = Table("id", "username", "name", "active", "roles")
    with _transaction(_settings(ctx)) as session:
        offices = {o.id: o.slug for o in directory_service.list_offices(session)}
        for user in identity_service.list_users(session):
            roles = ", ".join(
                f"{m.role.value}@{offices.get(m.office_id)}" for m in user.memberships
            )
            table.add_row(
                str(user.id),
                user.username,
                user.display_name,
                "yes" if user.is_active else "no",
                roles,
            )
    console.print(table)


@directory_app.command("export", epilog="Example: pouch directory export --output directory.yaml")
def directory_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Write every office and person as YAML."""
    from pouch.directory import transfer

    with _transaction(_settings(ctx)) as session:
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

    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        errors.print(f"[red]error:[/red] {source}: {error}")
        raise typer.Exit(1) from None
    with _transaction(_settings(ctx)) as session:
        counts = transfer.import_directory(session, text=text, now=SystemClock().now())
    console.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))


@app.command(epilog="Example: pouch demo && pouch serve")
def demo(ctx: typer.Context) -> None:
    """Load the demo scenario (a transition week) into the database; safe to repeat."""
    from pouch import demo as demo_scenario

    settings = _settings(ctx)
    _upgrade(settings)
    _ensure_key(settings)
    with _transaction(settings) as session:
        summary = demo_scenario.load(session, settings=settings, now=SystemClock().now())
    _integrate(settings)
    console.print(summary)


def _integrate(settings: Settings) -> None:
    """Publish a checkpoint over everything logged so far, so every receipt is complete."""
    from pouch.ledger.keys import load_signer
    from pouch.ledger.sequencer import integrate
    from pouch.ledger.store import TileCache

    database = Database.from_url(settings.database_url)
    try:
        integrate(
            database,
            signer=load_signer(settings),
            origin=settings.log_origin,
            clock=SystemClock(),
            cache=TileCache(),
        )
    finally:
        database.dispose()


def _ensure_key(settings: Settings) -> None:
    """On first run, create the log's signing key so that Pouch can start."""
    from pouch.ledger.keys import KeyNotConfigured, ensure_signer

    try:
        signer, created = ensure_signer(settings)
    except KeyNotConfigured as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if created:
        console.print(f"created the log's signing key in {key_file(settings)}")
        console.print(f"log verifier key: {signer.verifier.vkey}")


@keys_app.command("generate", epilog="Example: pouch keys generate --origin pouch.mfa.example/log")
def keys_generate(
    ctx: typer.Context,
    origin: Annotated[
        str | None, typer.Option(help="The log's origin and key name (default: POUCH_LOG_ORIGIN).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Key file to write (default: POUCH_LOG_KEY_FILE).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing key file.")] = False,
) -> None:
    """Generate the log's Ed25519 signing key into a file readable only by its owner."""
    from pouch.ledger.keys import generate_key_file
    from pouch.ledger.note import check_key_name

    settings = _settings(ctx)
    name = origin or settings.log_origin
    try:
        check_key_name(name)
        vkey = generate_key_file(output or key_file(settings), origin=name, overwrite=force)
    except (ValueError, FileExistsError) as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(f"wrote {output or key_file(settings)} (mode 0600)")
    sys.stdout.write(vkey + "\n")


@keys_app.command("show", epilog="Example: pouch keys show > log.vkey")
def keys_show(ctx: typer.Context) -> None:
    """Print the log's verifier key, which anyone needs to check checkpoints and receipts."""
    from pouch.ledger.keys import KeyNotConfigured, load_signer

    try:
        signer = load_signer(_settings(ctx))
    except KeyNotConfigured as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    sys.stdout.write(signer.verifier.vkey + "\n")


def _read_vkey(value: str) -> Ed25519Verifier:
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


@log_app.command(
    "verify",
    epilog="Example: pouch log verify --url http://127.0.0.1:8000/log --vkey log.vkey",
)
def log_verify(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="A log stored as files (checkpoint, tile/…).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="The log's URL prefix (…/checkpoint).")] = None,
    vkey: Annotated[str, typer.Option(help="The log's verifier key, or a file holding it.")] = "",
    since: Annotated[
        Path | None, typer.Option(help="An earlier signed checkpoint the log must extend.")
    ] = None,
) -> None:
    """Verify a whole tiles log: signature, every tile from the entries, the root, and growth."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pouch.ledger.verify import DirectorySource, HttpSource, LogInconsistent, verify_log

    if (directory is None) == (url is None):
        raise typer.BadParameter("give exactly one of --dir and --url", param_hint="--dir/--url")
    if not vkey:
        raise typer.BadParameter("the log's verifier key is required", param_hint="--vkey")
    verifier = _read_vkey(vkey)
    earlier = None
    if since is not None:
        try:
            earlier = since.read_bytes()
        except OSError as error:
            raise typer.BadParameter(
                f"cannot read {since}: {error}", param_hint="--since"
            ) from None
    source = DirectorySource(directory) if directory is not None else HttpSource(url or "")
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("entries", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = verify_log(source, verifier, since=earlier, progress=progress)
        except LogInconsistent as error:
            bar.stop()
            errors.print(f"[red]INCONSISTENT:[/red] {error}")
            raise typer.Exit(1) from None
    extends = (
        f"; extends the earlier checkpoint of {result.since.size} entries"
        if result.since is not None
        else ""
    )
    console.print(
        f"OK: {result.checkpoint.origin} has {result.entries} entries, root "
        f"{result.checkpoint.root_hash.hex()}; {result.tiles} tiles recomputed{extends}"
    )


@receipt_app.command(
    "verify", epilog="Example: pouch receipt verify receipt.txt --entry entry.bin --vkey log.vkey"
)
def receipt_verify(
    receipt: Annotated[Path, typer.Argument(help="The receipt (c2sp.org/tlog-proof@v1).")],
    entry: Annotated[Path, typer.Option(help="The entry's exact bytes.")],
    vkey: Annotated[str, typer.Option(help="The log's verifier key, or a file holding it.")],
) -> None:
    """Check a receipt offline: the entry is in the log under a checkpoint the key signed."""
    from pouch.ledger.errors import LedgerFormatError
    from pouch.ledger.receipt import verify_receipt

    verifier = _read_vkey(vkey)
    try:
        data, entry_bytes = receipt.read_bytes(), entry.read_bytes()
    except OSError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    try:
        verified = verify_receipt(data, entry_bytes, log=verifier)
    except LedgerFormatError as error:
        errors.print(f"[red]INVALID:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(
        f"OK: entry {verified.index} is in {verified.checkpoint.origin} "
        f"at tree size {verified.checkpoint.size}"
    )


@office_app.command(
    "check",
    epilog=(
        "Example: pouch office check --url http://127.0.0.1:8000 --office 2 "
        "--token pouch_… --vkey log.vkey"
    ),
)
def office_check(
    url: Annotated[str, typer.Option(help="Pouch's base URL.")],
    office: Annotated[int, typer.Option(help="The office's id.")],
    token: Annotated[
        str, typer.Option(help="An API token of a member of the office.", envvar="POUCH_TOKEN")
    ],
    vkey: Annotated[str, typer.Option(help="The log's verifier key, or a file holding it.")],
) -> None:
    """Check every message accepted for an office against the log, and find gaps.

    Each opening the office receives is recomputed into its log entry and proven
    in the log under a checkpoint signed by the log's key; the office's sequence
    numbers must then run 1, 2, 3 … without a hole.
    """
    from pouch.messages.check import OfficeCheckFailed, check_office

    verifier = _read_vkey(vkey)
    try:
        report = check_office(url, office_id=office, token=token, log_key=verifier)
    except OfficeCheckFailed as error:
        errors.print(f"[red]FAILED:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(f"{report.verified} messages verified in the log, sequence 1..{report.highest}")
    if report.gaps:
        for first, last in report.gaps:
            missing = f"{first}" if first == last else f"{first}..{last}"
            errors.print(
                f"[red]GAP:[/red] sequence numbers {missing} were never shown to this office"
            )
        raise typer.Exit(1)
    console.print("no gaps")


AsUser = Annotated[str, typer.Option("--as", help="The officer acting (a user name).")]


def _officer(session: Session, username: str) -> int:
    from pouch.identity import service as identity_service

    user = identity_service.get_user_by_username(session, username)
    actor = identity_service.actor_for_user(session, user)
    if not actor.holds_in_operations(Role.WATCH_OFFICER):
        raise PermissionDeniedError(f"{username} is not a watch officer of the operations center")
    return user.id


@messages_app.command("queue", epilog="Example: pouch messages queue")
def messages_queue(ctx: typer.Context) -> None:
    """List undelivered messages, most urgent and nearest deadline first."""
    from pouch.messages import service as message_service

    table = Table("id", "precedence", "from", "subject", "deliver by (UTC)", "state", "overdue")
    with _transaction(_settings(ctx)) as session:
        names = message_service.office_names(session)
        for m in message_service.queue(session):
            table.add_row(
                m.public_id,
                m.precedence.value,
                names.get(m.sender_office_id, "?"),
                m.subject,
                m.deliver_by.strftime("%Y-%m-%d %H:%M"),
                message_service.held_notice(m, names) or m.state.value,
                "OVERDUE" if m.overdue_at else "",
            )
    console.print(table)


@messages_app.command("show", epilog="Example: pouch messages show m-0123456789abcdef0123")
def messages_show(
    ctx: typer.Context, message_id: Annotated[str, typer.Argument(help="The message's id.")]
) -> None:
    """Show a message's steps, each with its time and log index."""
    from pouch.messages import service as message_service

    table = Table("time (UTC)", "step", "log index", "details")
    with _transaction(_settings(ctx)) as session:
        message = message_service.get_message(session, message_id)
        console.print(f"{message.public_id}: {message.subject} [{message.state.value}]")
        for event in message_service.events_of(session, message):
            details = {k: v for k, v in event.details.items() if k != "message"}
            table.add_row(
                event.at.strftime("%Y-%m-%d %H:%M:%S"),
                event.kind,
                str(event.ledger_index),
                str(details),
            )
    console.print(table)


@messages_app.command("route", epilog="Example: pouch messages route m-0123… --as watch1")
def messages_route(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="The message's id.")],
    as_: AsUser,
) -> None:
    """Deliver a message from the queue now."""
    from pouch.messages import service as message_service

    with _transaction(_settings(ctx)) as session:
        message_service.route(
            session,
            public_id=message_id,
            actor_user_id=_officer(session, as_),
            now=SystemClock().now(),
        )
    console.print(f"{message_id} delivered")


@messages_app.command(
    "hold", epilog="Example: pouch messages hold m-0123… --minutes 60 --reason 'verify' --as watch1"
)
def messages_hold(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="The message's id.")],
    minutes: Annotated[int, typer.Option(min=1, help="How long to hold, once approved.")],
    reason: Annotated[str, typer.Option(help="Why: shown to the sender and the addressee.")],
    as_: AsUser,
) -> None:
    """Ask for a hold; a second officer must approve it before it takes effect."""
    from datetime import timedelta

    from pouch.messages import holds
    from pouch.settings import timetable

    settings = _settings(ctx)
    with _transaction(settings) as session:
        hold = holds.request_hold(
            session,
            public_id=message_id,
            officer_id=_officer(session, as_),
            reason=reason,
            duration=timedelta(minutes=minutes),
            now=SystemClock().now(),
            timetable=timetable(settings),
        )
    console.print(f"hold {hold.id} requested; it needs a second officer's approval")


def _hold_command(action: str, summary: str) -> None:
    def command(
        ctx: typer.Context,
        message_id: Annotated[str, typer.Argument(help="The message's id.")],
        hold_id: Annotated[int, typer.Argument(help="The hold's number.")],
        as_: AsUser,
    ) -> None:
        from pouch.messages import holds

        function = {
            "approve": holds.approve_hold,
            "release": holds.release_hold,
            "withdraw": holds.withdraw_hold,
        }[action]
        with _transaction(_settings(ctx)) as session:
            hold = function(
                session,
                public_id=message_id,
                hold_id=hold_id,
                officer_id=_officer(session, as_),
                now=SystemClock().now(),
            )
        console.print(f"hold {hold.id}: {hold.status.value}")

    command.__doc__ = summary
    messages_app.command(action, epilog=f"Example: pouch messages {action} m-0123… 7 --as watch2")(
        command
    )


_hold_command("approve", "Approve a hold as the second officer: it takes effect now.")
_hold_command("release", "End a hold in force: the message is delivered at once.")
_hold_command("withdraw", "Withdraw a hold request that was never approved.")


@messages_app.command("due", epilog="Example: pouch messages due")
def messages_due(ctx: typer.Context) -> None:
    """Do now what the background worker does: deliver what is due, expire holds,
    record overdue messages, send notifications."""
    import httpx

    from pouch.app import senders_for
    from pouch.messages import notify, worker

    settings = _settings(ctx)
    now = SystemClock().now()
    with _transaction(settings) as session:
        done = worker.run_due(session, now=now)
    with httpx.Client() as http, _transaction(settings) as session:
        sent = notify.send_pending(session, senders=senders_for(settings, http), now=now)
    console.print(
        f"delivered {done.delivered}, holds expired {done.expired}, "
        f"overdue {done.overdue}, notifications sent {sent}"
    )


@sender_app.command(
    "keygen", epilog="Example: pouch sender keygen --key-id ie-2026 --output ie-2026.seed"
)
def sender_keygen(
    key_id: Annotated[str, typer.Option(help="The key's name, as registered with Pouch.")],
    output: Annotated[Path, typer.Option(help="Where to write the private key (mode 0600).")],
) -> None:
    """Make a signing key for an office; prints the public key to register with Pouch."""
    import base64
    import os

    from pouch.intake.signatures import encode_public_key, generate_sender_key

    seed, public = generate_sender_key(key_id)
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        errors.print(f"[red]error:[/red] {output} exists")
        raise typer.Exit(1) from None
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(base64.b64encode(seed).decode() + "\n")
    console.print(f"wrote {output}; register this public key as {key_id!r}:")
    sys.stdout.write(encode_public_key(public) + "\n")


@sender_app.command(
    "send",
    epilog=(
        "Example: pouch sender send --url http://127.0.0.1:8000 --key-id ie-2026 "
        "--key-file ie-2026.seed --from 3 --to 2 --subject Hello --body 'Dear …'"
    ),
)
def sender_send(
    url: Annotated[str, typer.Option(help="Pouch's base URL.")],
    key_id: Annotated[str, typer.Option(help="The registered key's name.")],
    key_file: Annotated[Path, typer.Option(help="The private key written by keygen.")],
    from_office: Annotated[int, typer.Option("--from", help="The sender office's id.")],
    to_office: Annotated[int, typer.Option("--to", help="The addressee office's id.")],
    subject: Annotated[str, typer.Option(help="One line.")],
    token: Annotated[str, typer.Option(help="The sender's API token.", envvar="POUCH_TOKEN")],
    body: Annotated[str | None, typer.Option(help="The text (or use --body-file).")] = None,
    body_file: Annotated[Path | None, typer.Option(help="A file with the text.")] = None,
    precedence: Annotated[
        str, typer.Option(help="FLASH, IMMEDIATE, PRIORITY or ROUTINE.")
    ] = "ROUTINE",
    idempotency_key: Annotated[str | None, typer.Option(help="Makes retries safe.")] = None,
) -> None:
    """Sign and submit a message (RFC 9421); prints its id and the receipt's opening."""
    import base64
    import json

    import httpx

    from pouch.intake.signatures import sign_request

    if (body is None) == (body_file is None):
        raise typer.BadParameter("give exactly one of --body and --body-file", param_hint="--body")
    text = (
        body if body is not None else (body_file.read_text(encoding="utf-8") if body_file else "")
    )
    try:
        seed = base64.b64decode(key_file.read_text(encoding="ascii").strip(), validate=True)
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"cannot read the key: {error}", param_hint="--key-file") from None
    payload = json.dumps(
        {
            "sender_office_id": from_office,
            "addressee_office_id": to_office,
            "subject": subject,
            "body": text,
            "precedence": precedence,
        }
    ).encode()
    target = url.rstrip("/") + "/api/messages"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    headers |= sign_request(
        method="POST", url=target, headers=headers, body=payload, key_id=key_id, private_key=seed
    )
    response = httpx.post(target, content=payload, headers=headers, timeout=30)
    if response.status_code not in (200, 201):
        errors.print(f"[red]refused ({response.status_code}):[/red] {response.text}")
        raise typer.Exit(1)
    accepted = response.json()
    console.print(
        f"accepted {accepted['id']} (sequence {accepted['office_sequence']} for the addressee)"
    )
    sys.stdout.write(json.dumps(accepted["receipt"], indent=2) + "\n")


language_app = typer.Typer(
    help="The language desk: identify, translate, and the translators' queue.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(language_app, name="language")

TextArgument = Annotated[str | None, typer.Argument(help="The text (or use --file).")]
TextFile = Annotated[Path | None, typer.Option("--file", help="A file holding the text (UTF-8).")]


def _text(text: str | None, file: Path | None) -> str:
    if (text is None) == (file is None):
        raise typer.BadParameter("give exactly one of TEXT and --file", param_hint="TEXT/--file")
    if file is None:
        return text or ""
    try:
        data = file.read_bytes()
    except OSError as error:
        raise typer.BadParameter(f"cannot read {file}: {error}", param_hint="--file") from None
    # Bytes that are not UTF-8 become U+FFFD, which the detector counts as binary junk.
    return data.decode("utf-8", errors="replace")


@language_app.command(
    "detect", epilog="Example: pouch language detect 'Obrigado pela sua carta.' --declared pt-BR"
)
def language_detect(
    ctx: typer.Context,
    text: TextArgument = None,
    file: TextFile = None,
    declared: Annotated[
        str | None, typer.Option(help="The language the sender declared, e.g. pt-BR.")
    ] = None,
    subject: Annotated[str, typer.Option(help="A subject line, read with the text.")] = "",
) -> None:
    """Identify the language of a text among POUCH_LANGUAGE_SET, as the desk does a message's."""
    from pouch.language.service import Desk, judge

    body = _text(text, file)
    desk = Desk.from_settings(_settings(ctx))
    desk.close()  # only its detector is needed
    detector = desk.detector
    detection, _ = judge(detector.detect(subject, body, declared), declared, detector.languages)
    console.print(
        f"language: {detection.language or '-'} ({detection.status.value}, "
        f"confidence {detection.confidence:.2f})",
        markup=False,
        highlight=False,
    )
    console.print(f"reason: {detection.reason}", markup=False, highlight=False)
    if detection.alternatives:
        console.print(
            "alternatives: "
            + ", ".join(f"{c.language} {c.confidence:.2f}" for c in detection.alternatives),
            markup=False,
            highlight=False,
        )


@language_app.command(
    "translate",
    epilog="Example: pouch language translate --from pt --to en 'Obrigado pela sua carta.'",
)
def language_translate(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", help="The text's language (ISO 639-1).")],
    text: TextArgument = None,
    file: TextFile = None,
    target: Annotated[
        str | None,
        typer.Option("--to", help="The language wanted (default: POUCH_TRANSLATION_TARGET)."),
    ] = None,
) -> None:
    """Translate a text through the engines of POUCH_TRANSLATION_ENGINES; prints the
    translation and which engine made it."""
    from pouch.language.service import Desk
    from pouch.language.translate import TranslationError

    settings = _settings(ctx)
    body = _text(text, file)
    desk = Desk.from_settings(settings)
    try:
        result = desk.chain.translate(body, source, target or settings.translation_target)
    except (TranslationError, ValueError) as error:
        errors.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        desk.close()
    sys.stdout.write(result.text.rstrip("\n") + "\n")
    console.print(f"credit: {result.credit}", markup=False, highlight=False)


@language_app.command("queue", epilog="Example: pouch language queue --machine")
def language_queue(
    ctx: typer.Context,
    machine: Annotated[
        bool, typer.Option("--machine", help="Also list machine translations nobody reviewed.")
    ] = False,
) -> None:
    """List the translations waiting for a translator, most urgent message first."""
    from rich.text import Text

    from pouch.language import service as language_service

    table = Table(
        "id", "message", "precedence", "pair", "status", "translator", "since (UTC)", "why"
    )
    with _transaction(_settings(ctx)) as session:
        for entry in language_service.queue(session, include_machine=machine):
            item = entry.translation
            table.add_row(
                str(item.id),
                entry.message.public_id,
                entry.message.precedence.value,
                f"{item.source}->{item.target}",
                item.status.value,
                Text(item.translator or ""),
                item.created_at.strftime("%Y-%m-%d %H:%M"),
                Text(item.error or item.made_by),
            )
    console.print(table)


@language_app.command("process", epilog="Example: pouch language process --limit 100")
def language_process(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option(min=1, help="Most messages to look at in this round.")
    ] = 100,
) -> None:
    """Identify and translate the messages the desk has not looked at yet: one round of what
    the background worker does."""
    from pouch.language.service import Desk
    from pouch.language.worker import run_round

    settings = _settings(ctx)
    desk = Desk.from_settings(settings)
    database = Database.from_url(settings.database_url)
    try:
        done = run_round(database, desk=desk, clock=SystemClock(), limit=limit)
    finally:
        database.dispose()
        desk.close()
    console.print(f"language desk: {done}", markup=False, highlight=False)


@language_app.command("work", epilog="Example: POUCH_LANGUAGE_IN_PROCESS=false pouch language work")
def language_work(ctx: typer.Context) -> None:
    """Run the language desk's worker as a process of its own, until interrupted: what
    `pouch serve` does in a thread unless POUCH_LANGUAGE_IN_PROCESS is false."""
    import signal

    from pouch.language.service import Desk
    from pouch.language.worker import LanguageWorker

    settings = _settings(ctx)
    desk = Desk.from_settings(settings)
    database = Database.from_url(settings.database_url)
    worker = LanguageWorker(
        database,
        desk=desk,
        clock=SystemClock(),
        interval=settings.language_interval.total_seconds(),
    )
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    console.print("language desk: working; Ctrl-C stops", markup=False, highlight=False)
    worker.start()
    try:
        while not stopped.wait(1.0):  # a timed wait lets the signal handler run
            pass
    finally:
        worker.stop()
        database.dispose()
        desk.close()
    console.print("language desk: stopped", markup=False, highlight=False)


calls_app = typer.Typer(
    help="The call desk: requests, the order of precedence, schedules, call sheets, calendars.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(calls_app, name="calls")
precedence_app = typer.Typer(
    help="The order of precedence the schedules follow.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
calls_app.add_typer(precedence_app, name="precedence")
OfficeSlug = Annotated[
    str | None,
    typer.Option("--office", help="The principal's office (slug); the only one when omitted."),
]


def _acting(session: Session, username: str, roles: tuple[Role, ...], what: str) -> int:
    from pouch.identity import service as identity_service

    user = identity_service.get_user_by_username(session, username)
    actor = identity_service.actor_for_user(session, user)
    if not any(actor.holds_in_operations(role) for role in roles):
        raise PermissionDeniedError(f"{username} is not {what} of the operations center")
    return user.id


def _call_desk_officer(session: Session, username: str) -> int:
    roles = (Role.WATCH_OFFICER, Role.PROTOCOL_OFFICER)
    return _acting(session, username, roles, "a watch officer or protocol officer")


def _parse_date(value: str, hint: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2026-11-09", param_hint=hint
        ) from None


def _validation_failed(error: ValidationError) -> NoReturn:
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "input"
        errors.print(f"[red]error:[/red] {where}: {problem['msg']}")
    raise typer.Exit(1)


def _print_schedule(view: call_service_module.ScheduleView) -> None:
    from pouch.calls.sheet import CALL_SHEET_COLUMNS

    run = view.run
    gap = f", gap {run.gap:.1%}" if run.gap is not None else ""
    console.print(
        f"schedule run {run.id} ({run.method}, {run.status}{gap}, {run.wall_time_s:.1f} s): "
        f"{len(view.calls)} calls, {len(view.left_out)} left out; weighted score "
        f"{run.weighted_score}, precedence inversions {run.inversions}, confirmed calls moved "
        f"{run.moves}; times in UTC, the principal's ({view.principal_time_zone}) and the leader's"
    )
    table = Table("call", *CALL_SHEET_COLUMNS, "status", title="Call sheet")
    for call in view.calls:
        status = "confirmed" if call.confirmed else "to confirm"
        table.add_row(call.request.public_id, *call.row.cells(), status)
    console.print(table)
    if view.left_out:
        left = Table("call", "leader", "reason", "why", title="Left out")
        for out in view.left_out:
            left.add_row(out.request_id, out.leader_name, out.reason, out.detail or "")
        console.print(left)


@calls_app.command(
    "request",
    epilog=(
        "Example: pouch calls request --leader 'Hiroshi Tanabe' --from 2026-11-09 "
        "--to 2026-11-13 --minutes 30 --interpretation consecutive --as watch1"
    ),
)
def calls_request(
    ctx: typer.Context,
    leader: Annotated[str, typer.Option(help="The leader: a person's id or exact name.")],
    from_date: Annotated[str, typer.Option("--from", help="First day (principal's zone).")],
    to_date: Annotated[str, typer.Option("--to", help="Last day (principal's zone).")],
    minutes: Annotated[int, typer.Option(help="Talk time, before interpretation.")],
    as_: AsUser,
    interpretation: Annotated[
        str | None,
        typer.Option(help="none, consecutive or simultaneous (default: as the languages need)."),
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(help="The leader's languages, comma-separated (default: as listed)."),
    ] = None,
    leader_hours: Annotated[
        str | None, typer.Option(help="The leader's reasonable hours, e.g. 09:00-18:00.")
    ] = None,
    urgency: Annotated[int, typer.Option(min=0, max=10, help="Higher is more urgent.")] = 0,
    message: Annotated[str | None, typer.Option(help="A related message's id.")] = None,
    notes: Annotated[str, typer.Option(help="Anything the desk should know.")] = "",
    office: OfficeSlug = None,
) -> None:
    """Enter a call request for a leader, as the call desk."""
    from pouch.calls import service as call_service
    from pouch.calls.problem import Interpretation
    from pouch.calls.schemas import CallRequestIn, HoursIn

    try:
        mode = Interpretation(interpretation) if interpretation else None
    except ValueError:
        modes = ", ".join(m.value for m in Interpretation)
        raise typer.BadParameter(f"one of {modes}", param_hint="--interpretation") from None
    hours = None
    if leader_hours is not None:
        start, sep, end = leader_hours.partition("-")
        if not sep:
            raise typer.BadParameter("give hours as HH:MM-HH:MM", param_hint="--leader-hours")
        hours = {"start": start.strip(), "end": end.strip()}
    with _transaction(_settings(ctx)) as session:
        by = _call_desk_officer(session, as_)
        person = call_service.find_leader(session, leader)
        principal = call_service.principal_office_by_slug(session, office)
        try:
            data = CallRequestIn(
                leader_id=person.id,
                principal_office_id=principal.id,
                earliest_date=_parse_date(from_date, "--from"),
                latest_date=_parse_date(to_date, "--to"),
                talk_minutes=minutes,
                languages=languages.split(",") if languages else None,
                interpretation=mode,
                urgency=urgency,
                notes=notes,
                leader_hours=HoursIn.model_validate(hours) if hours else None,
                message_id=message,
            )
        except ValidationError as error:
            _validation_failed(error)
        request = call_service.create_request(
            session, data=data, sender_offices=None, entered_by_user_id=by, now=SystemClock().now()
        )
    console.print(
        f"requested {request.public_id}: {person.name}, {request.earliest_date} to "
        f"{request.latest_date}, {request.talk_minutes} min ({request.interpretation})"
    )


@calls_app.command("requests", epilog="Example: pouch calls requests --status unscheduled")
def calls_requests(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="Only requests in this state: requested, scheduled, confirmed, …"),
    ] = None,
) -> None:
    """List call requests with their place in the latest schedule, or why they were left out."""
    from pouch.calls import service as call_service
    from pouch.calls.models import CallStatus

    try:
        wanted = CallStatus(status) if status else None
    except ValueError:
        states = ", ".join(s.value for s in CallStatus)
        raise typer.BadParameter(f"one of {states}", param_hint="--status") from None
    table = Table("call", "leader", "window", "minutes", "mode", "status", "when (UTC) or why")
    with _transaction(_settings(ctx)) as session:
        for view in call_service.list_requests(session, viewer=call_service.DESK, status=wanted):
            request = view.request
            when = ""
            if view.call is not None:
                when = f"{view.call.start:%Y-%m-%d %H:%M}"
            elif view.left_out is not None:
                when = f"{view.left_out.reason}: {view.left_out.detail}"
            table.add_row(
                request.public_id,
                view.leader.name,
                f"{request.earliest_date} to {request.latest_date}",
                str(request.talk_minutes),
                request.interpretation,
                request.status.value,
                when,
            )
    console.print(table)


@calls_app.command(
    "confirm", epilog="Example: pouch calls confirm c-0123456789abcdef0123 --as watch1"
)
def calls_confirm(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help="The call request's id.")],
    as_: AsUser,
) -> None:
    """Confirm a call at its time in the latest schedule; re-planning keeps it there if it can."""
    from pouch.calls import service as call_service

    with _transaction(_settings(ctx)) as session:
        call_service.confirm_call(
            session,
            public_id=call,
            by_user_id=_call_desk_officer(session, as_),
            now=SystemClock().now(),
        )
    console.print(f"{call} confirmed")


@calls_app.command(
    "cancel",
    epilog="Example: pouch calls cancel c-0123456789abcdef0123 --reason 'Withdrawn' --as watch1",
)
def calls_cancel(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help="The call request's id.")],
    reason: Annotated[str, typer.Option(help="Why; logged.")],
    as_: AsUser,
) -> None:
    """Cancel a call request; its call leaves the call sheet and the calendars."""
    from pouch.calls import service as call_service

    with _transaction(_settings(ctx)) as session:
        call_service.cancel_request(
            session,
            public_id=call,
            by_user_id=_call_desk_officer(session, as_),
            reason=reason,
            now=SystemClock().now(),
        )
    console.print(f"{call} cancelled")


@precedence_app.command("show", epilog="Example: pouch calls precedence show --output ranking.yaml")
def calls_precedence_show(
    ctx: typer.Context,
    version: Annotated[int | None, typer.Option(help="An earlier version's number.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write it as YAML for 'precedence set' instead.")
    ] = None,
) -> None:
    """Show the order of precedence: tiers, and leaders in order within each."""
    from pouch.calls import service as call_service

    with _transaction(_settings(ctx)) as session:
        view = call_service.get_precedence(session, number=version)
    if output is not None:
        output.write_text(call_service.ranking_to_yaml(view), encoding="utf-8")
        console.print(f"wrote {output}")
        return
    console.print(
        f"version {view.version.number} of {view.version.created_at:%Y-%m-%d %H:%M} UTC: "
        f"{view.version.reason}"
    )
    table = Table("tier", "position", "person", "leader", "country")
    for rank, person in view.ranks:
        table.add_row(
            str(rank.tier), str(rank.position), str(person.id), person.name, person.country_code
        )
    console.print(table)


@precedence_app.command(
    "set",
    epilog=(
        "Example: pouch calls precedence set ranking.yaml --reason 'After the summit' --as protocol"
    ),
)
def calls_precedence_set(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            help="YAML ('tiers:' lists of leaders in order) or CSV (person,tier,position); "
            "a leader is a person's id or exact name."
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why the order changes; logged.")],
    as_: AsUser,
) -> None:
    """Replace the order of precedence with a new version (protocol officers, administrators)."""
    from pouch.calls import service as call_service
    from pouch.calls.schemas import PrecedenceIn

    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        errors.print(f"[red]error:[/red] {source}: {error}")
        raise typer.Exit(1) from None
    kind: Literal["csv", "yaml"] = "csv" if source.suffix.lower() == ".csv" else "yaml"
    with _transaction(_settings(ctx)) as session:
        by = _acting(
            session,
            as_,
            (Role.PROTOCOL_OFFICER, Role.ADMINISTRATOR),
            "a protocol officer or administrator",
        )
        ranks = call_service.ranking_from_text(session, text=text, format=kind)
        try:
            data = PrecedenceIn(reason=reason, ranks=ranks)
        except ValidationError as error:
            _validation_failed(error)
        view = call_service.set_precedence(
            session, data=data, author_user_id=by, now=SystemClock().now()
        )
    console.print(
        f"order of precedence version {view.version.number}: {len(view.ranks)} leaders "
        f"(log index {view.version.ledger_index})"
    )


@calls_app.command(
    "schedule",
    epilog="Example: pouch calls schedule --time-limit 10 --seed 1 --as watch1",
)
def calls_schedule(
    ctx: typer.Context,
    as_: AsUser,
    method: Annotated[
        str, typer.Option(help="solver (CP-SAT) or greedy (the baseline).")
    ] = "solver",
    time_limit: Annotated[
        float, typer.Option(min=0, max=600, help="The solver's budget, in seconds.")
    ] = 10.0,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same schedule.")] = 0,
    office: OfficeSlug = None,
) -> None:
    """Schedule every open request from now on, showing the solver's progress; prints the call
    sheet and the requests left out, each with its reason."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pouch.calls import service as call_service
    from pouch.calls.solver import SolveProgress

    if method not in ("solver", "greedy"):
        raise typer.BadParameter("solver or greedy", param_hint="--method")
    settings = _settings(ctx)
    now = SystemClock().now()
    # Three steps, so that the solve holds no database lock: read, solve, write.
    with _transaction(settings) as session:
        by = _call_desk_officer(session, as_)
        options = call_service.solver_options(time_limit_s=time_limit, seed=seed)
        principal = call_service.principal_office_by_slug(session, office)
        prepared = call_service.prepare_schedule(session, office_id=principal.id, now=now)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(
            f"{method}: {len(prepared.problem.requests)} requests", total=time_limit
        )

        def progress(update: SolveProgress) -> None:
            bar.update(
                task,
                completed=min(update.elapsed_s, time_limit),
                description=f"{update.stage}: {update.objective} (bound {update.bound})",
            )

        schedule = call_service.compute_schedule(
            prepared,
            method="greedy" if method == "greedy" else "solver",
            options=options,
            progress=progress,
        )
    with _transaction(settings) as session:
        run = call_service.store_schedule(
            session,
            prepared=prepared,
            schedule=schedule,
            by_user_id=by,
            options={"method": method, "time_limit_s": time_limit, "seed": seed},
            now=now,
        )
        view = call_service.schedule_view(session, run=run)
    _print_schedule(view)


@calls_app.command("sheet", epilog="Example: pouch calls sheet")
def calls_sheet(ctx: typer.Context, office: OfficeSlug = None) -> None:
    """Print the latest call sheet and the requests left out, with their reasons."""
    from pouch.calls import service as call_service

    with _transaction(_settings(ctx)) as session:
        principal = call_service.principal_office_by_slug(session, office)
        view = call_service.get_schedule(session, office_id=principal.id, viewer=call_service.DESK)
    _print_schedule(view)


@calls_app.command("ical", epilog="Example: pouch calls ical --output calls.ics")
def calls_ical(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="The .ics file to write.")],
    call: Annotated[
        str | None, typer.Option(help="Only this call request's call (its id).")
    ] = None,
    office: OfficeSlug = None,
) -> None:
    """Write the latest schedule, or one call, as an iCalendar file (RFC 5545)."""
    from urllib.parse import urlsplit

    from pouch.calls import service as call_service

    settings = _settings(ctx)
    domain = urlsplit(settings.public_url).hostname or "pouch.invalid"
    with _transaction(settings) as session:
        if call is not None:
            content = call_service.call_ical(
                session, public_id=call, viewer=call_service.DESK, domain=domain
            )
        else:
            principal = call_service.principal_office_by_slug(session, office)
            view = call_service.get_schedule(
                session, office_id=principal.id, viewer=call_service.DESK
            )
            content = call_service.schedule_ical(view, domain=domain)
    output.write_bytes(content)
    events = content.count(b"BEGIN:VEVENT")
    console.print(f"wrote {output} ({events} call{'s' if events != 1 else ''})")


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
