"""JSON API of one's own passkeys: enrol (the registration ceremony), list, revoke; and
the options of a passkey login.

Every route acts for the caller only: nobody enrols or revokes a passkey for
someone else. The ceremony's bytes travel as base64url (the browser's
``PublicKeyCredential.toJSON()`` shape).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from pouch.identity import passkeys
from pouch.schema import RowId, Schema
from pouch.web.deps import AppClock, AppSettings, CurrentActor, DbSession

router = APIRouter(prefix="/api", tags=["passkeys"])


class PasskeyOut(Schema):
    id: int
    name: str
    credential_id: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    ledger_index: int | None = Field(description="The log index of its passkey.registered event.")


class PasskeyIn(Schema):
    credential: dict[str, Any] = Field(
        description="The answer of navigator.credentials.create(options) as JSON (base64url)."
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = "passkey"


@router.get("/passkeys", response_model=list[PasskeyOut])
def list_passkeys(session: DbSession, actor: CurrentActor) -> list[PasskeyOut]:
    """Your passkeys, revoked ones included."""
    return [
        PasskeyOut.model_validate(p, from_attributes=True)
        for p in passkeys.passkeys_of(session, actor.user_id)
    ]


class OptionsIn(Schema):
    """Nothing to give yet: the options are the server's (an empty object, or no body)."""


@router.post("/passkey-options")
def registration_options(
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: CurrentActor,
    data: OptionsIn | None = None,
) -> dict[str, Any]:
    """Options for navigator.credentials.create: a one-time challenge (5 minutes), a
    discoverable credential that verifies its user, for POUCH_PUBLIC_URL's host."""
    return passkeys.registration_options(
        session,
        user_id=actor.user_id,
        rp=passkeys.relying_party(settings.public_url),
        now=clock.now(),
    )


@router.post("/passkeys", response_model=PasskeyOut, status_code=201)
def register(
    data: PasskeyIn,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: CurrentActor,
) -> PasskeyOut:
    """Enrol the passkey the browser made: checked, kept, and logged as passkey.registered
    with its public key (you and the offices where you hold roles read the event)."""
    passkey = passkeys.register(
        session,
        user_id=actor.user_id,
        credential=data.credential,
        name=data.name,
        rp=passkeys.relying_party(settings.public_url),
        now=clock.now(),
    )
    return PasskeyOut.model_validate(passkey, from_attributes=True)


@router.delete("/passkeys/{passkey_id}", response_model=PasskeyOut)
def revoke(
    passkey_id: RowId, session: DbSession, clock: AppClock, actor: CurrentActor
) -> PasskeyOut:
    """Revoke one of your passkeys (passkey.revoked): it no longer logs in or signs."""
    passkey = passkeys.revoke(
        session, passkey_id=passkey_id, user_id=actor.user_id, now=clock.now()
    )
    return PasskeyOut.model_validate(passkey, from_attributes=True)


@router.post("/login/passkey/options")
def login_options(session: DbSession, clock: AppClock, settings: AppSettings) -> dict[str, Any]:
    """Options for navigator.credentials.get to log in with a passkey (POST /login/passkey
    takes the answer)."""
    return passkeys.login_options(
        session, rp=passkeys.relying_party(settings.public_url), now=clock.now()
    )
