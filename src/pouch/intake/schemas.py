"""What the intake API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from pouch.intake import signatures
from pouch.schema import RowId, Schema


def _registrable(text: str) -> str:
    signatures.parse_public_key(text)  # its ValueError says what is wrong
    return text


class SenderKeyIn(Schema):
    """A key to register: its name, and the public key as ``pouch sender keygen``
    prints it (43 characters of base64url) or as PEM; nothing looser."""

    key_id: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    ]
    public_key: Annotated[
        str,
        Field(
            max_length=2000,
            pattern=r"^([A-Za-z0-9_-]{43}=?|-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+"
            r"-----END PUBLIC KEY-----\s*)$",
            description="The Ed25519 public key: 32 raw bytes in base64url, or PEM.",
        ),
        AfterValidator(_registrable),
    ]

    def raw_public_key(self) -> bytes:
        """The 32 bytes of the key."""
        return signatures.parse_public_key(self.public_key)


class SenderKeyOut(Schema):
    id: int
    key_id: str
    office_id: RowId
    created_at: datetime
    revoked_at: datetime | None
