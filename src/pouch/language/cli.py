"""``pouch language``: the language desk from the command line."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pouch.cli_support import console, errors, settings_of, sub_app, transaction
from pouch.clock import SystemClock
from pouch.db import Database

language_app = sub_app("The language desk: identify, translate, and the translators' queue.")

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
    from pouch.language.desk import Desk, judge

    body = _text(text, file)
    desk = Desk.from_settings(settings_of(ctx))
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
    from pouch.language.desk import Desk
    from pouch.language.translate import TranslationError

    settings = settings_of(ctx)
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

    from pouch.language import queue as queue_service

    table = Table(
        "id", "message", "precedence", "pair", "status", "translator", "since (UTC)", "why"
    )
    with transaction(settings_of(ctx)) as session:
        for entry in queue_service.entries(session, include_machine=machine):
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


@language_app.command("work", epilog="Example: POUCH_LANGUAGE_IN_PROCESS=false pouch language work")
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
