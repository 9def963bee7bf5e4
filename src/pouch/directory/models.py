"""Offices and people: who writes to whom, and who leads them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pouch.db import Base, UTCDateTime


class OfficeKind(enum.StrEnum):
    """What an office is to Pouch."""

    #: The office of the principal Pouch serves (e.g. "President-elect of the United States").
    PRINCIPAL = "principal"
    #: A foreign leader's office or an embassy that sends messages and requests calls.
    FOREIGN = "foreign"
    #: The ministry's own operations center (watch officers, translators, protocol).
    OPERATIONS = "operations"


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OfficeKind] = mapped_column(
        Enum(
            OfficeKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        )
    )
    country_code: Mapped[str] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: A retired office sends and receives nothing more; it stays on the record.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    people: Mapped[list[Person]] = relationship(back_populates="office", order_by="Person.id")


class Person(Base):
    """A leader or an official: how to address them, what they speak, where they are."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    form_of_address: Mapped[str] = mapped_column(String(200))
    country_code: Mapped[str] = mapped_column(String(2))
    #: The part of the country whose own holidays the person keeps (``ENG`` of ``GB``).
    subdivision: Mapped[str | None] = mapped_column(String(16))
    languages: Mapped[list[str]] = mapped_column(JSON)
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    office: Mapped[Office | None] = relationship(back_populates="people")
