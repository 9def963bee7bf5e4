"""Officers' passkeys (WebAuthn): enrolment, login, and signed decisions (invariant 6).

Enrolment is the registration ceremony: the server hands the browser options
with a one-time challenge (``registration_options``), the browser's
authenticator makes a key pair, and ``register`` checks its answer
(``webauthn.verify_registration_response``), keeps the credential and logs
``passkey.registered`` with the COSE public key, so that anyone entitled to
an officer's decision can check its assertion without trusting this
database. Login is the authentication ceremony with a discoverable
credential (``login_options``, ``login``).

A decision is signed over a challenge derived from it (``issue_decision``):
the SHA-256 of the canonical JSON of the action, the message, the hold, the
decision's fields, the officer, a server time and a server nonce, kept a few
minutes. ``confirm`` checks the assertion the action arrives with against
that challenge and the officer's registered credential (user verification
required), keeps it, and returns its hash for the action's event to log.
When an assertion is needed is ``POUCH_SIGNED_DECISIONS``'s.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import webauthn
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from pouch.directory.models import Office, OfficeKind
from pouch.errors import (
    Conflict,
    DecisionNotSigned,
    FieldError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from pouch.events import EventKind
from pouch.identity import demo_keys, record
from pouch.identity.decision_check import (
    DECISION_STEPS,
    action_challenge,
    b64url,
    canonical,
    from_b64url,
    record_hash,
)
from pouch.identity.models import Membership, User
from pouch.identity.passkey_models import DecisionAssertion, Passkey, PasskeyChallenge
from pouch.ledger.events import format_time

#: How long a ceremony's challenge, or a decision's, may be answered.
CHALLENGE_LIFETIME = timedelta(minutes=5)
#: ``POUCH_SIGNED_DECISIONS``.
Policy = Literal["off", "when-enrolled", "required"]
DecisionAction = Literal[
    "hold.request",
    "hold.approve",
    "hold.release",
    "hold.withdraw",
    "route",
    "attachment.quarantine",
]


@dataclass(frozen=True)
class RelyingParty:
    """Pouch as WebAuthn sees it: the host name its passkeys are bound to, and its origin.

    >>> relying_party("https://pouch.mfa.example/").origin
    'https://pouch.mfa.example'
    >>> relying_party("http://127.0.0.1:8000").id
    '127.0.0.1'
    """

    id: str
    origin: str
    name: str = "Pouch"

    @property
    def local(self) -> bool:
        """On this machine only (what the demo authenticator is allowed for)."""
        return self.id in ("localhost", "127.0.0.1", "::1") or self.id.endswith(".localhost")


def relying_party(public_url: str) -> RelyingParty:
    """From ``POUCH_PUBLIC_URL``: passkeys work only at the address users really open."""
    parts = urlsplit(public_url)
    host = (parts.hostname or "localhost").lower()
    return RelyingParty(id=host, origin=f"{parts.scheme}://{parts.netloc.lower()}")


def _new_challenge(
    session: Session,
    *,
    purpose: str,
    now: datetime,
    user_id: int | None = None,
    challenge: bytes | None = None,
    action: str | None = None,
) -> bytes:
    value = challenge if challenge is not None else secrets.token_bytes(32)
    # Stale challenges are of no use to anyone: each new one sweeps them away.
    session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
    session.add(
        PasskeyChallenge(
            challenge=b64url(value),
            purpose=purpose,
            user_id=user_id,
            action=action,
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    session.flush()
    return value


def _take_challenge(
    session: Session, *, client_data_json: bytes, purpose: str, now: datetime
) -> PasskeyChallenge:
    """The one-time challenge the browser answered, used up now; refused when unknown,
    used or stale."""
    try:
        client = json.loads(client_data_json)
        challenge = client["challenge"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("clientDataJSON is not the browser's client data") from None
    row = session.scalar(
        select(PasskeyChallenge)
        .where(PasskeyChallenge.challenge == str(challenge), PasskeyChallenge.purpose == purpose)
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        if purpose == "decision":
            raise DecisionNotSigned("the challenge is unknown, used or expired: ask a new one")
        raise InvalidCredentials("the passkey challenge is unknown, used or expired: try again")
    row.used_at = now
    return row


def _client_data(credential: Mapping[str, Any]) -> bytes:
    response = credential.get("response")
    if not isinstance(response, Mapping) or not isinstance(response.get("clientDataJSON"), str):
        raise InvalidInput(
            "the credential must be the browser's PublicKeyCredential as JSON",
            field_errors=[FieldError("body.credential.response", "clientDataJSON is missing")],
        )
    try:
        return from_b64url(response["clientDataJSON"])
    except ValueError:
        raise InvalidInput("clientDataJSON is not base64url") from None


# --- enrolment ---------------------------------------------------------------


def active_passkeys(session: Session, user_id: int) -> list[Passkey]:
    return list(
        session.scalars(
            select(Passkey)
            .where(Passkey.user_id == user_id, Passkey.revoked_at.is_(None))
            .order_by(Passkey.id)
        )
    )


def passkeys_of(session: Session, user_id: int) -> list[Passkey]:
    """Every passkey the user registered, revoked ones included, oldest first."""
    return list(
        session.scalars(select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id))
    )


def has_passkey(session: Session, user_id: int) -> bool:
    return bool(active_passkeys(session, user_id))


def registration_options(
    session: Session, *, user_id: int, rp: RelyingParty, now: datetime
) -> dict[str, Any]:
    """What ``navigator.credentials.create`` needs (as JSON, bytes in base64url): a
    discoverable credential that verifies its user, none of the user's own again."""
    user = _user(session, user_id)
    challenge = _new_challenge(session, purpose="register", user_id=user.id, now=now)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.username,
        user_id=str(user.id).encode(),
        user_display_name=user.display_name,
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=from_b64url(p.credential_id))
            for p in active_passkeys(session, user.id)
        ],
    )
    return options_to_json_dict(options)


