"""``pouch language process`` and ``work``: the operator's, on the server, with the database.

One round, or a process, of the language desk's worker: no person acts, so no
person's token is asked. The officer's commands are in ``language/cli.py``.
"""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from pouch.cli_support import console, settings_of
from pouch.clock import SystemClock
from pouch.db import Database


def language_process(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option(min=1, help="Most messages to look at in this round.")
    ] = 100,
) -> None:
    """Identify and translate the messages the desk has not looked at yet: one round of what
    the background worker does."""
    from pouch.language.desk import Desk
    from pouch.language.worker import run_round

    settings = settings_of(ctx)
    desk = Desk.from_settings(settings)
    database = Database.from_url(settings.database_url)
    try:
        done = run_round(database, desk=desk, clock=SystemClock(), limit=limit)
    finally:
        database.dispose()
        desk.close()
    console.print(f"language desk: {done}", markup=False, highlight=False)


def language_work(ctx: typer.Context) -> None:
    """Run the language desk's worker as a process of its own, until interrupted: what
    `pouch serve` does in a thread unless POUCH_LANGUAGE_IN_PROCESS is false."""
    import signal

    from pouch.language.desk import Desk
    from pouch.language.worker import LanguageWorker

    settings = settings_of(ctx)
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


def add_operator_commands(language_app: typer.Typer) -> None:
    """Put the operator's commands among ``pouch language``."""
    language_app.command("process", epilog="Example: pouch language process --limit 100")(
        language_process
    )
    language_app.command(
        "work", epilog="Example: POUCH_LANGUAGE_IN_PROCESS=false pouch language work"
    )(language_work)
