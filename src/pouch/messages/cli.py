"""``pouch messages`` and ``pouch office``: the watch floor and an office's own check.

Each command acts as the person logged in (``pouch login``), through the HTTP
API, which applies that person's rights and logs that person's name; none
opens the database. ``pouch messages due``, the operator's, is in
``operator_cli.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from pouch.cli_client import (
    TIMEOUT,
    AsJson,
    CliProblem,
    Unreachable,
    load,
    office_id,
    officer,
    print_json,
    report,
    utc,
)
from pouch.cli_common import console, errors, read_vkey, sub_app

office_app = sub_app("An office's own checks.")
messages_app = sub_app("The watch floor from the command line: queue, route, holds, deadlines.")

MessageId = Annotated[str, typer.Argument(help="The message's id.")]


@office_app.command(
    "check",
    epilog="Example: pouch office check --office president-elect --vkey log.vkey",
)
def office_check(
    office: Annotated[str, typer.Option(help="The office's id or slug.")],
    vkey: Annotated[str, typer.Option(help="The log's verifier key, or a file holding it.")],
    url: Annotated[
        str | None, typer.Option(help="Pouch's base URL (default: as pouch login kept it).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="An API token of a member of the office (default: as pouch login kept it).",
            envvar="POUCH_TOKEN",
        ),
    ] = None,
) -> None:
    """Check every message accepted for an office against the log, and find gaps.

    Each opening the office receives is recomputed into its log entry and proven
    in the log under a checkpoint signed by the log's key; the office's sequence
    numbers must then run 1, 2, 3 … without a hole.
    """
    import os

    from pouch.messages.check import OfficeCheckFailed, check_office

    verifier = read_vkey(vkey)
    environ = dict(os.environ)
    if url:
        environ["POUCH_URL"] = url
    if token:
        environ["POUCH_TOKEN"] = token
    try:
        member = load(environ)
    except CliProblem as problem:
        report(problem)
        raise typer.Exit(1) from None
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:

            def offices() -> list[dict[str, Any]]:
                listed = http.get(
                    member.url.rstrip("/") + "/api/offices",
                    headers={"Authorization": f"Bearer {member.token}"},
                )
                return list(listed.json()) if listed.status_code == 200 else []

            office_ref = office_id(office, offices, option="--office")
            result = check_office(
                member.url,
                office_id=office_ref,
                token=member.token,
                log_key=verifier,
                client=http,
                read_ahead=8,
            )
    except CliProblem as problem:
        report(problem)
        raise typer.Exit(1) from None
    except OfficeCheckFailed as error:
        errors.print(f"[red]FAILED:[/red] {error}")
        raise typer.Exit(1) from None
    except httpx.HTTPError as error:
        report(Unreachable(f"Pouch at {member.url}: {error}"))
        raise typer.Exit(1) from None
    console.print(f"{result.verified} messages verified in the log, sequence 1..{result.highest}")
    if result.gaps:
        for first, last in result.gaps:
            missing = f"{first}" if first == last else f"{first}..{last}"
            errors.print(
                f"[red]GAP:[/red] sequence numbers {missing} were never shown to this office"
            )
        raise typer.Exit(1)
    console.print("no gaps")


@office_app.command(
    "tag-key", epilog="Example: pouch office tag-key --office ie-taoiseach > tag-key.txt"
)
def office_tag_key(office: Annotated[str, typer.Option(help="The office's id or slug.")]) -> None:
    """Give an office a new tag key, shown once: keep it.

    With its keys an office finds, in the public log, every entry about it, those
    the server does not show included (docs/log-format.md). The rotation is logged
    as tag-key.rotated, tagged with the old key; the new key applies from the
    counter printed. The first rotation also prints the key Pouch made at the
    office's first event, which finds the entries before. Only an administrator
    of the office may do this (log in with a token of that role).
    """
    with officer() as api:
        office_ref = office_id(office, lambda: list(api.get("/api/offices")), option="--office")
        rotation = api.post(f"/api/offices/{office_ref}/tag-key")
    previous = rotation["previous"]
    if previous is not None:
        console.print(f"key {previous['key']} from counter {previous['from_counter']}")
    console.print(f"key {rotation['key']} from counter {rotation['from_counter']}")
    errors.print("Keep these keys: Pouch never shows them again.")


def _overdue(message: dict[str, Any], now: datetime) -> bool:
    """Marked overdue, or still undelivered at its deadline (before the worker marks it)."""
    undelivered = message["state"] in ("accepted", "held")
    return message["overdue_at"] is not None or (undelivered and utc(message["deliver_by"]) <= now)


@messages_app.command("queue", epilog="Example: pouch messages queue")
def messages_queue(as_json: AsJson = False) -> None:
    """List undelivered messages, most urgent and nearest deadline first."""
    table = Table("id", "precedence", "from", "subject", "deliver by (UTC)", "state", "overdue")
    with officer() as api:
        queue = api.get("/api/queue")
        if as_json:
            print_json(queue)
            return
        names = {office["id"]: office["name"] for office in api.get("/api/offices")}
    now = datetime.now(UTC)
    for m in queue:
        table.add_row(
            m["id"],
            m["precedence"],
            names.get(m["sender_office_id"], f"office {m['sender_office_id']}"),
            m["subject"],
            f"{utc(m['deliver_by']):%Y-%m-%d %H:%M}",
            m["held"] or m["state"],
            "OVERDUE" if _overdue(m, now) else "",
        )
    console.print(table)


@messages_app.command("show", epilog="Example: pouch messages show m-0123456789abcdef0123")
def messages_show(message_id: MessageId, as_json: AsJson = False) -> None:
    """Show a message's steps, each with its time and log index."""
    table = Table("time (UTC)", "step", "log index", "details")
    with officer() as api:
        status = api.get(f"/api/messages/{message_id}/status")
    if as_json:
        print_json(status)
        return
    message = status["message"]
    console.print(f"{message['id']}: {message['subject']} [{message['state']}]")
    for event in status["events"]:
        details = {k: v for k, v in event["details"].items() if k != "message"}
        table.add_row(
            f"{utc(event['at']):%Y-%m-%d %H:%M:%S}",
            event["kind"],
            str(event["ledger_index"]),
            str(details),
        )
    console.print(table)


