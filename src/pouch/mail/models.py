"""Mail as it came (the exact bytes, once per SHA-256), what each arrival became,
the officers' decisions on quarantined mail, and each office's mail addresses,
pinned DKIM keys and signing requirement."""

from __future__ import annotations

import enum
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
from sqlalchemy.orm import Mapped, mapped_column

from pouch.db import Base, UTCDateTime


class MailState(enum.StrEnum):
    #: Stored and logged; not yet looked at (a crash here is picked up again).
    RECEIVED = "received"
    #: Became a message (or several, one per addressee office).
    ACCEPTED = "accepted"
    #: The same mail again (its bytes, or its Message-ID with the same content).
    REPLAY = "replay"
    #: Waiting for a watch officer, with its reason.
    QUARANTINED = "quarantined"
    #: Rejected by two officers; the bytes stay on the record.
    REJECTED = "rejected"


class RawMail(Base):
    """The exact bytes of a mail as the SMTP DATA phase delivered them (dot-unstuffed)."""

    __tablename__ = "mail_raw"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class InboundMail(Base):
    """One arrival of a mail: the SMTP envelope, its evidence and its outcome."""

    __tablename__ = "inbound_mail"
    __table_args__ = (
        Index("ix_inbound_mail_state", "state", "received_at"),
        Index("ix_inbound_mail_message_id", "message_id_header"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("mail_raw.sha256"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The ``received`` event's place in the log.
    received_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    mail_from: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    peer: Mapped[str] = mapped_column(String(100))
    helo: Mapped[str | None] = mapped_column(String(255))
    tls: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[MailState] = mapped_column(
        Enum(
            MailState, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        )
    )
    reason: Mapped[str | None] = mapped_column(Text)
    message_id_header: Mapped[str | None] = mapped_column(String(998))
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    sender_office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    #: DKIM, ARC and DMARC verdicts with the keys used (``mail.authentication``).
    verdicts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Public ids of the messages it became, or of the first arrival's for a replay.
    messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    replay_of_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_mail.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MailDecision(Base):
    """A watch officer's step on a quarantined mail: asking to reject, rejecting,
    accepting. Rejection takes two officers; the first one's row is the request."""

    __tablename__ = "mail_decisions"
    __table_args__ = (UniqueConstraint("mail_id", "officer_id", "action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mail.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class OfficeMailAddress(Base):
    """An address or a whole domain (``@example.org``) that is an office's for mail:
    the office a mail from it comes from, or the office a mail to it goes to."""

    __tablename__ = "office_mail_addresses"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)


class DkimPin(Base):
    """A DKIM key pinned for an office: used instead of DNS for its domain and selector."""

    __tablename__ = "dkim_pins"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    selector: Mapped[str] = mapped_column(String(63), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    #: The key record as DNS would publish it (``v=DKIM1; k=ed25519; p=…``).
    record: Mapped[str] = mapped_column(Text)


class OfficeMailPolicy(Base):
    """What an office asks of the mail sent in its name."""

    __tablename__ = "office_mail_policies"

    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    #: Unsigned mail from it is quarantined, not accepted.
    require_signed: Mapped[bool] = mapped_column(Boolean, default=False)


class MailAnswer(Base):
    """An automatic answer to a mail's sender, or why none was sent: the record the
    rate limits are counted in, and what an auditor reads when a sender says it was
    never told. The e-mail itself is a notice in the outbox (``notice_key``)."""

    __tablename__ = "mail_answers"
    __table_args__ = (
        Index("ix_mail_answers_address", "address", "at"),
        Index("ix_mail_answers_domain", "domain", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mail.id"), index=True)
    #: What the answer says: ``accepted``, ``quarantined``, ``released``, ``rejected``.
    about: Mapped[str] = mapped_column(String(16))
    #: The return path asked to be answered ("" for the null return path).
    address: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(253))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: ``sent`` (queued in the outbox), or why not (``answers.Withheld``).
    outcome: Mapped[str] = mapped_column(String(16))
    notice_key: Mapped[str | None] = mapped_column(String(64))
