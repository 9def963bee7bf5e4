"""A software WebAuthn authenticator for tests: an EC P-256 key, "none" attestation.

It answers the options Pouch hands out as a browser and its authenticator
would (``navigator.credentials.create`` / ``get``), in the JSON shape the
pages' script sends (bytes as base64url).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers.encode_cbor import encode_cbor

from pouch.identity.decision_check import b64url, from_b64url
from pouch.identity.demo_keys import cose_public_key

UP, UV, AT = 0x01, 0x04, 0x40


class SoftAuthenticator:
    def __init__(self, *, origin: str, rp_id: str, user_verified: bool = True) -> None:
        self.origin = origin
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.counter = 0
        self.user_verified = user_verified
        self.user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _flags(self, extra: int = 0) -> int:
        return UP | (UV if self.user_verified else 0) | extra

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        ).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """The credential ``navigator.credentials.create({publicKey: options})`` gives."""
        self.user_handle = from_b64url(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        authenticator_data = (
            hashlib.sha256(options["rp"]["id"].encode()).digest()
            + bytes([self._flags(AT)])
            + self.counter.to_bytes(4, "big")
            + bytes(16)  # aaguid
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + cose_public_key(self.key.public_key())
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": authenticator_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        challenge: str,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        kind: str = "webauthn.get",
    ) -> dict[str, Any]:
        """The assertion ``navigator.credentials.get`` gives for ``challenge`` (base64url)."""
        self.counter += 1
        client_data = self._client_data(kind, challenge, origin)
        authenticator_data = (
            hashlib.sha256((rp_id or self.rp_id).encode()).digest()
            + bytes([self._flags()])
            + self.counter.to_bytes(4, "big")
        )
        signature = self.key.sign(
            authenticator_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(authenticator_data),
            "signature": b64url(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64url(self.user_handle)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        }
