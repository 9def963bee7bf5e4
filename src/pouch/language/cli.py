"""``pouch language``: the language desk from the command line.

``detect`` and ``translate`` run the desk's engines on this machine and act for
nobody; ``queue`` is read as the person logged in (``pouch login``), through
the API. The worker's commands, the operator's, are in ``operator_cli.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pouch.cli_client import AsJson, officer, print_json, utc
from pouch.cli_common import console, errors, settings_of, sub_app

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
    machine: Annotated[
        bool, typer.Option("--machine", help="Also list machine translations nobody reviewed.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """List the translations waiting for a translator, most urgent message first (as the
    person logged in: translators, watch officers)."""
    from rich.text import Text

    table = Table(
        "id", "message", "precedence", "pair", "status", "translator", "since (UTC)", "why"
    )
    with officer() as api:
        entries = api.get("/api/translations/queue", include_machine=machine)
    if as_json:
        print_json(entries)
        return
    for entry in entries:
        item = entry["translation"]
        table.add_row(
            str(item["id"]),
            entry["message"],
            entry["precedence"],
            f"{item['source']}->{item['target']}",
            item["status"],
            Text(item["translator"] or ""),
            f"{utc(item['created_at']):%Y-%m-%d %H:%M}",
            Text(item["error"] or item["made_by"]),
        )
    console.print(table)
