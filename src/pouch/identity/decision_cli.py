"""``pouch decision``: check an officer's signed decision offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pouch.cli_common import console, fail, read_text, sub_app
from pouch.identity.decision_check import DecisionInvalid, verify_bundle

decision_app = sub_app("Officers' signed decisions (passkeys).")


@decision_app.command(
    "verify",
    epilog=(
        "Example: pouch decision verify decision.json  "
        "(saved from GET /api/decisions/SHA256 with your token)"
    ),
)
def decision_verify(
    bundle: Annotated[
        Path,
        typer.Argument(
            help=(
                "A decision bundle as GET /api/decisions/{sha256} answers it: the assertion, "
                "the decision's opening, the passkey.registered opening."
            )
        ),
    ],
) -> None:
    """Check offline that the officer's registered passkey made this decision: the event
    logs the assertion's hash, the signed challenge is the hash of the action (message,
    hold, fields), the origin and relying party are the registered ones, the user was
    verified, and the signature verifies with the logged public key."""
    try:
        data = json.loads(read_text(bundle))
    except ValueError as error:
        fail(f"{bundle} is not JSON: {error}")
    if not isinstance(data, dict):
        fail(f"{bundle} is not a decision bundle (a JSON object)")
    try:
        verified = verify_bundle(data)
    except DecisionInvalid as error:
        fail(f"NOT VERIFIED: {error}")
    action = verified.action
    console.print(
        f"verified: {action.get('action')} of message {action.get('message')}"
        + (f" (hold {action['hold']})" if action.get("hold") is not None else "")
        + f" by user {verified.officer} with passkey {verified.credential}"
        + f", logged at index {verified.index}, signed at {action.get('time')}",
        markup=False,
        highlight=False,
    )
