"""Identity services on both backends: passwords, tokens, sessions, memberships."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import Conflict, InvalidCredentials, InvalidInput, NotFound
from pouch.identity import service as identity_service
from pouch.identity.models import ApiToken, Role, User
from tests.factories import PASSWORD, World, make_user


def test_production_password_hashes_are_argon2id() -> None:
    # The suite swaps in cheap parameters; the production hasher is untouched.
    encoded = PasswordHasher().hash("a long enough password")
    assert encoded.startswith("$argon2id$")
    assert identity_service.hash_password("another long password").startswith("$argon2id$")


def test_password_login(database: Database, world: World) -> None:
    with database.transaction() as session:
        user = identity_service.authenticate_password(
            session, username="watch-officer", password=PASSWORD
        )
        assert user.id == world.users[Role.WATCH_OFFICER].id
        assert user.password_hash != PASSWORD
        with pytest.raises(InvalidCredentials):
            identity_service.authenticate_password(
                session, username="watch-officer", password="nope"
            )
        with pytest.raises(InvalidCredentials):
            identity_service.authenticate_password(session, username="nobody", password=PASSWORD)


def test_deactivated_user_cannot_log_in_or_use_tokens(
    database: Database, world: World, clock: ManualClock
) -> None:
    user = world.users[Role.AUDITOR]
    with database.transaction() as session:
        identity_service.set_user_active(
            session, user_id=user.id, active=False, by=None, now=clock.now()
        )
    with database.transaction() as session:
        with pytest.raises(InvalidCredentials):
            identity_service.authenticate_password(
                session, username=user.username, password=PASSWORD
            )
        with pytest.raises(InvalidCredentials, match="deactivated"):
            identity_service.resolve_token(
                session, secret=world.tokens[Role.AUDITOR], now=clock.now()
            )


def test_an_offices_last_administrator_is_not_deactivated(
    database: Database, world: World, clock: ManualClock
) -> None:
    # Deactivating would remove the office's last administrator without the
    # second officer that removing one needs (invariant 6).
    ie = world.offices["ie-taoiseach"]
    with database.transaction() as session:
        admin = make_user(session, clock, "ie-admin", [(Role.ADMINISTRATOR, ie)])
    with database.transaction() as session, pytest.raises(Conflict) as refused:
        identity_service.set_user_active(
            session, user_id=admin.id, active=False, by=None, now=clock.now()
        )
    assert f"last administrator of office {ie.id}" in str(refused.value)
    with database.transaction() as session:
        assert identity_service.get_user(session, admin.id).is_active
        # With a second, active administrator, either may go.
        other = make_user(session, clock, "ie-admin-2", [(Role.ADMINISTRATOR, ie)])
        identity_service.set_user_active(
            session, user_id=admin.id, active=False, by=None, now=clock.now()
        )
    with database.transaction() as session, pytest.raises(Conflict):
        # ... but not both: the other is now the last active one.
        identity_service.set_user_active(
            session, user_id=other.id, active=False, by=None, now=clock.now()
        )
    with database.transaction() as session:
        # Reactivating is always allowed.
        assert identity_service.set_user_active(
            session, user_id=admin.id, active=True, by=None, now=clock.now()
        ).is_active


def test_user_validation(database: Database, clock: ManualClock) -> None:
    with database.transaction() as session:
        with pytest.raises(InvalidInput, match="username"):
            identity_service.create_user(
                session,
                username="Bad Name",
                display_name="x",
                password=PASSWORD,
                email=None,
                now=clock.now(),
            )
        with pytest.raises(InvalidInput, match="at least 12"):
            identity_service.create_user(
                session,
                username="shorty",
                display_name="x",
                password="short",
                email=None,
                now=clock.now(),
            )
        identity_service.create_user(
            session,
            username="dup",
            display_name="x",
            password=PASSWORD,
            email=None,
            now=clock.now(),
        )
        with pytest.raises(Conflict):
            identity_service.create_user(
                session,
                username="dup",
                display_name="y",
                password=PASSWORD,
                email=None,
                now=clock.now(),
            )


def test_token_is_stored_hashed_and_scoped(
    database: Database, world: World, clock: ManualClock
) -> None:
    secret = world.tokens[Role.SENDER]
    with database.transaction() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert secret not in stored
        assert identity_service.hash_secret(secret) in stored
        actor = identity_service.resolve_token(session, secret=secret, now=clock.now())
    assert actor.via == "token"
    assert actor.roles == {(world.offices["ie-taoiseach"].id, Role.SENDER)}


def test_token_cannot_be_issued_for_a_role_not_held(
    database: Database, world: World, clock: ManualClock
) -> None:
    with database.transaction() as session, pytest.raises(InvalidInput, match="does not hold"):
        identity_service.issue_token(
            session,
            user_id=world.users[Role.SENDER].id,
            office_id=world.offices["ops"].id,
            role=Role.ADMINISTRATOR,
            name="escalation",
            now=clock.now(),
            lifetime=timedelta(days=1),
        )


def test_token_dies_with_its_membership(
    database: Database, world: World, clock: ManualClock
) -> None:
    user = world.users[Role.TRANSLATOR]
    with database.transaction() as session:
        membership = identity_service.get_user(session, user.id).memberships[0]
        identity_service.revoke_role(
            session, user_id=user.id, membership_id=membership.id, now=clock.now()
        )
    with (
        database.transaction() as session,
        pytest.raises(InvalidCredentials, match="no longer holds"),
    ):
        identity_service.resolve_token(
            session, secret=world.tokens[Role.TRANSLATOR], now=clock.now()
        )


def test_web_session_expires(database: Database, world: World, clock: ManualClock) -> None:
    with database.transaction() as session:
        user = session.get(User, world.users[Role.PRINCIPAL].id)
        assert user is not None
        cookie, _ = identity_service.start_web_session(
            session, user=user, now=clock.now(), lifetime=timedelta(hours=12)
        )
    with database.transaction() as session:
        actor = identity_service.resolve_web_session(session, token=cookie, now=clock.now())
        assert actor is not None and actor.csrf_token
    clock.advance(timedelta(hours=12))
    with database.transaction() as session:
        assert identity_service.resolve_web_session(session, token=cookie, now=clock.now()) is None


def test_revoke_someone_elses_token_is_not_found(
    database: Database, world: World, clock: ManualClock
) -> None:
    with database.transaction() as session:
        sender_token = session.scalar(
            select(ApiToken).where(ApiToken.user_id == world.users[Role.SENDER].id)
        )
        assert sender_token is not None
        watch = identity_service.resolve_token(
            session, secret=world.tokens[Role.WATCH_OFFICER], now=clock.now()
        )
        with pytest.raises(NotFound):
            identity_service.revoke_token(
                session, token_id=sender_token.id, actor=watch, now=clock.now()
            )
        admin = identity_service.resolve_token(
            session, secret=world.tokens[Role.ADMINISTRATOR], now=clock.now()
        )
        revoked = identity_service.revoke_token(
            session, token_id=sender_token.id, actor=admin, now=clock.now()
        )
        assert revoked.revoked_at == clock.now()