@messages_app.command("failures", epilog="Example: pouch messages failures")
def messages_failures(as_json: AsJson = False) -> None:
    """List the rows the background worker failed on and is still trying (auditors and
    administrators): each is also a ``worker.failed`` event in the log."""
    with officer() as api:
        failures = api.get("/api/worker/failures")
    if as_json:
        print_json(failures)
        return
    if not failures:
        console.print("The worker has no failing rows.")
        return
    table = Table("job", "row", "tries", "first (UTC)", "next try (UTC)", "log index", "error")
    for f in failures:
        table.add_row(
            f["job"],
            str(f["row_id"]),
            str(f["attempts"]),
            f"{utc(f['first_at']):%Y-%m-%d %H:%M}",
            f"{utc(f['retry_at']):%Y-%m-%d %H:%M}",
            str(f["ledger_index"]),
            f["error"],
        )
    console.print(table)


@messages_app.command("route", epilog="Example: pouch messages route m-0123…")
def messages_route(message_id: MessageId) -> None:
    """Deliver a message from the queue now (watch officers)."""
    with officer() as api:
        api.post(f"/api/messages/{message_id}/route")
    console.print(f"{message_id} delivered")


@messages_app.command(
    "hold", epilog="Example: pouch messages hold m-0123… --minutes 60 --reason 'verify'"
)
def messages_hold(
    message_id: MessageId,
    minutes: Annotated[int, typer.Option(min=1, help="How long to hold, once approved.")],
    reason: Annotated[str, typer.Option(help="Why: shown to the sender and the addressee.")],
) -> None:
    """Ask for a hold; a second officer must approve it before it takes effect."""
    flags = {"body.duration_minutes": "--minutes", "body.reason": "--reason"}
    with officer(flags) as api:
        hold = api.post(
            f"/api/messages/{message_id}/holds", {"reason": reason, "duration_minutes": minutes}
        )
    console.print(f"hold {hold['id']} requested; it needs a second officer's approval")


def _hold_command(action: str, summary: str) -> None:
    def command(
        message_id: MessageId,
        hold_id: Annotated[int, typer.Argument(help="The hold's number.")],
    ) -> None:
        with officer() as api:
            hold = api.post(f"/api/messages/{message_id}/holds/{hold_id}/{action}")
        console.print(f"hold {hold['id']}: {hold['status']}")

    command.__doc__ = summary
    messages_app.command(action, epilog=f"Example: pouch messages {action} m-0123… 7")(command)


_hold_command("approve", "Approve a hold as the second officer: it takes effect now.")
_hold_command("release", "End a hold in force: the message is delivered at once.")
_hold_command("withdraw", "Withdraw a hold request that was never approved.")
