"""Users, their roles in offices, web sessions and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pouch.db import Base, UTCDateTime


class Role(enum.StrEnum):
    """What a member of an office may do there (see design.md, "Who uses it")."""

    ADMINISTRATOR = "administrator"
    WATCH_OFFICER = "watch_officer"
    PRINCIPAL = "principal"
    PRINCIPAL_STAFF = "principal_staff"
    PROTOCOL_OFFICER = "protocol_officer"
    TRANSLATOR = "translator"
    INTERPRETER = "interpreter"
    AUDITOR = "auditor"
    SENDER = "sender"


def _role_enum() -> Enum:
    return Enum(Role, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Membership.id"
    )


class Membership(Base):
    """A user holds a role in an office."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "office_id", "role", name="uq_membership"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_role_enum())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="memberships")


class WebSession(Base):
    """A browser login. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A program's credential: acts with one role in one office, until it expires or is revoked.

    The secret is shown once at creation; only its SHA-256 is stored (it has
    256 bits of entropy, so a slow hash would add nothing).
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(_role_enum())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class RemovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class MembershipRemoval(Base):
    """Removing an office's last administrator: asked by one officer, done by a second."""

    __tablename__ = "membership_removals"

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(_role_enum())
    status: Mapped[RemovalStatus] = mapped_column(
        Enum(
            RemovalStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PowerStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class PowerRequest(Base):
    """A change of power asked by one administrator, done only when a second approves.

    ``action`` names what is asked (``identity.approvals.Action``) and ``payload``
    holds its arguments as the asker gave them; ``result`` what the approval made
    (the new user's id, say).
    """

    __tablename__ = "power_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(500))
    status: Mapped[PowerStatus] = mapped_column(
        Enum(
            PowerStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        index=True,
    )
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PasswordReset(Base):
    """A one-time code with which a user sets their own password.

    An administrator starts it; the code goes to the user (by e-mail, or from
    the operator's console), never to the administrator. Only its hash is kept.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
