"""What the call desk's API accepts and returns (the CLI and the demo build the same inputs)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, model_validator

from pouch.calls.models import CallStatus
from pouch.calls.problem import Interpretation, RankPolicy
from pouch.directory.schemas import CountryCode, Language, Subdivision, TimeZone
from pouch.schema import LocalTime, RowId, Schema
from pouch.text import Notes, check_multiline, check_single_line

#: Why something changed, in one line: it goes into the logged event.
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
    AfterValidator(check_single_line),
]
PublicId = Annotated[str, StringConstraints(min_length=1, max_length=32)]


# --- order of precedence -----------------------------------------------------------


class RankIn(Schema):
    person_id: RowId
    tier: int = Field(ge=1, le=1000, description="1 is the first tier.")
    position: int = Field(ge=0, le=100_000, description="Order within the tier, lower first.")


class PrecedenceIn(Schema):
    reason: Reason = Field(description="Why the order changes; logged with the author.")
    ranks: list[RankIn] = Field(
        max_length=5000, description="The whole ranking: every leader once, no shared place."
    )


class RankingTextIn(Schema):
    """A ranking file, as ``pouch calls precedence set`` reads it from disk."""

    reason: Reason = Field(description="Why the order changes; logged with the author.")
    format: Literal["yaml", "csv"] = Field(
        default="yaml",
        description="yaml ('tiers:', lists of leaders in order) or csv (person,tier,position).",
    )
    text: Annotated[
        str, StringConstraints(min_length=1, max_length=200_000), AfterValidator(check_multiline)
    ] = Field(description="The file; a leader by id or exact name.")


class RankOut(Schema):
    person_id: RowId
    name: str
    country_code: str
    tier: int
    position: int


class PrecedenceVersionOut(Schema):
    number: int
    reason: str
    author_user_id: RowId | None
    created_at: datetime
    ledger_index: int
    leaders: int


class PrecedenceOut(PrecedenceVersionOut):
    ranks: list[RankOut]


# --- the principal's calendar ------------------------------------------------------


class CalendarIn(Schema):
    time_zone: TimeZone | None = Field(
        default=None, description="The principal's IANA zone; defaults to the office's."
    )
    window_start: LocalTime = Field(
        default=time(7), description="Daily window, local: first minute."
    )
    window_end: LocalTime = Field(
        default=time(22), description="Daily window, local: end (excluded)."
    )
    max_calls_per_day: int | None = Field(default=None, ge=1, le=100)
    buffer_minutes: int = Field(default=0, ge=0, le=240, description="Free time between calls.")
    days_off_country: CountryCode | None = Field(
        default=None,
        description="The country whose weekends and public holidays the principal keeps "
        "(ISO 3166-1 alpha-2); none: every day is a working day.",
    )
    days_off_subdivision: Subdivision | None = Field(
        default=None,
        description="A part of that country with holidays of its own (ENG, BY, CA …).",
    )
    rank_policy: RankPolicy = Field(
        default=RankPolicy.PRECEDENCE,
        description="Where two calls cannot both fit: 'precedence' puts the leader's place "
        "in the order of precedence first (urgency orders equal places), 'urgency' puts "
        "the more urgent request first (the order of precedence orders equal urgency).",
    )


class BusyBlockIn(Schema):
    start: AwareDatetime
    end: AwareDatetime
    note: Notes = ""


class BusyBlockOut(Schema):
    id: int
    start: datetime
    end: datetime
    note: str


class CalendarOut(Schema):
    office_id: RowId
    time_zone: str
    window_start: LocalTime
    window_end: LocalTime
    max_calls_per_day: int | None
    buffer_minutes: int
    days_off_country: str | None
    days_off_subdivision: str | None
    rank_policy: RankPolicy
    is_default: bool = Field(description="True while nobody has set this calendar.")
    busy: list[BusyBlockOut]


# --- call requests -----------------------------------------------------------------


class HoursIn(Schema):
    start: LocalTime
    end: LocalTime


class HoursOut(Schema):
    start: LocalTime
    end: LocalTime


class SpanIn(Schema):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> SpanIn:
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} is not after start")
        return self


class SpanOut(Schema):
    start: datetime
    end: datetime


class CallRequestIn(Schema):
    leader_id: RowId = Field(description="The leader (a person of the directory).")
    principal_office_id: RowId | None = Field(
        default=None, description="The principal's office; the only one when absent."
    )
    earliest_date: date = Field(
        description="First acceptable day: the principal's date, or the leader's with "
        "dates_in_leader_zone."
    )
    latest_date: date = Field(description="Last acceptable day (included), as earliest_date.")
    dates_in_leader_zone: bool = Field(
        default=False, description="The window's dates are the leader's, not the principal's."
    )
    talk_minutes: int = Field(ge=1, le=720, description="Talk time, before interpretation.")
    languages: list[Language] | None = Field(
        default=None,
        max_length=10,
        description="The leader's languages; the directory's if absent.",
    )
    interpretation: Interpretation | None = Field(
        default=None,
        description="none, consecutive (doubles the time) or simultaneous; "
        "consecutive when the leader and the principal share no language, else none.",
    )
    urgency: int = Field(default=0, ge=0, le=10, description="Higher is more urgent.")
    notes: Notes = ""
    leader_hours: HoursIn | None = Field(
        default=None, description="The leader's reasonable local hours; 08:00–20:00 if absent."
    )
    leader_busy: list[SpanIn] = Field(
        default_factory=list, max_length=200, description="Times the leader cannot take it."
    )
    message_id: PublicId | None = Field(default=None, description="A related message's id.")


class CancelIn(Schema):
    reason: Reason


class SlotOut(Schema):
    run_id: RowId
    start: datetime
    end: datetime
    confirmed: bool
    interpreters: list[str]


class LeftOutOut(Schema):
    request_id: str
    leader_name: str
    reason: str
    detail: str | None = Field(description="Why exactly; shown to the call desk and principal.")


class CallRequestOut(Schema):
    id: str
    leader_id: RowId
    leader_name: str
    leader_country: str
    leader_time_zone: str
    principal_office_id: RowId
    requested_by_office_id: RowId | None
    message_id: str | None
    earliest_date: date
    latest_date: date
    talk_minutes: int
    languages: list[str]
    interpretation: str
    urgency: int
    notes: str
    leader_hours: HoursOut | None
    leader_busy: list[SpanOut]
    dates_in_leader_zone: bool
    status: CallStatus
    created_at: datetime
    ledger_index: int
    call: SlotOut | None = Field(description="Its place in the latest schedule, if any.")
    left_out: LeftOutOut | None = Field(description="Why the latest schedule left it out.")
    notice: str | None = Field(
        default=None,
        description="Said once, when the request is made: that it waits beyond the "
        "planning horizon.",
    )


# --- schedules ---------------------------------------------------------------------


class ScheduleIn(Schema):
    principal_office_id: RowId | None = Field(
        default=None, description="The principal's office; the only one when absent."
    )
    method: Literal["solver", "greedy"] = "solver"
    time_limit_s: float = Field(
        default=5.0,
        ge=0,
        le=10,
        description="The solver's budget in CP-SAT's deterministic seconds (close to seconds "
        "on an idle machine), so that a run repeats exactly for its seed.",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Same seed, same schedule.")


class CallOut(Schema):
    request_id: str
    leader_id: RowId
    leader_name: str
    leader_country: str
    leader_time_zone: str
    start: datetime
    end: datetime
    minutes: int
    principal_local: datetime
    leader_local: datetime
    interpreters: list[str]
    interpreter_ids: list[RowId] = Field(description="The roster's ids of the interpreters.")
    mode: Interpretation
    confirmed: bool
    status: CallStatus


class RunOut(Schema):
    run_id: RowId
    principal_office_id: RowId
    created_at: datetime
    created_by_user_id: RowId | None
    method: str
    status: str
    gap: float | None
    wall_time_s: float
    weighted_score: int
    inversions: int
    moves: int
    scheduled: int
    left_out: int
    ledger_index: int


class ScheduleOut(Schema):
    run: RunOut
    principal_time_zone: str
    calls: list[CallOut] = Field(description="The call sheet, in order of time.")
    left_out: list[LeftOutOut] = Field(description="Requests left out, in rank order, with why.")
