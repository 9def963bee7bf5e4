"""The tables of a call's run and papers; times are UTC."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pouch.briefings.states import CallState, Clearance, Mode, ParticipantKind
from pouch.db import Base, UTCDateTime


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class CallRecord(Base):
    """The call of one request, as it is run: its state, logistics and papers.

    Written at the first action on the call (reading never creates it); a missed or
    rescheduled call is followed by a new request, with a record of its own.
    """

    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("call_requests.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[CallState] = mapped_column(_enum(CallState, 16))
    mode: Mapped[Mode] = mapped_column(_enum(Mode, 8), default=Mode.PHONE)
    #: Who dials: "us" (the operations center) or "them" (the leader's office).
    placed_by: Mapped[str] = mapped_column(String(8), default="us")
    follow_up_request_id: Mapped[int | None] = mapped_column(ForeignKey("call_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    steps: Mapped[list[CallStep]] = relationship(
        order_by="CallStep.id", cascade="all, delete-orphan"
    )
    participants: Mapped[list[CallParticipant]] = relationship(
        order_by="CallParticipant.id", cascade="all, delete-orphan"
    )


class CallStep(Base):
    """One transition of a call: from, to, when, by whom, and its event in the log."""

    __tablename__ = "call_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[CallState] = mapped_column(_enum(CallState, 16))
    to_state: Mapped[CallState] = mapped_column(_enum(CallState, 16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    ledger_index: Mapped[int] = mapped_column(BigInteger)


class CallParticipant(Base):
    """An interpreter, notetaker or clearing officer designated for a call; interpreters
    and notetakers check in."""

    __tablename__ = "call_participants"
    __table_args__ = (UniqueConstraint("record_id", "user_id", "kind", name="uq_call_participant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[ParticipantKind] = mapped_column(_enum(ParticipantKind, 16))
    designated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    check_in_ledger_index: Mapped[int | None] = mapped_column(BigInteger)


class Paper(Base):
    """A call's briefing (talking points and background) or its memcon: the paper's
    clearance, its versions beside it."""

    __tablename__ = "call_papers"
    __table_args__ = (UniqueConstraint("record_id", "kind", name="uq_call_paper"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), index=True
    )
    #: "briefing" or "memcon".
    kind: Mapped[str] = mapped_column(String(16))
    clearance: Mapped[Clearance] = mapped_column(_enum(Clearance, 16))
    #: The clearing officer's comments when the paper was last returned.
    comments: Mapped[str] = mapped_column(Text, default="")
    #: The SHA-256 of the cleared (filed) version's document, as logged.
    cleared_sha256: Mapped[str | None] = mapped_column(String(64))
    cleared_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    versions: Mapped[list[PaperVersion]] = relationship(
        order_by="PaperVersion.number", cascade="all, delete-orphan"
    )


class PaperVersion(Base):
    """One saved version of a paper, never changed afterwards."""

    __tablename__ = "call_paper_versions"
    __table_args__ = (UniqueConstraint("paper_id", "number", name="uq_call_paper_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("call_papers.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Packet(Base):
    """A briefing packet issued when the briefing was cleared: what it said, its PDF,
    and the PDF's SHA-256 as logged (``packet.issued``)."""

    __tablename__ = "briefing_packets"
    __table_args__ = (UniqueConstraint("record_id", "number", name="uq_briefing_packet"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    briefing_version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ledger_index: Mapped[int] = mapped_column(BigInteger)