def register(
    session: Session,
    *,
    user_id: int,
    credential: Mapping[str, Any],
    name: str,
    rp: RelyingParty,
    now: datetime,
) -> Passkey:
    """Check the browser's answer to ``registration_options`` and keep the passkey."""
    row = _take_challenge(
        session, client_data_json=_client_data(credential), purpose="register", now=now
    )
    if row.user_id != user_id:
        raise PermissionDenied("this registration was started by another user")
    try:
        verified = webauthn.verify_registration_response(
            credential=dict(credential),
            expected_challenge=from_b64url(row.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except WebAuthnException as error:
        raise InvalidInput(f"the passkey was not accepted: {error}") from None
    return enrol_public_key(
        session,
        user_id=user_id,
        credential_id=b64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        rp=rp,
        now=now,
    )


def enrol_public_key(
    session: Session,
    *,
    user_id: int,
    credential_id: str,
    public_key: bytes,
    name: str,
    rp: RelyingParty,
    now: datetime,
    sign_count: int = 0,
) -> Passkey:
    """Keep a credential and log it (``passkey.registered``): the user, the credential id,
    the COSE public key, and the relying party and origin its assertions are made for.
    The user and the offices where the user holds roles read the event."""
    if session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise Conflict("this passkey is already registered")
    passkey = Passkey(
        user_id=user_id,
        credential_id=credential_id,
        public_key=public_key,
        sign_count=sign_count,
        name=name.strip()[:100] or "passkey",
        created_at=now,
    )
    session.add(passkey)
    session.flush()
    offices = record.offices_of(session, user_id)
    recorded = record.change(
        session,
        EventKind.PASSKEY_REGISTERED,
        at=now,
        by=user_id,
        details={
            "user": user_id,
            "passkey": passkey.id,
            "credential": credential_id,
            "public_key": b64url(public_key),
            "rp_id": rp.id,
            "origin": rp.origin,
            "name": passkey.name,
        },
        offices=offices,
        tell_users=[user_id],
    )
    passkey.ledger_index = recorded.index
    return passkey


def revoke(session: Session, *, passkey_id: int, user_id: int, now: datetime) -> Passkey:
    """The user withdraws one of their passkeys (``passkey.revoked``)."""
    passkey = session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user_id:
        raise NotFound(f"you have no passkey {passkey_id}")
    if passkey.revoked_at is not None:
        raise Conflict("the passkey is already revoked")
    passkey.revoked_at = now
    record.change(
        session,
        EventKind.PASSKEY_REVOKED,
        at=now,
        by=user_id,
        details={"user": user_id, "passkey": passkey.id, "credential": passkey.credential_id},
        offices=record.offices_of(session, user_id),
        tell_users=[user_id],
    )
    return passkey


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def demo_enrolled(session: Session, *, officer_id: int, data_dir: Path) -> bool:
    """Whether the officer's passkey is the demo's software key (``pouch demo``)."""
    user = session.get(User, officer_id)
    kept = demo_keys.load(data_dir, user.username) if user is not None else None
    registered = {p.credential_id for p in active_passkeys(session, officer_id)}
    return kept is not None and kept.get("credential_id") in registered


# --- login -------------------------------------------------------------------


def login_options(session: Session, *, rp: RelyingParty, now: datetime) -> dict[str, Any]:
    """What ``navigator.credentials.get`` needs to log in: any passkey of this site."""
    challenge = _new_challenge(session, purpose="login", now=now)
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def _verify(
    passkey: Passkey,
    credential: Mapping[str, Any],
    *,
    challenge: bytes,
    rp: RelyingParty,
    now: datetime,
) -> None:
    webauthn_credential = dict(credential)
    verified = webauthn.verify_authentication_response(
        credential=webauthn_credential,
        expected_challenge=challenge,
        expected_rp_id=rp.id,
        expected_origin=rp.origin,
        credential_public_key=passkey.public_key,
        credential_current_sign_count=passkey.sign_count,
        require_user_verification=True,
    )
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = now


def _passkey_of(session: Session, credential: Mapping[str, Any]) -> Passkey | None:
    credential_id = credential.get("id")
    if not isinstance(credential_id, str):
        return None
    return session.scalar(
        select(Passkey).where(Passkey.credential_id == credential_id, Passkey.revoked_at.is_(None))
    )


def login(
    session: Session, *, credential: Mapping[str, Any], rp: RelyingParty, now: datetime
) -> User:
    """The active user whose registered passkey answered ``login_options``."""
    row = _take_challenge(
        session, client_data_json=_client_data(credential), purpose="login", now=now
    )
    passkey = _passkey_of(session, credential)
    if passkey is None:
        raise InvalidCredentials("this passkey is not registered, or was revoked")
    try:
        _verify(passkey, credential, challenge=from_b64url(row.challenge), rp=rp, now=now)
    except WebAuthnException:
        raise InvalidCredentials("the passkey's answer does not verify") from None
    user = _user(session, passkey.user_id)
    if not user.is_active:
        raise InvalidCredentials("unknown user or wrong password")
    return user


def is_operations_staff(session: Session, user_id: int) -> bool:
    """A member of the operations office (any role)."""
    return (
        session.scalar(
            select(Membership.id)
            .join(Office, Office.id == Membership.office_id)
            .where(Membership.user_id == user_id, Office.kind == OfficeKind.OPERATIONS)
            .limit(1)
        )
        is not None
    )


def password_refused(session: Session, *, username: str, operations_password: bool) -> bool:
    """``POUCH_OPERATIONS_PASSWORD_LOGIN=false`` refuses the password to operations staff who
    have a passkey; those without one keep it, to log in and enrol one."""
    if operations_password:
        return False
    user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        return False
    return is_operations_staff(session, user_id) and has_passkey(session, user_id)


# --- signed decisions --------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What an officer decides: the action, its message, its hold, and its fields as given."""

    action: DecisionAction
    message: str
    hold: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, signed: Mapping[str, Any]) -> bool:
        return (
            signed.get("action") == self.action
            and signed.get("message") == self.message
            and signed.get("hold") == self.hold
            and signed.get("fields") == json.loads(canonical(dict(self.fields)))
        )


def needs_signature(session: Session, *, officer_id: int, policy: Policy) -> bool:
    if policy == "off":
        return False
    return policy == "required" or has_passkey(session, officer_id)


def issue_decision(
    session: Session, *, decision: Decision, officer_id: int, rp: RelyingParty, now: datetime
) -> dict[str, Any]:
    """The challenge for one decision, and the options for ``navigator.credentials.get``
    limited to the officer's own passkeys."""
    if decision.action not in DECISION_STEPS:
        raise InvalidInput(f"{decision.action!r} is not a decision an officer signs")
    action = canonical(
        {
            "action": decision.action,
            "message": decision.message,
            "hold": decision.hold,
            "fields": dict(decision.fields),
            "officer": officer_id,
            "time": format_time(now),
            "nonce": b64url(secrets.token_bytes(16)),
        }
    ).decode()
    challenge = _new_challenge(
        session,
        purpose="decision",
        user_id=officer_id,
        challenge=action_challenge(action),
        action=action,
        now=now,
    )
    passkeys = active_passkeys(session, officer_id)
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=from_b64url(p.credential_id)) for p in passkeys
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return {
        "action": action,
        "challenge": b64url(challenge),
        "expires_at": format_time(now + CHALLENGE_LIFETIME),
        "options": options_to_json_dict(options),
    }


