"""What the intake API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from pouch.schema import Schema


class SenderKeyIn(Schema):
    key_id: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    ]
    public_key: str = Field(
        max_length=2000, description="The Ed25519 public key: 32 raw bytes in base64url, or PEM."
    )


class SenderKeyOut(Schema):
    id: int
    key_id: str
    office_id: int
    created_at: datetime
    revoked_at: datetime | None
