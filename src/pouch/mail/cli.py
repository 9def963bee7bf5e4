"""``pouch mail``: the operator's mail intake, on the server, with the database."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from pouch.cli_support import console, errors, settings_of, sub_app, transaction, upgrade_database

mail_app = sub_app("The mail intake: the SMTP/LMTP listener and its quarantine.")


@mail_app.command(
    "serve",
    epilog=(
        "Example: pouch mail serve --port 2525   (behind Postfix: pouch mail serve --lmtp "
        "--port 2424)"
    ),
)
def mail_serve(
    ctx: typer.Context,
    lmtp: Annotated[
        bool, typer.Option(help="Speak LMTP, for a front MTA such as Postfix, not SMTP.")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="Listen address (default: POUCH_MAIL_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port (default: POUCH_MAIL_PORT).")
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help=(
                "Processes accepting mail on the port, one core each (default: "
                "POUCH_MAIL_PROCESSES); one that dies is started again."
            ),
        ),
    ] = None,
    listen_fd: Annotated[
        int | None,
        typer.Option(hidden=True, help="A sibling of --processes: the socket to accept from."),
    ] = None,
) -> None:
    """Receive mail for the offices: stored and logged before 250, then accepted as a
    message or quarantined. Integrates the log as `pouch serve` does."""
    import socket

    from pouch.clock import SystemClock
    from pouch.db import Database
    from pouch.groupcommit import GroupCommitter
    from pouch.ledger.cli import ensure_key
    from pouch.ledger.service import Ledger
    from pouch.mail.flows import intake_from_settings
    from pouch.mail.server import MailServer, Siblings, listening_socket, tls_context

    settings = settings_of(ctx)
    if (settings.mail_tls_cert is None) != (settings.mail_tls_key is None):
        errors.print("[red]error:[/red] set both POUCH_MAIL_TLS_CERT and POUCH_MAIL_TLS_KEY")
        raise typer.Exit(2)
    sibling = listen_fd is not None
    count = settings.mail_processes if processes is None else processes
    if not sibling:  # the first process prepares what every sibling relies on
        upgrade_database(settings)
        ensure_key(settings)
    clock = SystemClock()
    database = Database.from_url(settings.database_url)
    ledger = Ledger.from_settings(settings, database=database, clock=clock)
    # Concurrent sessions' writes share commits, as acceptances over HTTP do.
    committer = GroupCommitter(
        database,
        window=settings.log_batch_window.total_seconds(),
        max_batch=settings.log_batch_size,
        name="mail-commit",
        after_commit=ledger.integrator.wake,
        turns=ledger.turns,
    )
    intake = intake_from_settings(settings, database=database, clock=clock, committer=committer)
    tls = (
        tls_context(settings.mail_tls_cert, settings.mail_tls_key)
        if settings.mail_tls_cert is not None and settings.mail_tls_key is not None
        else None
    )
    listen_host = host or settings.mail_host
    listen_port = settings.mail_port if port is None else port
    if sibling:
        sock: socket.socket | None = socket.socket(fileno=listen_fd)
    else:
        sock = listening_socket(listen_host, listen_port) if count > 1 else None
    server = MailServer(
        intake,
        host=listen_host,
        port=listen_port,
        hostname=settings.mail_hostname,
        max_bytes=settings.mail_max_bytes,
        tls=tls,
        lmtp=lmtp,
        sock=sock,
    )
    committer.start()
    ledger.start()
    if not sibling:
        # Mail stored by a process that stopped before reading it is read now, before
        # any sibling starts.
        for outcome in intake.process_pending():
            console.print(f"mail {outcome.mail_id}: {outcome.reply()}")
    bound = server.start()
    siblings = None
    if sock is not None and not sibling:
        siblings = Siblings(sock, count - 1, options=["--lmtp"] if lmtp else [])
        siblings.start()
    if not sibling:
        console.print(
            f"{'LMTP' if lmtp else 'SMTP'} on {server.host}:{bound}"
            f"{' with STARTTLS' if tls is not None else ''}"
            f"{f' in {count} processes' if count > 1 else ''}; Ctrl-C stops"
        )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        # A signal may land on another thread, and Python runs its handler only when the
        # main thread wakes: wake it twice a second.
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if siblings is not None:
            siblings.stop()
        server.stop()
        committer.stop()
        ledger.stop()
        database.dispose()


@mail_app.command("quarantine", epilog="Example: pouch mail quarantine")
def mail_quarantine(ctx: typer.Context) -> None:
    """List the mail waiting for a watch officer, and count every arrival by state."""
    from pouch.mail import service as mail_service

    with transaction(settings_of(ctx)) as session:
        for mail in mail_service.quarantined(session):
            console.print(
                f"{mail.id}  {mail.received_at:%Y-%m-%d %H:%M}Z  {mail.from_address or '?'}  "
                f"{mail.subject or ''}\n    {mail.reason}",
                markup=False,
                highlight=False,
            )
        counts = mail_service.counts(session)
    console.print(", ".join(f"{state} {n}" for state, n in counts.items()))


@mail_app.command(
    "dkim-record",
    epilog=(
        "Example: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem; "
        "POUCH_MAIL_DKIM_KEY=dkim.pem pouch mail dkim-record"
    ),
)
def mail_dkim_record(ctx: typer.Context) -> None:
    """Print the DNS TXT record to publish for POUCH_MAIL_DKIM_KEY, the key Pouch signs
    its e-mails with: its name, then its value."""
    from pouch.messages.outbox import signer_of

    signer = signer_of(settings_of(ctx))
    if signer is None:
        errors.print(
            "[red]error:[/red] POUCH_MAIL_DKIM_KEY is not set: Pouch's e-mails go unsigned"
        )
        raise typer.Exit(1)
    console.print(f"{signer.record_name}. IN TXT", markup=False, highlight=False)
    console.print(signer.record, markup=False, highlight=False)


@mail_app.command(
    "mailbox",
    epilog="Example: pouch mail mailbox --maildir var/mailbox --port 0   (make run starts it)",
)
def mail_mailbox(
    maildir: Annotated[
        Path, typer.Option(help="Where each mail is filed: a Maildir per recipient domain.")
    ] = Path("var/mailbox"),
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port; 0 for a free one, printed.")] = 0,
) -> None:
    """For the demo: a mail server standing for a foreign office's own, which files every
    mail it is given into a Maildir per recipient domain (<maildir>/<domain>/new/).
    `make run` points Pouch's SMTP relay at it,
    so that Pouch's answers land there. It relays nothing: never expose it."""
    import asyncio
    import contextlib

    from pouch.demo import mail as mail_demo

    def ready(bound: int) -> None:
        console.print(
            f"mailbox: SMTP on {host}:{bound}, filing into {maildir}/<domain> (Maildir); "
            "Ctrl-C stops",
            markup=False,
            highlight=False,
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            mail_demo.serve_mailbox(
                maildir, host=host, port=port, hostname=mail_demo.DOMAIN, ready=ready
            )
        )


