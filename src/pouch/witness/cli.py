"""``pouch witness``: run a c2sp.org/tlog-witness on your own machine.

These commands need only the witness's own files (its key, its log list, its
state); never Pouch's database or the log's key, since a witness belongs to
another party than the log's operator. Input that cannot be used (a missing
file, a malformed key or log list) is one line naming the file, and exit 2.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from pouch.cli_support import sub_app

witness_app = sub_app(
    "Run a witness (c2sp.org/tlog-witness). It cosigns a log's checkpoints, each "
    "consistent with the last it cosigned, and refuses forks."
)

KeyFile = Annotated[Path, typer.Option("--key", help="The witness's private key (keygen).")]
LogsFile = Annotated[
    Path, typer.Option("--logs", help="The logs to cosign for, a logs/v0 log list.")
]
StateFile = Annotated[
    Path, typer.Option("--state", help="The witness's SQLite state (created if missing).")
]


def _fail(message: str, code: int = 2) -> NoReturn:
    # typer.echo, not Rich: a one-line error stays one line at any terminal width.
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _now() -> int:
    return int(time.time())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"{path}: cannot read: {error}")


@witness_app.command(
    "keygen",
    epilog="Example: pouch witness keygen --name witness.embassy.example/w1 --out witness.skey",
)
def keygen(
    name: Annotated[
        str, typer.Option(help="The witness's name, a schema-less URL it is known by.")
    ],
    out: Annotated[Path, typer.Option(help="Private key file to write (mode 0600).")],
) -> None:
    """Generate the witness's key; print its verifier key.

    An Ed25519 cosigning key (c2sp.org/tlog-cosignature, type 0x04), written
    with mode 0600; an existing file is never replaced. Give logs the printed
    verifier key.
    """
    from pouch.ledger.errors import MalformedKey
    from pouch.ledger.note import check_key_name, generate_cosigner_key

    try:
        check_key_name(name)
    except MalformedKey as error:
        _fail(f"--name: {error}")
    skey, vkey = generate_cosigner_key(name)
    try:
        # O_EXCL: never replace a key whose cosignatures logs already rely on.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"{out}: exists; refusing to replace a witness key")
    except OSError as error:
        _fail(f"{out}: cannot create: {error.strerror}")
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(skey + "\n")
    typer.echo(f"wrote {out} (mode 0600); give logs this verifier key:", err=True)
    sys.stdout.write(vkey + "\n")


@witness_app.command(
    "add-log",
    epilog=(
        "Example: pouch witness add-log --logs logs.txt "
        "--vkey pouch.mfa.example/log+1dde4531+AT… --contact ops@mfa.example"
    ),
)
def add_log(
    logs: LogsFile,
    vkey: Annotated[str, typer.Option(help="The log's verifier key (Ed25519, type 0x01).")],
    contact: Annotated[str, typer.Option(help="How to reach the log's operator.")],
    origin: Annotated[
        str | None, typer.Option(help="The log's origin, when not its key's name.")
    ] = None,
    qpd: Annotated[
        int, typer.Option(min=1, help="add-checkpoint requests the log may make per day.")
    ] = 1440,
) -> None:
    """Add a log to the witness's log list.

    The list (logs/v0, the witness network's format) is created if missing;
    a key already listed is refused. serve reads the list when it starts.
    """
    from pouch.witness.loglist import HEADER, LogList, MalformedLogList, new_entry

    existing = _read(logs) if logs.exists() else HEADER + "\n"
    try:
        entry = new_entry(vkey=vkey, origin=origin, qpd=qpd, contact=contact)
    except MalformedLogList as error:
        _fail(f"the log to add: {error}")
    text = existing + ("" if existing.endswith("\n") else "\n") + "\n" + entry.to_text()
    try:
        LogList.parse(text)
    except MalformedLogList as error:
        _fail(f"{logs}: {error}")
    # Written aside and renamed: a running witness or a reader never sees half a list.
    partial = logs.with_name(logs.name + ".new")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(logs)
    except OSError as error:
        _fail(f"{logs}: cannot write: {error.strerror}")
    typer.echo(f"{logs}: added {entry.origin}")


@witness_app.command(
    "serve",
    epilog=(
        "Example: pouch witness serve --key witness.skey --logs logs.txt "
        "--state witness.sqlite3 --port 2009"
    ),
)
def serve(
    key: KeyFile,
    logs: LogsFile,
    state: StateFile,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Listen port; 0 picks a free one.")
    ] = 2009,
) -> None:
    """Serve the witness over HTTP.

    POST /add-checkpoint cosigns a checkpoint consistent with the last one
    cosigned for its log, and refuses anything else; GET /<origin
    hash>/checkpoint serves the latest cosigned checkpoint to monitors. Prints
    the URL (with the port picked, for --port 0) and the verifier key.
    """
    import uvicorn

    from pouch.ledger.errors import MalformedKey
    from pouch.ledger.note import CosignatureSigner
    from pouch.witness.loglist import LogList, MalformedLogList
    from pouch.witness.server import create_witness_app
    from pouch.witness.state import StateUnusable

    try:
        signer = CosignatureSigner.from_skey(_read(key).strip(), clock=_now)
    except MalformedKey as error:
        _fail(f"{key}: {error}")
    if key.stat().st_mode & 0o077:
        typer.echo(f"warning: {key} is readable by others; chmod 600 it", err=True)
    try:
        log_list = LogList.parse(_read(logs))
    except MalformedLogList as error:
        _fail(f"{logs}: {error}")
    if not log_list.entries:
        _fail(f"{logs}: lists no log to cosign for")
    try:
        app = create_witness_app(signer=signer, logs=log_list, state_path=state, clock=_now)
    except StateUnusable as error:
        _fail(str(error))
    try:
        # Bound here, not by uvicorn, so that the port 0 picked is known and printed.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family)
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error.strerror}", code=1)
    bound_port = listener.getsockname()[1]
    url = f"http://[{host}]:{bound_port}" if ":" in host else f"http://{host}:{bound_port}"
    sys.stdout.write(f"witness {signer.name} serving on {url}\n")
    sys.stdout.write(f"witness verifier key: {signer.verifier.vkey}\n")
    sys.stdout.write(f"cosigning for {len(log_list.origins)} logs from {logs}\n")
    sys.stdout.flush()
    config = uvicorn.Config(app, host=host, port=bound_port, log_level="info")
    uvicorn.Server(config).run(sockets=[listener])


@witness_app.command("show", epilog="Example: pouch witness show --state witness.sqlite3")
def show(
    state: Annotated[Path, typer.Option("--state", help="The witness's SQLite state.")],
    refusal: Annotated[
        int | None,
        typer.Option(help="Write this refusal's request body, byte for byte, to stdout."),
    ] = None,
    last: Annotated[int, typer.Option(min=0, help="How many recent refusals to list.")] = 5,
) -> None:
    """Show what the witness cosigned and refused.

    Each log's latest cosigned size and time, how many refusals are kept as
    evidence of a log misbehaving, and the latest few; --refusal ID writes one
    refused request body as it was received.
    """
    from pouch.witness.state import StateUnavailable, StateUnusable, WitnessState

    try:
        witness_state = WitnessState(state, create=False)
        if refusal is not None:
            kept = witness_state.refusal(refusal)
            if kept is None:
                _fail(f"{state}: no refusal {refusal}")
            sys.stdout.buffer.write(kept.body)
            return
        cosigned = witness_state.all_latest()
        count = witness_state.refusal_count()
        recent = witness_state.refusals(limit=last)
    except (StateUnusable, StateUnavailable) as error:
        _fail(str(error))
    if not cosigned:
        typer.echo("no checkpoint cosigned yet")
    for checkpoint in cosigned:
        typer.echo(
            f"{checkpoint.origin}  size {checkpoint.size}  cosigned {_when(checkpoint.cosigned_at)}"
        )
    typer.echo(f"{count} refusals kept as evidence")
    for kept in recent:
        times = f" ×{kept.count}, last {_when(kept.last_seen)}" if kept.count > 1 else ""
        typer.echo(
            f"  #{kept.id} {_when(kept.first_seen)}{times}  {kept.origin}  {kept.status}  "
            f"{kept.reason}"
        )


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
