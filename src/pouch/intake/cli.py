"""``pouch sender``: a sender office's tools, keys and signed submission."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pouch.cli_client import CliProblem, office_id, report
from pouch.cli_support import console, errors, sub_app

sender_app = sub_app("A sender office's tools: keys and signed submission.")


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
        "--key-file ie-2026.seed --from ie-taoiseach --to president-elect --subject Hello "
        "--body 'Dear …'"
    ),
)
def sender_send(
    url: Annotated[str, typer.Option(help="Pouch's base URL.")],
    key_id: Annotated[str, typer.Option(help="The registered key's name.")],
    key_file: Annotated[Path, typer.Option(help="The private key written by keygen.")],
    from_office: Annotated[str, typer.Option("--from", help="The sender office's id or slug.")],
    to_office: Annotated[str, typer.Option("--to", help="The addressee office's id or slug.")],
    subject: Annotated[str, typer.Option(help="One line.")],
    token: Annotated[str, typer.Option(help="The sender's API token.", envvar="POUCH_TOKEN")],
    body: Annotated[str | None, typer.Option(help="The text (or use --body-file).")] = None,
    body_file: Annotated[Path | None, typer.Option(help="A file with the text.")] = None,
    precedence: Annotated[
        str, typer.Option(help="FLASH, IMMEDIATE, PRIORITY or ROUTINE.")
    ] = "ROUTINE",
    idempotency_key: Annotated[str | None, typer.Option(help="Makes retries safe.")] = None,
    keep: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Keep a copy of what was sent and the answer in this directory, as "
                "<message id>.json, for pouch monitor --sender … --keep to check against."
            )
        ),
    ] = None,
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
    if keep is not None and not keep.is_dir():
        raise typer.BadParameter(f"{keep} is not a directory", param_hint="--keep")
    listed: list[dict[str, Any]] = []

    def offices() -> list[dict[str, Any]]:
        if not listed:  # asked once, and only when a slug is given
            answer = httpx.get(
                url.rstrip("/") + "/api/offices",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            if answer.status_code == 200:
                listed.extend(answer.json())
        return listed

    try:
        sender_office = office_id(from_office, offices, option="--from")
        addressee_office = office_id(to_office, offices, option="--to")
    except CliProblem as problem:
        report(problem)
        raise typer.Exit(1) from None
    except httpx.HTTPError as error:
        report(CliProblem(f"cannot reach Pouch at {url}: {error}"))
        raise typer.Exit(1) from None
    submitted = {
        "sender_office_id": sender_office,
        "addressee_office_id": addressee_office,
        "subject": subject,
        "body": text,
        "precedence": precedence,
    }
    payload = json.dumps(submitted).encode()
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
    if keep is not None:
        # What was sent, beside what Pouch answered: the monitor hashes the one and
        # checks the other's opening in the log.
        copy = json.dumps({"submitted": submitted, "accepted": accepted}, indent=1)
        (keep / f"{accepted['id']}.json").write_text(copy + "\n", encoding="utf-8")
    console.print(
        f"accepted {accepted['id']} (sequence {accepted['office_sequence']} for the addressee)"
    )
    sys.stdout.write(json.dumps(accepted["receipt"], indent=2) + "\n")
