"""Sender keys and nonces: the stored half of sender authentication."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound
from pouch.intake.models import SenderKey, SignatureNonce
from pouch.intake.signatures import RegisteredKey

_NONCES = cast(Table, SignatureNonce.__table__)


def parse_public_key(text: str) -> bytes:
    """A raw 32-byte Ed25519 public key from base64url/base64 of the raw key, or PEM."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_public_key(text.encode())
        except ValueError:
            raise InvalidInput(
                "public_key is not a valid PEM public key",
                field_errors=[FieldError("body.public_key", "invalid PEM")],
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput(
                "public_key must be an Ed25519 key",
                field_errors=[FieldError("body.public_key", "not Ed25519")],
            )
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(
            "public_key must be 32 bytes of Ed25519 key in base64url, or PEM",
            field_errors=[FieldError("body.public_key", "not a 32-byte Ed25519 key")],
        )
    return raw


def register_key(
    session: Session, *, office_id: int, key_id: str, public_key: bytes, now: datetime
) -> SenderKey:
    directory_service.get_office(session, office_id)
    if session.scalar(select(SenderKey.id).where(SenderKey.key_id == key_id)) is not None:
        raise Conflict(
            f"a key {key_id!r} is registered already",
            field_errors=[FieldError("body.key_id", "taken")],
        )
    key = SenderKey(office_id=office_id, key_id=key_id, public_key=public_key, created_at=now)
    session.add(key)
    session.flush()
    return key


def list_keys(session: Session, *, office_id: int) -> list[SenderKey]:
    return list(
        session.scalars(
            select(SenderKey).where(SenderKey.office_id == office_id).order_by(SenderKey.id)
        )
    )


def revoke_key(session: Session, *, office_id: int, key_id: str, now: datetime) -> SenderKey:
    key = session.scalar(
        select(SenderKey).where(SenderKey.office_id == office_id, SenderKey.key_id == key_id)
    )
    if key is None:
        raise NotFound(f"office {office_id} has no key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = now
    return key


def resolve_key(session: Session, key_id: str) -> RegisteredKey | None:
    key = session.scalar(select(SenderKey).where(SenderKey.key_id == key_id))
    if key is None:
        return None
    return RegisteredKey(
        key_id=key.key_id,
        office_id=key.office_id,
        public_key=bytes(key.public_key),
        revoked=key.revoked_at is not None,
    )


def remember_nonce(session: Session, *, key_id: str, nonce: str, expires_at: datetime) -> None:
    """Store a nonce; the primary key refuses a second use even in a race."""
    session.connection().execute(
        _NONCES.insert(), {"key_id": key_id, "nonce": nonce, "expires_at": expires_at}
    )


def forget_expired_nonces(session: Session, *, now: datetime) -> int:
    result = session.execute(delete(SignatureNonce).where(SignatureNonce.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]
