"""The call desk's tables: the order of precedence, calendars, requests, schedules."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pouch.db import Base, UTCDateTime


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class PrecedenceVersion(Base):
    """One edition of the order of precedence; every change makes a new one, logged."""

    __tablename__ = "precedence_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    reason: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger)

    ranks: Mapped[list[PrecedenceRank]] = relationship(
        back_populates="version",
        order_by="(PrecedenceRank.tier, PrecedenceRank.position)",
        cascade="all, delete-orphan",
    )


class PrecedenceRank(Base):
    """A leader's place: tier, then position within the tier (lower comes first)."""

    __tablename__ = "precedence_ranks"
    __table_args__ = (UniqueConstraint("version_id", "person_id", name="uq_precedence_rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("precedence_versions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    tier: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)

    version: Mapped[PrecedenceVersion] = relationship(back_populates="ranks")


class PrincipalCalendar(Base):
    """When the principal of an office takes calls."""

    __tablename__ = "principal_calendars"

    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    time_zone: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[time] = mapped_column(Time)
    window_end: Mapped[time] = mapped_column(Time)
    max_calls_per_day: Mapped[int | None] = mapped_column(Integer)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    #: The country (and its part) whose weekends and holidays the principal keeps.
    days_off_country: Mapped[str | None] = mapped_column(String(2))
    days_off_subdivision: Mapped[str | None] = mapped_column(String(16))
    #: ``problem.RankPolicy``: what comes first where two calls cannot both fit.
    rank_policy: Mapped[str] = mapped_column(
        String(16), default="precedence", server_default="precedence"
    )


class BusyBlock(Base):
    __tablename__ = "busy_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


class CallStatus(enum.StrEnum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    UNSCHEDULED = "unscheduled"
    CANCELLED = "cancelled"


class CallRequest(Base):
    __tablename__ = "call_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    principal_office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    requested_by_office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    entered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    earliest_date: Mapped[date] = mapped_column(Date)
    latest_date: Mapped[date] = mapped_column(Date)
    talk_minutes: Mapped[int] = mapped_column(Integer)
    languages: Mapped[list[str]] = mapped_column(JSON)
    interpretation: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    leader_hours_start: Mapped[time | None] = mapped_column(Time)
    leader_hours_end: Mapped[time | None] = mapped_column(Time)
    #: Times the leader cannot take the call: [[start, end], …] in ISO 8601, UTC.
    leader_busy: Mapped[list[list[str]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    #: Whether earliest_date and latest_date are the leader's dates (else the principal's).
    dates_in_leader_zone: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    status: Mapped[CallStatus] = mapped_column(_enum(CallStatus, 16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger)


class ScheduleRun(Base):
    """One run of the scheduler and what it decided."""

    __tablename__ = "schedule_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    gap: Mapped[float | None] = mapped_column(Float)
    wall_time_s: Mapped[float] = mapped_column(Float)
    weighted_score: Mapped[int] = mapped_column(Integer)
    inversions: Mapped[int] = mapped_column(Integer)
    moves: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    ledger_index: Mapped[int] = mapped_column(BigInteger)


class ScheduledCall(Base):
    __tablename__ = "scheduled_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_runs.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int] = mapped_column(ForeignKey("call_requests.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    interpreter_ids: Mapped[list[str]] = mapped_column(JSON)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)


class UnscheduledRequest(Base):
    __tablename__ = "unscheduled_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_runs.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int] = mapped_column(ForeignKey("call_requests.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