def confirm(
    session: Session,
    *,
    decision: Decision,
    officer_id: int,
    assertion: Mapping[str, Any] | None,
    policy: Policy,
    rp: RelyingParty,
    now: datetime,
) -> str | None:
    """Check the assertion a decision arrives with and keep it; its hash (hex) goes into
    the decision's event. None when no assertion came and none is needed."""
    if assertion is None:
        if needs_signature(session, officer_id=officer_id, policy=policy):
            raise DecisionNotSigned(
                "confirm this decision with your passkey: ask POST /api/decision-challenges "
                "and send the assertion as 'assertion'"
                if has_passkey(session, officer_id)
                else "decisions must be signed and you have no passkey: enrol one at /passkeys"
            )
        return None
    if policy == "off":
        return None
    try:
        client_data = _client_data(assertion)
    except InvalidInput as error:
        raise DecisionNotSigned(str(error)) from None
    row = _take_challenge(session, client_data_json=client_data, purpose="decision", now=now)
    if row.user_id != officer_id or row.action is None:
        raise DecisionNotSigned("this challenge was issued to another officer")
    if not decision.matches(json.loads(row.action)):
        raise DecisionNotSigned("the signed challenge was for another decision than this one")
    passkey = _passkey_of(session, assertion)
    if passkey is None or passkey.user_id != officer_id:
        raise DecisionNotSigned("the assertion is not from one of your registered passkeys")
    try:
        _verify(passkey, assertion, challenge=from_b64url(row.challenge), rp=rp, now=now)
    except WebAuthnException as error:
        raise DecisionNotSigned(f"the assertion does not verify: {error}") from None
    response = assertion["response"]
    kept = {
        "action": row.action,
        "credential": passkey.credential_id,
        "authenticator_data": str(response.get("authenticatorData")),
        "client_data_json": str(response.get("clientDataJSON")),
        "signature": str(response.get("signature")),
    }
    digest = record_hash(kept)
    session.add(
        DecisionAssertion(
            sha256=digest,
            user_id=officer_id,
            passkey_id=passkey.id,
            message_public_id=decision.message,
            action=row.action,
            record=kept,
            created_at=now,
        )
    )
    session.flush()
    return digest


def assertion(session: Session, sha256: str) -> DecisionAssertion:
    row = session.scalar(select(DecisionAssertion).where(DecisionAssertion.sha256 == sha256))
    if row is None:
        raise NotFound(f"no decision assertion {sha256}")
    return row


def registration_index(session: Session, passkey_id: int) -> int:
    passkey = session.get(Passkey, passkey_id)
    if passkey is None or passkey.ledger_index is None:
        raise NotFound("the passkey's registration is not logged")
    return passkey.ledger_index