@mail_app.command(
    "send-demo",
    epilog=(
        'Example: pouch mail send-demo --subject "Congratulations" --body "Dear '
        'President-elect, ..."   (with make run serving)'
    ),
)
def mail_send_demo(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option(help="The letter's subject.")] = (
        "Congratulations on your election"
    ),
    body: Annotated[str, typer.Option(help="The letter's text.")] = (
        "Dear President-elect,\n\nThe Prime Minister sends her warm congratulations "
        "and hopes to speak with you this week.\n\nPrivate Office, 10 Downing Street"
    ),
    to: Annotated[str, typer.Option(help="The recipient address.")] = "",
    unsigned: Annotated[
        bool, typer.Option(help="Send it without its DKIM signature (it is quarantined).")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="Pouch's SMTP host (default: POUCH_MAIL_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Pouch's SMTP port (default: POUCH_MAIL_PORT).")
    ] = None,
) -> None:
    """For the demo: a letter from the Prime Minister's Office (number10.example),
    DKIM-signed with the demo's key for it (in <data_dir>/demo-mail, pinned by `pouch
    demo`), sent over SMTP to `pouch mail serve`. Prints the server's answer."""
    from pouch.demo import mail as mail_demo

    settings = settings_of(ctx)
    key = None if unsigned else mail_demo.office_key(settings.data_dir)
    raw = mail_demo.letter(key, subject=subject, body=body, to=to or mail_demo.TO)
    where = (host or settings.mail_host, settings.mail_port if port is None else port)
    try:
        code, said = mail_demo.send(raw, host=where[0], port=where[1], to=to or mail_demo.TO)
    except OSError as error:
        errors.print(
            f"[red]error:[/red] no mail server at {where[0]}:{where[1]} ({error}); "
            "is `make run` serving?"
        )
        raise typer.Exit(1) from None
    console.print(f"{code} {said}", markup=False, highlight=False)
    if code != 250:
        raise typer.Exit(1)
