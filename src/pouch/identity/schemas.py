"""What the identity API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, SecretStr, StringConstraints

from pouch.directory.schemas import Email
from pouch.identity.models import PowerStatus, RemovalStatus, Role
from pouch.schema import Patchable, RowId, Schema
from pouch.text import Name

Username = Annotated[str, StringConstraints(min_length=2, max_length=63)]


class MembershipIn(Schema):
    office_id: RowId
    role: Role


class MembershipOut(Schema):
    id: int
    office_id: RowId
    role: Role


class UserIn(Schema):
    """A new user. No password: the user sets their own with the code Pouch e-mails them."""

    username: Username
    display_name: Name
    email: Email | None = None
    memberships: list[MembershipIn] = Field(default_factory=list, max_length=50)


class UserPatch(Schema):
    """What to change; a field left out stays as it is (only ``email`` may be null).
    No password: nobody sets another person's (``POST /api/users/{id}/password-reset``)."""

    display_name: Patchable[Name] = None
    email: Email | None = None
    is_active: Patchable[bool] = None


Password = Annotated[SecretStr, Field(min_length=12, max_length=1024)]


class PasswordResetOut(Schema):
    user_id: RowId
    sent_to: str = Field(description="The user's e-mail address, partly hidden.")
    expires_at: datetime


class PasswordResetIn(Schema):
    """The code the user received, and the password they choose."""

    code: Annotated[str, StringConstraints(min_length=8, max_length=200)]
    password: Password


class PasswordChangeIn(Schema):
    current_password: Annotated[SecretStr, Field(max_length=1024)]
    new_password: Password


class PasswordChangeOut(Schema):
    sessions_ended: int


class PowerRequestOut(Schema):
    """A change of power waiting for (or decided by) a second administrator."""

    id: int
    action: str
    summary: str
    payload: dict[str, Any]
    status: PowerStatus
    requested_by_user_id: RowId
    requested_at: datetime
    decided_by_user_id: RowId | None
    decided_at: datetime | None
    result: dict[str, Any] | None


class IdentityEventOut(Schema):
    """One change to identity or the directory, as its log entry's opening tells it."""

    index: int
    kind: str
    label: str
    time: str
    event: dict[str, Any]


class EndpointView(Schema):
    office_id: RowId
    webhook_url: str | None
    email: str | None


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    email: str | None
    is_active: bool
    created_at: datetime
    memberships: list[MembershipOut]


class MeOut(Schema):
    id: int
    username: str
    via: str
    roles: list[MembershipIn]


class TokenIn(Schema):
    name: Name
    office_id: RowId
    role: Role
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(Schema):
    id: int
    prefix: str
    name: str
    user_id: RowId
    office_id: RowId
    role: Role
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedToken(TokenOut):
    token: str = Field(description="The secret; shown this once and never again.")


class RemovalOut(Schema):
    id: int
    user_id: RowId
    office_id: RowId
    role: Role
    status: RemovalStatus
    requested_by_user_id: RowId
    requested_at: datetime
    approved_by_user_id: RowId | None
    approved_at: datetime | None
