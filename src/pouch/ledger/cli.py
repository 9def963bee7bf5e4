"""``pouch keys``, ``pouch log`` and ``pouch receipt``: the log's key and its checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pouch.cli_support import console, errors, read_vkey, settings_of, sub_app
from pouch.clock import SystemClock
from pouch.db import Database
from pouch.settings import Settings, key_file

keys_app = sub_app("The log's signing key.")
log_app = sub_app("The transparency log.")
receipt_app = sub_app("Receipts (c2sp.org/tlog-proof).")


def publish_checkpoint(settings: Settings) -> None:
    """Publish a checkpoint over everything logged so far (cosigned by the witnesses of
    POUCH_WITNESS_POLICY when set), so every receipt is complete."""
    from pouch.ledger.service import Ledger

    database = Database.from_url(settings.database_url)
    ledger = Ledger.from_settings(settings, database=database, clock=SystemClock())
    try:
        if ledger.witnessing is not None:
            ledger.witnessing.register()
        ledger.integrate_now()
    finally:
        if ledger.witnessing is not None:
            ledger.witnessing.client.close()
        database.dispose()


def ensure_key(settings: Settings) -> None:
    """On first run, create the log's signing key so that Pouch can start; check the
    witness policy, if one is set, names this log's key."""
    from pouch.ledger.keys import KeyNotConfigured, ensure_signer, load_policy

    try:
        signer, created = ensure_signer(settings)
        load_policy(settings, signer.verifier)
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

    settings = settings_of(ctx)
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
        signer = load_signer(settings_of(ctx))
    except KeyNotConfigured as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    sys.stdout.write(signer.verifier.vkey + "\n")


#: ``pouch log verify``'s exit code when the log's server could not be read: not a
#: verdict (1 is INCONSISTENT, 2 a usage error).
UNREACHABLE = 3
#: Bundles and tiles read ahead of the walk, in threads: the server works on the next
#: ones while this process hashes those it has.
READ_AHEAD = 8


@log_app.command(
    "verify",
    epilog=(
        "Example: pouch log verify --url http://127.0.0.1:8000/log --vkey log.vkey. "
        "Exit codes: 0 verified, 1 INCONSISTENT, 2 usage error, 3 the log cannot be reached."
    ),
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

    from pouch.ledger.verify import (
        DirectorySource,
        HttpSource,
        LogInconsistent,
        LogUnreachable,
        verify_log,
    )

    if (directory is None) == (url is None):
        raise typer.BadParameter("give exactly one of --dir and --url", param_hint="--dir/--url")
    if not vkey:
        raise typer.BadParameter("the log's verifier key is required", param_hint="--vkey")
    verifier = read_vkey(vkey)
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
            result = verify_log(
                source, verifier, since=earlier, progress=progress, read_ahead=READ_AHEAD
            )
        except LogInconsistent as error:
            bar.stop()
            errors.print(f"[red]INCONSISTENT:[/red] {error}")
            raise typer.Exit(1) from None
        except LogUnreachable as error:
            bar.stop()
            errors.print(
                f"error: cannot reach the log ({error}); nothing was verified, try again",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(UNREACHABLE) from None
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
    "verify",
    epilog=(
        "Example: pouch receipt verify receipt-m-….json --vkey log.vkey\n\n"
        "Or, with the proof and the entry apart: pouch receipt verify receipt.txt "
        "--entry entry.bin --vkey log.vkey --policy witnesses.policy"
    ),
)
def receipt_verify(
    receipt: Annotated[
        Path,
        typer.Argument(
            help=(
                "The receipt: the file a tracking page downloads (the opening and the proof, "
                "JSON), or a c2sp.org/tlog-proof@v1 proof alone (then give --entry)."
            )
        ),
    ],
    entry: Annotated[
        Path | None,
        typer.Option(help="The entry's exact bytes (for a proof alone)."),
    ] = None,
    vkey: Annotated[
        str | None,
        typer.Option(help="The log's verifier key, or a file holding it (or give --policy)."),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help=(
                "A witness policy (c2sp.org/tlog-policy): the checkpoint must be signed by one "
                "of its logs and cosigned by its witnesses' quorum."
            )
        ),
    ] = None,
) -> None:
    """Check a receipt offline: the entry is in the log under a checkpoint the key signed
    (and, with --policy, the policy's witnesses cosigned). A downloaded receipt carries
    the event itself: the entry is computed from it, so the check covers what it says."""
    from pouch.ledger.errors import LedgerFormatError
    from pouch.ledger.events import Opening
    from pouch.ledger.policy import Policy
    from pouch.ledger.receipt import verify_receipt

    if vkey is None and policy is None:
        errors.print("[red]error:[/red] --vkey or --policy: give the log's key or a policy")
        raise typer.Exit(2)
    verifier = read_vkey(vkey) if vkey is not None else None
    try:
        data = receipt.read_bytes()
        entry_bytes = entry.read_bytes() if entry is not None else None
        policy_bytes = policy.read_bytes() if policy is not None else None
    except OSError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    opening: Opening | None = None
    if data.lstrip().startswith(b"{"):
        try:
            document = json.loads(data)
            if not isinstance(document, dict) or not isinstance(document.get("receipt"), str):
                raise ValueError("it has no receipt")
            opening = Opening.from_json(document.get("opening"))
        except (ValueError, LedgerFormatError) as error:
            errors.print(f"[red]INVALID:[/red] {receipt} is not a downloaded receipt: {error}")
            raise typer.Exit(1) from None
        data = document["receipt"].encode()
        entry_bytes = opening.entry() if entry_bytes is None else entry_bytes
    if entry_bytes is None:
        errors.print("[red]error:[/red] --entry: a proof alone needs the entry's bytes")
        raise typer.Exit(2)
    try:
        rules = Policy.parse(policy_bytes) if policy_bytes is not None else None
    except LedgerFormatError as error:
        errors.print(f"[red]error:[/red] --policy {policy}: {error}")
        raise typer.Exit(2) from None
    try:
        verified = verify_receipt(data, entry_bytes, log=verifier, policy=rules)
        if opening is not None and opening.index != verified.index:
            raise LedgerFormatError(
                f"the opening is of entry {opening.index}, the proof of entry {verified.index}"
            )
    except LedgerFormatError as error:
        errors.print(f"[red]INVALID:[/red] {error}")
        raise typer.Exit(1) from None
    if opening is not None:
        event = opening.event
        console.print(
            f"The event: {event.get('kind')} of {event.get('message', '-')} "
            f"at {event.get('time', '-')}"
        )
    witnessed = f", cosigned by {len(verified.cosignatures)} witnesses" if rules else ""
    console.print(
        f"OK: entry {verified.index} is in {verified.checkpoint.origin} "
        f"at tree size {verified.checkpoint.size}{witnessed}"
    )
