"""``pouch messages`` and ``pouch office``: the watch floor and an office's own check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from pouch.cli_support import (
    AsUser,
    console,
    errors,
    read_vkey,
    settings_of,
    sub_app,
    transaction,
)
from pouch.clock import SystemClock
from pouch.errors import PermissionDenied

if TYPE_CHECKING:
    from pouch.messages.holds import HoldAction

office_app = sub_app("An office's own checks.")
messages_app = sub_app("The watch floor from the command line: queue, route, holds, deadlines.")


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

    verifier = read_vkey(vkey)
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


@office_app.command(
    "tag-key", epilog="Example: pouch office tag-key --office 2 --as admin-ie > tag-key.txt"
)
def office_tag_key(
    ctx: typer.Context,
    office: Annotated[int, typer.Option(help="The office's id.")],
    as_: AsUser,
) -> None:
    """Give an office a new tag key, shown once: keep it.

    With its keys an office finds, in the public log, every entry about it, those
    the server does not show included (docs/log-format.md). The rotation is logged
    as tag-key.rotated, tagged with the old key; the new key applies from the
    counter printed. The first rotation also prints the key Pouch made at the
    office's first event, which finds the entries before. Only an administrator
    of the office may do this.
    """
    import base64

    from pouch.identity import service as identity_service
    from pouch.messages import office_tags

    with transaction(settings_of(ctx)) as session:
        user = identity_service.get_user_by_username(session, as_)
        rotation = office_tags.rotate_key(
            session,
            office_id=office,
            actor=identity_service.actor_for_user(session, user),
            now=SystemClock().now(),
        )
    if rotation.previous is not None:
        key, first = rotation.previous
        console.print(f"key {base64.b64encode(key).decode()} from counter {first}")
    console.print(
        f"key {base64.b64encode(rotation.key).decode()} from counter {rotation.from_counter}"
    )
    errors.print("Keep these keys: Pouch never shows them again.")


def _officer(session: Session, username: str) -> int:
    """The watch officer acting: who may act on the queue, as in the API and the pages."""
    from pouch.identity import service as identity_service
    from pouch.messages import access

    user = identity_service.get_user_by_username(session, username)
    if not access.may_act_on_queue(identity_service.actor_for_user(session, user)):
        raise PermissionDenied(f"{username} is not a watch officer of the operations center")
    return user.id


@messages_app.command("queue", epilog="Example: pouch messages queue")
def messages_queue(ctx: typer.Context) -> None:
    """List undelivered messages, most urgent and nearest deadline first."""
    from pouch.messages import service as message_service

    table = Table("id", "precedence", "from", "subject", "deliver by (UTC)", "state", "overdue")
    now = SystemClock().now()
    with transaction(settings_of(ctx)) as session:
        names = message_service.office_names(session)
        for m in message_service.queue(session):
            table.add_row(
                m.public_id,
                m.precedence.value,
                names.of(m.sender_office_id),
                m.subject,
                m.deliver_by.strftime("%Y-%m-%d %H:%M"),
                message_service.held_notice(m, names) or m.state.value,
                "OVERDUE" if message_service.is_overdue(m, now) else "",
            )
    console.print(table)


@messages_app.command("show", epilog="Example: pouch messages show m-0123456789abcdef0123")
def messages_show(
    ctx: typer.Context, message_id: Annotated[str, typer.Argument(help="The message's id.")]
) -> None:
    """Show a message's steps, each with its time and log index."""
    from pouch.messages import service as message_service

    table = Table("time (UTC)", "step", "log index", "details")
    with transaction(settings_of(ctx)) as session:
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

    with transaction(settings_of(ctx)) as session:
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
    from pouch.messages.rules import Timetable

    settings = settings_of(ctx)
    with transaction(settings) as session:
        hold = holds.request_hold(
            session,
            public_id=message_id,
            officer_id=_officer(session, as_),
            reason=reason,
            duration=timedelta(minutes=minutes),
            now=SystemClock().now(),
            timetable=Timetable.from_settings(settings),
        )
    console.print(f"hold {hold.id} requested; it needs a second officer's approval")


def _hold_command(action: HoldAction, summary: str) -> None:
    def command(
        ctx: typer.Context,
        message_id: Annotated[str, typer.Argument(help="The message's id.")],
        hold_id: Annotated[int, typer.Argument(help="The hold's number.")],
        as_: AsUser,
    ) -> None:
        from pouch.messages import holds

        with transaction(settings_of(ctx)) as session:
            hold = holds.act(
                session,
                action=action,
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
    """Do now what the background worker and the outbox do: deliver what is due, expire
    holds, record overdue messages, send notifications (outside the transaction)."""
    import httpx

    from pouch.db import Database
    from pouch.messages import outbox, worker

    settings = settings_of(ctx)
    clock = SystemClock()
    database = Database.from_url(settings.database_url)
    done = worker.run_due_in_batches(database, clock=clock)
    with httpx.Client(follow_redirects=False) as http:
        sender = outbox.Outbox(
            database,
            clock=clock,
            transport=outbox.Transport.from_settings(settings, http),
            interval=settings.worker_interval.total_seconds(),
            lease=settings.notify_lease,
            concurrency=settings.notify_concurrency,
            per_endpoint=settings.notify_per_endpoint,
        )
        try:
            sent = sender.run_once()
        finally:
            sender.close()
            database.dispose()
    failed = f", {done.failed} rows failed (see pouch messages failures)" if done.failed else ""
    console.print(
        f"delivered {done.delivered}, holds expired {done.expired}, overdue {done.overdue}, "
        f"notifications sent {sent.sent} (to retry {sent.retried}, given up {sent.failed})"
        f"{failed}"
    )
