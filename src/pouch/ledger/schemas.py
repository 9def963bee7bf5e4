"""What the log's JSON endpoints return."""

from __future__ import annotations

from pydantic import Field

from pouch.schema import Schema


class LogInfo(Schema):
    origin: str
    vkey: str = Field(description="The log's signed-note verifier key.")
    size: int = Field(description="Entries covered by the latest checkpoint.")
    root: str | None
    checkpoint: str | None
    sequenced: int = Field(description="Entries sequenced, including those not yet integrated.")


class InclusionProof(Schema):
    index: int
    size: int
    proof: list[str] = Field(description="Base64 hashes, from the leaf's sibling upwards.")


class ConsistencyProof(Schema):
    from_size: int
    to_size: int
    proof: list[str]
