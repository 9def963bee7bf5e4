"""What the directory document says of an office's mail (``pouch directory import``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from pouch.schema import Schema

Domain = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=253, pattern=r"^[^@\s]+$"),
]


class DkimPinIn(Schema):
    domain: Domain
    selector: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=63, pattern=r"^[^\s.]+(\.[^\s.]+)*$"
        ),
    ]
    record: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=8, max_length=4000)
    ] = Field(description="The key record as DNS publishes it: v=DKIM1; k=ed25519; p=…")

    @field_validator("record")
    @classmethod
    def _has_a_key(cls, value: str) -> str:
        tags = {part.split("=", 1)[0].strip() for part in value.split(";") if "=" in part}
        if "p" not in tags:
            raise ValueError("a DKIM key record has a p= tag")
        return value


class OfficeMailIn(Schema):
    """An office's mail: its addresses and domains (``@example.org``), its pinned DKIM
    keys, and whether it signs everything it sends."""

    addresses: list[
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^\s]+$"
            ),
        ]
    ] = Field(default_factory=list, max_length=100)
    dkim_pins: list[DkimPinIn] = Field(default_factory=list, max_length=20)
    require_signed: bool = False
