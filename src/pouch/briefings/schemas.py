"""What the API of a call's run and papers accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from pouch.briefings.states import CallState, Clearance, Mode, ParticipantKind
from pouch.schema import RowId, Schema
from pouch.text import Notes, check_multiline, check_single_line

Line = Annotated[str, StringConstraints(max_length=1000), AfterValidator(check_single_line)]
Text = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(check_multiline)]


class StepIn(Schema):
    state: CallState = Field(description="The state the call moves to.")
    note: Line = Field(default="", description="Why, in one line (a cancellation's reason).")


class LogisticsIn(Schema):
    mode: Mode = Field(description="phone or video.")
    placed_by: Literal["us", "them"] = Field(
        description="Who dials: us (the operations center) or them (the leader's office)."
    )


class ParticipantIn(Schema):
    user_id: RowId
    kind: ParticipantKind


class StepOut(Schema):
    from_state: CallState
    to_state: CallState
    at: datetime
    by_user_id: int | None
    note: str
    ledger_index: int


class ParticipantOut(Schema):
    user_id: int
    name: str
    kind: ParticipantKind
    checked_in_at: datetime | None


class CallRunOut(Schema):
    call_id: str
    state: CallState | None = Field(description="None: a request not yet placed by a schedule.")
    mode: Mode
    placed_by: str
    start: datetime | None
    end: datetime | None
    follow_up_call_id: str | None
    steps: list[StepOut]
    participants: list[ParticipantOut]


class BriefingIn(Schema):
    talking_points: list[Line] = Field(max_length=50)
    background: Text = ""
    pronunciation: Line = Field(default="", description="How to say the form of address.")


class MemconIn(Schema):
    participants: Notes
    date_time_place: Line
    conversation: Text
    summary: Notes = Field(description="What earlier-call sections of later packets show.")


class ReturnIn(Schema):
    comments: Notes = Field(min_length=1, description="What the writers are to change.")


class VersionOut(Schema):
    number: int
    content: dict[str, Any]
    author_user_id: int | None
    created_at: datetime


class PaperOut(Schema):
    call_id: str
    kind: Literal["briefing", "memcon"]
    clearance: Clearance | None
    comments: str
    cleared_version: int | None
    cleared_sha256: str | None
    versions: list[VersionOut]


class PacketOut(Schema):
    number: int
    briefing_version: int
    sha256: str
    issued_at: datetime
    cleared_by_user_id: int | None
    ledger_index: int


class BriefingOut(PaperOut):
    flag: str | None = Field(description="Set when there are more talking points than advised.")
    packet: dict[str, Any] = Field(description="The packet as it would read now (a draft).")
    packets: list[PacketOut]
