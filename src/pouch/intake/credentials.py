"""A sender's token and key, remembered between its submissions.

A sender office submits many messages with the same API token and the same
signing key. Reading them for every submission (six queries in their own
transaction) cost more than accepting the message, so ``Credentials``
remembers the tokens and keys found valid, and the signature is checked
against the remembered key without touching the database.

Nothing is trusted from memory alone: every acceptance checks its token and
key again in the transaction that accepts it (``check_still_valid``, read
once per group commit), so a token or key revoked, a sender deactivated or a
role removed refuses every acceptance that commits after the change, as a
fresh read would. What is found invalid is never remembered, and what fails
the check is forgotten.

Recently used nonces are kept too, so that a replay is refused before it
costs a transaction; the nonce table's primary key stays the authority
(across restarts and processes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from pouch.db import Database
from pouch.errors import InvalidCredentials, InvalidSignature
from pouch.identity import service as identity_service
from pouch.identity.models import ApiToken
from pouch.intake import service as intake_service
from pouch.intake.models import SenderKey
from pouch.intake.signatures import RegisteredKey

Actor = identity_service.Actor


@dataclass(frozen=True)
class SenderToken:
    """A token found valid: who it acts for, and until when."""

    actor: Actor
    token_id: int
    expires_at: datetime


class Credentials:
    """Tokens, keys and nonces of senders, bounded in number (least recent go first)."""

    def __init__(self, *, max_tokens: int = 10_000, max_nonces: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, SenderToken] = OrderedDict()
        self._keys: OrderedDict[str, RegisteredKey] = OrderedDict()
        self._nonces: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._max_tokens = max_tokens
        self._max_nonces = max_nonces

    # -- tokens -------------------------------------------------------------------

    def known_token(self, secret: str, *, now: datetime) -> SenderToken | None:
        """The token if it was found valid before and has not expired since."""
        digest = identity_service.hash_secret(secret)
        with self._lock:
            known = self._tokens.get(digest)
            if known is None or known.expires_at <= now:
                return None
            self._tokens.move_to_end(digest)
            return known

    def token(self, database: Database, *, secret: str, now: datetime) -> SenderToken:
        """The token's actor, from memory or read in a short read-only transaction.

        :raises InvalidCredentials: unknown, revoked, expired, or its user or role gone.
        """
        known = self.known_token(secret, now=now)
        if known is not None:
            return known
        with database.transaction(write=False) as session:
            actor = identity_service.resolve_token(session, secret=secret, now=now, touch=False)
            assert actor.token_id is not None, "a token's actor names its token"
            expires_at = session.get_one(ApiToken, actor.token_id).expires_at
        found = SenderToken(actor=actor, token_id=actor.token_id, expires_at=expires_at)
        with self._lock:
            self._tokens[identity_service.hash_secret(secret)] = found
            while len(self._tokens) > self._max_tokens:
                self._tokens.popitem(last=False)
        return found

    # -- keys ---------------------------------------------------------------------

    def known_key(self, key_id: str) -> RegisteredKey | None:
        """The key if it was found valid before, else None (it may still exist)."""
        with self._lock:
            return self._keys.get(key_id)

    def key(self, session: Session, key_id: str) -> RegisteredKey | None:
        """The registered key, remembered when it is valid."""
        known = self.known_key(key_id)
        if known is not None:
            return known
        key = intake_service.resolve_key(session, key_id)
        if key is not None and not key.revoked:
            with self._lock:
                self._keys[key_id] = key
                while len(self._keys) > self._max_tokens:
                    self._keys.popitem(last=False)
        return key

    # -- nonces -------------------------------------------------------------------

    def spend_nonce(self, key_id: str, nonce: str, expires: datetime) -> bool:
        """False when this nonce was spent recently; else remember it and say True."""
        with self._lock:
            if (key_id, nonce) in self._nonces:
                return False
            self._nonces[(key_id, nonce)] = expires
            while len(self._nonces) > self._max_nonces:
                self._nonces.popitem(last=False)
        return True

    # -- after a refusal ----------------------------------------------------------

    def forget(self, *, secret: str | None = None, key_id: str | None = None) -> None:
        """Forget a token or a key that failed ``check_still_valid``."""
        with self._lock:
            if secret is not None:
                self._tokens.pop(identity_service.hash_secret(secret), None)
            if key_id is not None:
                self._keys.pop(key_id, None)


_KEYS = cast(Table, SenderKey.__table__)
_KEY_REVOKED = select(_KEYS.c.revoked_at).where(_KEYS.c.key_id == bindparam("key"))


def check_still_valid(session: Session, *, token_id: int, key_id: str, now: datetime) -> None:
    """Refuse the acceptance when its token or key is no longer valid.

    Read once per transaction for each token and key (a group commit accepts
    many messages from the same few senders), with the messages it accepts.

    :raises InvalidCredentials: the token was revoked, expired, or its user or role gone.
    :raises InvalidSignature: the key was revoked or removed.
    """
    checked: dict[tuple[str, object], str | None] = session.info.setdefault(
        "pouch.credentials_checked", {}
    )
    if ("token", token_id) not in checked:
        checked[("token", token_id)] = identity_service.token_refusal(
            identity_service.token_state(session, token_id), now=now
        )
    if (problem := checked[("token", token_id)]) is not None:
        raise InvalidCredentials(problem)
    if ("key", key_id) not in checked:
        revoked = session.connection().execute(_KEY_REVOKED, {"key": key_id}).one_or_none()
        checked[("key", key_id)] = (
            f"unknown key {key_id!r}"
            if revoked is None
            else f"key {key_id!r} is revoked"
            if revoked.revoked_at is not None
            else None
        )
    if (problem := checked[("key", key_id)]) is not None:
        raise InvalidSignature(problem)
