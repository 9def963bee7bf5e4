"""Checking an officer's signed decision offline: pure, no database, no server.

An officer confirms a decision (hold, approve, release, withdraw, route,
quarantine) with a WebAuthn assertion whose challenge is the SHA-256 of the
decision's canonical JSON (``action``: RFC 8785 of ``{"action", "message",
"hold", "fields", "officer", "time", "nonce"}``). The server keeps the
assertion (``record``, below) and logs its SHA-256 in the decision's event as
``assertion``. The officer's public key is in the log too, in the
``passkey.registered`` event. A *bundle* gathers the three:

    {"assertion": {"action": ..., "credential": ..., "authenticator_data": ...,
                   "client_data_json": ..., "signature": ...},
     "decision": <opening of the decision's event>,
     "registration": <opening of the passkey.registered event>}

(bytes as base64url without padding) and ``verify_bundle`` says whether that
officer's registered credential made that decision: the logged hash is the
record's, the signed action names the event's message, step, hold and the
registered officer, the client data is a ``webauthn.get`` over the action's
hash at the registered origin, the authenticator data is for the registered
relying party with the user present and verified, and the signature verifies
with the logged public key over authenticatorData || SHA-256(clientDataJSON).
Whether the openings are the log's own is checked as for any opening
(``pouch log verify``, receipts): here they are taken as given.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from webauthn.helpers.decode_credential_public_key import decode_credential_public_key
from webauthn.helpers.decoded_public_key_to_cryptography import (
    decoded_public_key_to_cryptography,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.verify_signature import verify_signature

#: The decisions an officer signs, and the step each is logged as.
DECISION_STEPS: dict[str, str] = {
    "hold.request": "hold.requested",
    "hold.approve": "hold.approved",
    "hold.release": "hold.released",
    "hold.withdraw": "hold.withdrawn",
    "route": "delivered",
    "attachment.quarantine": "attachment.quarantined",
}
RECORD_FIELDS = ("action", "credential", "authenticator_data", "client_data_json", "signature")
_UP = 0x01
_UV = 0x04


class DecisionInvalid(ValueError):
    """The bundle does not show that this officer's credential made this decision."""


def b64url(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn writes bytes.

    >>> b64url(bytes([255, 254]))
    '__4'
    """
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    """The bytes of unpadded (or padded) base64url.

    >>> list(from_b64url("__4"))
    [255, 254]
    """
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value: Any) -> bytes:
    """RFC 8785 JSON: the one byte string both sides hash.

    >>> canonical({"b": 1, "a": [True, None]})
    b'{"a":[true,null],"b":1}'
    """
    return rfc8785.dumps(value)


def action_challenge(action: str) -> bytes:
    """The challenge an officer's authenticator signs for a decision: SHA-256 of its JSON."""
    return hashlib.sha256(action.encode()).digest()


def record_hash(record: Mapping[str, Any]) -> str:
    """The hex SHA-256 of a kept assertion (its canonical JSON): what the event logs."""
    return hashlib.sha256(canonical({k: record[k] for k in RECORD_FIELDS})).hexdigest()


@dataclass(frozen=True)
class Verified:
    """What a valid bundle shows."""

    officer: int
    credential: str
    action: dict[str, Any]
    index: int


def _field(data: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise DecisionInvalid(f"{where} has no {kind.__name__} {name!r}")
    return value


def _event(opening: Any, where: str) -> dict[str, Any]:
    if not isinstance(opening, Mapping) or not isinstance(opening.get("event"), Mapping):
        raise DecisionInvalid(f"{where} is not an opening (index, salt, event)")
    return dict(opening["event"])


def verify_bundle(bundle: Mapping[str, Any]) -> Verified:
    """Whether the registered credential made the logged decision; ``DecisionInvalid``
    names the first check that fails."""
    record = bundle.get("assertion")
    if not isinstance(record, Mapping):
        raise DecisionInvalid("the bundle has no assertion")
    for name in RECORD_FIELDS:
        _field(record, name, str, "the assertion")
    decision = _event(bundle.get("decision"), "the decision")
    registration = _event(bundle.get("registration"), "the registration")

    if registration.get("kind") != "passkey.registered":
        raise DecisionInvalid("the registration is not a passkey.registered event")
    officer = _field(registration, "user", int, "the registration")
    credential = _field(registration, "credential", str, "the registration")
    rp_id = _field(registration, "rp_id", str, "the registration")
    origin = _field(registration, "origin", str, "the registration")
    public_key = from_b64url(_field(registration, "public_key", str, "the registration"))

    if decision.get("assertion") != record_hash(record):
        raise DecisionInvalid("the decision's event does not log this assertion's hash")
    if record["credential"] != credential:
        raise DecisionInvalid("the assertion was made with another credential than registered")

    try:
        action = json.loads(record["action"])
    except json.JSONDecodeError:
        raise DecisionInvalid("the signed action is not JSON") from None
    if not isinstance(action, dict) or canonical(action).decode() != record["action"]:
        raise DecisionInvalid("the signed action is not canonical JSON")
    if action.get("officer") != officer:
        raise DecisionInvalid("the signed action names another officer than the key's")
    if DECISION_STEPS.get(action.get("action", "")) != decision.get("kind"):
        raise DecisionInvalid("the signed action is not the decision's step")
    if action.get("message") != decision.get("message"):
        raise DecisionInvalid("the signed action is about another message")
    if action.get("hold") is not None and action.get("hold") != decision.get("hold"):
        raise DecisionInvalid("the signed action is about another hold")

    client_bytes = from_b64url(record["client_data_json"])
    try:
        client = json.loads(client_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DecisionInvalid("clientDataJSON is not JSON") from None
    if not isinstance(client, dict) or client.get("type") != "webauthn.get":
        raise DecisionInvalid("clientDataJSON is not of type webauthn.get")
    if client.get("challenge") != b64url(action_challenge(record["action"])):
        raise DecisionInvalid("the signed challenge is not the hash of the action")
    if client.get("origin") != origin:
        raise DecisionInvalid(f"the assertion was made at {client.get('origin')!r}, not {origin}")

    authenticator_data = from_b64url(record["authenticator_data"])
    if len(authenticator_data) < 37:
        raise DecisionInvalid("authenticatorData is too short")
    if authenticator_data[:32] != hashlib.sha256(rp_id.encode()).digest():
        raise DecisionInvalid(f"the assertion is not for the relying party {rp_id}")
    flags = authenticator_data[32]
    if not flags & _UP or not flags & _UV:
        raise DecisionInvalid("the authenticator did not verify its user")

    signed = authenticator_data + hashlib.sha256(client_bytes).digest()
    try:
        decoded = decode_credential_public_key(public_key)
        verify_signature(
            public_key=decoded_public_key_to_cryptography(decoded),
            signature_alg=decoded.alg,
            signature=from_b64url(record["signature"]),
            data=signed,
        )
    except InvalidSignature:
        raise DecisionInvalid("the signature does not verify with the registered key") from None
    except (WebAuthnException, ValueError) as error:
        raise DecisionInvalid(f"the registered public key cannot be used: {error}") from None
    index = bundle["decision"].get("index")
    return Verified(
        officer=officer,
        credential=credential,
        action=action,
        index=index if isinstance(index, int) else -1,
    )
