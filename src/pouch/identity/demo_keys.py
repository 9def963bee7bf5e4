"""The demo's software authenticator: P-256 keys kept in the demo's data directory.

`pouch demo` enrols each of its operations officers with one of these, so that
a person trying the demo in any browser signs decisions as the officer they
logged in as. The private key is served to that officer's browser
(``GET /demo/authenticator``, only under ``POUCH_DEMO_AUTHENTICATOR`` on
localhost): nothing here is a real credential, and a real deployment never
has the setting.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers.encode_cbor import encode_cbor

from pouch.identity.decision_check import b64url

FOLDER = "demo-passkeys"


def _path(data_dir: Path, username: str) -> Path:
    if not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"{username!r} is not a plain user name")
    return data_dir / FOLDER / f"{username}.json"


def cose_public_key(key: ec.EllipticCurvePublicKey) -> bytes:
    """The COSE_Key (EC2, ES256, P-256) of ``key``, as an authenticator reports it."""
    numbers = key.public_numbers()
    return encode_cbor(
        {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
    )


def make(data_dir: Path, username: str) -> tuple[str, bytes]:
    """A new key for ``username`` (mode 0600); returns its credential id (base64url) and
    its COSE public key, to enrol."""
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.private_numbers()
    public = numbers.public_numbers
    credential_id = b64url(secrets.token_bytes(16))
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(public.x.to_bytes(32, "big")),
        "y": b64url(public.y.to_bytes(32, "big")),
        "d": b64url(numbers.private_value.to_bytes(32, "big")),
    }
    path = _path(data_dir, username)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"credential_id": credential_id, "jwk": jwk}, file)
    return credential_id, cose_public_key(private.public_key())


def load(data_dir: Path, username: str) -> dict[str, Any] | None:
    """The key ``make`` kept for ``username``, or None."""
    try:
        path = _path(data_dir, username)
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data
