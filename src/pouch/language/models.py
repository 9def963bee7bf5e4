"""The language desk's tables: interpreters, detected languages, translations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Enum, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pouch.db import Base, UTCDateTime


class Interpreter(Base):
    """An interpreter on the roster the call desk schedules from."""

    __tablename__ = "interpreters"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    #: [[a, b], …]: languages interpreted in both directions, ISO 639-1.
    language_pairs: Mapped[list[list[str]]] = mapped_column(JSON)
    #: [[start, end], …] in ISO 8601 UTC.
    availability: Mapped[list[list[str]]] = mapped_column(JSON)
    max_minutes_per_day: Mapped[int | None] = mapped_column(Integer)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LanguageDetection(Base):
    """What language a message is in, as far as the detector can tell."""

    __tablename__ = "language_detections"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str | None] = mapped_column(String(8))
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    alternatives: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TranslationStatus(enum.StrEnum):
    #: No engine supports the pair, or the engines failed: waiting for a translator.
    QUEUED = "queued"
    #: A translator has taken it.
    CLAIMED = "claimed"
    #: An engine's translation, not reviewed by a person.
    MACHINE = "machine"
    #: Submitted by a translator, who reviewed it.
    REVIEWED = "reviewed"


class Translation(Base):
    __tablename__ = "translations"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(8))
    status: Mapped[TranslationStatus] = mapped_column(
        Enum(
            TranslationStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        index=True,
    )
    text: Mapped[str | None] = mapped_column(Text)
    draft: Mapped[str | None] = mapped_column(Text)
    credit: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    translator_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int | None] = mapped_column(BigInteger)
