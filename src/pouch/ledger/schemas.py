"""What the log's JSON endpoints return."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from pouch.schema import Schema


class WitnessInfo(Schema):
    name: str = Field(description="The witness's name in the policy.")
    vkey: str = Field(description="Its cosignature verifier key (type 0x04).")
    url: str | None = Field(description="Its c2sp.org/tlog-witness submission prefix.")
    size: int | None = Field(description="The largest tree of this log it is known to cosign.")
    cosigned_at: datetime | None
    error: str | None = Field(description="Why it did not cosign the last checkpoint sent.")
    alarms: int = Field(description="Refusals only a fork or a rollback of this log explains.")


class LogInfo(Schema):
    origin: str
    vkey: str = Field(description="The log's signed-note verifier key.")
    size: int = Field(description="Entries covered by the latest checkpoint.")
    root: str | None
    checkpoint: str | None
    sequenced: int = Field(description="Entries sequenced, including those not yet integrated.")
    signed: int = Field(
        description="Entries covered by the latest checkpoint the log signed (published once "
        "its witnesses cosign it)."
    )
    witnessing: str | None = Field(
        description="How the latest checkpoint was published: `unwitnessed` (no policy), "
        "`quorum` (cosigned by the policy's quorum) or `without-quorum` (published without "
        "it: no verifier holding the policy accepts it)."
    )
    quorum: str | None = Field(description="The witness policy's quorum, in words.")
    policy: str | None = Field(description="The witness policy file (c2sp.org/tlog-policy).")
    witnesses: list[WitnessInfo] = Field(description="The witnesses of the policy.")


class InclusionProof(Schema):
    index: int
    size: int
    proof: list[str] = Field(description="Base64 hashes, from the leaf's sibling upwards.")


class ConsistencyProof(Schema):
    from_size: int
    to_size: int
    proof: list[str]
