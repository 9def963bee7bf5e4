"""``pouch messages due``: the operator's, on the server, with the database.

What the background worker and the outbox do, done now: no person acts, so no
person's token is asked. The officer's commands are in ``messages/cli.py``.
"""

from __future__ import annotations

import typer

from pouch.cli_support import console, settings_of
from pouch.clock import SystemClock


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
    failed = f", {done.failed} rows failed (see GET /api/worker/failures)" if done.failed else ""
    console.print(
        f"delivered {done.delivered}, holds expired {done.expired}, overdue {done.overdue}, "
        f"notifications sent {sent.sent} (to retry {sent.retried}, given up {sent.failed})"
        f"{failed}"
    )


def add_operator_commands(messages_app: typer.Typer) -> None:
    """Put the operator's command among ``pouch messages``."""
    messages_app.command("due", epilog="Example: pouch messages due")(messages_due)
