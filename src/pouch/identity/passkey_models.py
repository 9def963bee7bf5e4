"""Officers' passkeys (WebAuthn credentials), the one-time challenges of their
ceremonies, and the assertions with which they signed their decisions.

A passkey's public key is also in the log (``passkey.registered``), so an
assertion kept here can be checked by anyone entitled to the decision's event
without trusting this table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pouch.db import Base, UTCDateTime


class Passkey(Base):
    """A WebAuthn credential a user registered: its id, its COSE public key, its counter."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The credential id as base64url (what the browser calls ``id``).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The log index of its ``passkey.registered`` event (the key as logged).
    ledger_index: Mapped[int | None] = mapped_column(Integer)


class PasskeyChallenge(Base):
    """A challenge handed to a browser once: to register, to log in, or to sign a decision.

    ``purpose`` is ``register``, ``login`` or ``decision``; a decision's
    challenge is the SHA-256 of ``action`` (the canonical JSON of what is
    decided), so the server keeps that text to compare with what is then asked.
    """

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The challenge, base64url.
    challenge: Mapped[str] = mapped_column(String(100), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DecisionAssertion(Base):
    """An officer's WebAuthn assertion over one decision, kept as the browser sent it.

    ``sha256`` (hex) is what the decision's event carries as ``assertion``: the
    hash of the canonical JSON of ``bundle`` (``passkeys.assertion_record``).
    """

    __tablename__ = "decision_assertions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    passkey_id: Mapped[int] = mapped_column(ForeignKey("passkeys.id"))
    message_public_id: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
