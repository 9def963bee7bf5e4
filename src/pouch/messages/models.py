"""Messages, their events, attachments, holds, reads, and sender keys."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pouch.db import Base, UTCDateTime
from pouch.messages.rules import Precedence


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class MessageState(enum.StrEnum):
    #: In the watch floor's queue, not yet delivered.
    ACCEPTED = "accepted"
    #: Held by two officers; delivered when the hold ends.
    HELD = "held"
    #: In the addressee office's inbox.
    DELIVERED = "delivered"
    #: Acknowledged by a member of the addressee office.
    ACKNOWLEDGED = "acknowledged"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint(
            "addressee_office_id", "office_sequence", name="uq_messages_office_sequence"
        ),
        UniqueConstraint("sender_office_id", "idempotency_key", name="uq_messages_idempotency"),
        Index("ix_messages_due", "state", "auto_deliver_at"),
        Index("ix_messages_deadline", "state", "deliver_by"),
        Index("ix_messages_delivered_at", "delivered_at"),
        # Every list's default order, newest first (``messages.search``).
        Index("ix_messages_accepted_at", "accepted_at", "id"),
        # An inbox's order, newest first.
        Index("ix_messages_addressee_accepted", "addressee_office_id", "accepted_at", "id"),
        # A sender office's list, newest first: its sent half (migration 0021).
        Index("ix_messages_sender_accepted", "sender_office_id", "accepted_at", "id"),
        # The search's precedence order: one precedence at a time, nearest deadline first.
        Index("ix_messages_precedence", "precedence", "deliver_by", "id"),
        # The watch floor's queue in that order, one state at a time (migration 0022).
        Index("ix_messages_queue", "state", "precedence", "deliver_by", "id"),
        # A message's replies, on its page (found by tests/messages/test_query_plans.py).
        Index("ix_messages_in_reply_to", "in_reply_to_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    sender_office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    addressee_office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    submitted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    declared_language: Mapped[str | None] = mapped_column(String(3))
    security_label: Mapped[str | None] = mapped_column(String(64))
    precedence: Mapped[Precedence] = mapped_column(_enum(Precedence, 16))
    state: Mapped[MessageState] = mapped_column(_enum(MessageState, 16))
    office_sequence: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    auto_deliver_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deliver_by: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_index: Mapped[int] = mapped_column(BigInteger)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[MessageEvent]] = relationship(
        back_populates="message", order_by="MessageEvent.id", cascade="all, delete-orphan"
    )
    holds: Mapped[list[Hold]] = relationship(
        back_populates="message", order_by="Hold.id", cascade="all, delete-orphan"
    )


@dataclass(frozen=True)
class Shown:
    """A message as a list shows it. A long page is read as rows into these, not as
    ORM objects: ``pouch office check`` reads an office's whole inbox a thousand at a
    time, and loading each as a ``Message`` cost three times the page's query."""

    public_id: str
    sender_office_id: int
    addressee_office_id: int
    #: The public id of the message it answers.
    in_reply_to: str | None
    subject: str
    body_text: str
    body_html: str | None
    declared_language: str | None
    security_label: str | None
    precedence: Precedence
    state: MessageState
    office_sequence: int
    accepted_at: datetime
    deliver_by: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    overdue_at: datetime | None
    holds: Sequence[Hold]
    attachments: Sequence[Attachment]

    @classmethod
    def of(cls, message: Message, *, in_reply_to: str | None) -> Shown:
        return cls(
            **{name: getattr(message, name) for name in SHOWN_COLUMNS},
            in_reply_to=in_reply_to,
            holds=message.holds,
            attachments=message.attachments,
        )


#: The columns of ``messages`` a ``Shown`` holds as they are: its other fields are
#: read from elsewhere (the original's public id, the holds, the attachments).
SHOWN_COLUMNS = tuple(
    f.name for f in fields(Shown) if f.name not in {"in_reply_to", "holds", "attachments"}
)


class MessageEvent(Base):
    """One step of a message; its twin in the log is ``ledger_index``."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    message: Mapped[Message] = relationship(back_populates="events")


class AttachmentBlob(Base):
    """Attachment contents, stored once per SHA-256."""

    __tablename__ = "attachment_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    declared_type: Mapped[str | None] = mapped_column(String(127))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("attachment_blobs.sha256"))
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quarantine_reason: Mapped[str | None] = mapped_column(Text)

    message: Mapped[Message] = relationship(back_populates="attachments")


class HoldStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Hold(Base):
    """A hold on delivery: requested by one officer, in force only once a second approves."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[HoldStatus] = mapped_column(_enum(HoldStatus, 16))
    reason: Mapped[str] = mapped_column(Text)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    renews_hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"))

    message: Mapped[Message] = relationship(back_populates="holds")


class MessageRead(Base):
    """The first time each member of the addressee office opened the message."""

    __tablename__ = "message_reads"
    __table_args__ = (UniqueConstraint("message_id", "user_id", name="uq_message_reads"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class OfficeSequence(Base):
    """The next sequence number of messages addressed to an office (invariant 5)."""

    __tablename__ = "office_sequences"

    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    next_sequence: Mapped[int] = mapped_column(Integer)


class OfficeEndpoint(Base):
    """Where an office is told about its messages: a webhook and an e-mail address."""

    __tablename__ = "office_endpoints"

    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))


class NotificationChannel(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class Notification(Base):
    """The outbox: written in the transaction that causes it, sent after commit.

    A notice to an office goes to the office's endpoint as it is when the notice
    is sent (``office_id``), so a corrected address applies to what is still
    waiting; a notice to an auditor goes to ``target``. ``key`` names the notice
    to its receiver (the webhook's ``Idempotency-Key``, the e-mail's Message-ID):
    a notice sent twice (a sender that died before recording it) is recognised.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[NotificationChannel] = mapped_column(_enum(NotificationChannel, 16))
    office_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: While a sender holds the notice (claimed, not yet recorded); past it, it is due again.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)


class WorkFailure(Base):
    """A row the background worker could not handle: recorded, skipped, retried later.

    One row that fails (one the ORM cannot even load) never stops the worker's
    work on the others; auditors see every failure still open.
    """

    __tablename__ = "work_failures"
    __table_args__ = (UniqueConstraint("job", "row_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    retry_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger)
