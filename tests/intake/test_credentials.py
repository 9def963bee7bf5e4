"""Remembered senders: what is remembered is still checked at every acceptance."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import InvalidCredentials, InvalidSignature
from pouch.identity.models import ApiToken, Membership, Role, User
from pouch.intake import service as intake_service
from pouch.intake.credentials import Credentials
from pouch.intake.signatures import verify_request
from tests.factories import World
from tests.intake.helpers import (
    URL,
    Sender,
    accept_signed,
    intake_of,
    payload,
    problem_detail,
    signed_submission,
)
from tests.messages.helpers import count_messages

Change = Callable[[Database, World, ManualClock], None]


def revoke_token(database: Database, world: World, clock: ManualClock) -> None:
    with database.transaction() as session:
        session.execute(update(ApiToken).values(revoked_at=clock.now()))


def expire_token(database: Database, world: World, clock: ManualClock) -> None:
    clock.advance(timedelta(days=31))  # the factory's tokens live 30 days


def deactivate_user(database: Database, world: World, clock: ManualClock) -> None:
    with database.transaction() as session:
        session.execute(
            update(User).where(User.id == world.users[Role.SENDER].id).values(is_active=False)
        )


def remove_role(database: Database, world: World, clock: ManualClock) -> None:
    with database.transaction() as session:
        session.execute(
            delete(Membership).where(
                Membership.user_id == world.users[Role.SENDER].id, Membership.role == Role.SENDER
            )
        )


def revoke_key(database: Database, world: World, clock: ManualClock) -> None:
    with database.transaction() as session:
        intake_service.revoke_key(
            session, office_id=world.offices["ie-taoiseach"].id, key_id="ie-2026", now=clock.now()
        )


@pytest.mark.parametrize(
    ("change", "slug", "words"),
    [
        (revoke_token, "invalid-credentials", "revoked"),
        (expire_token, "invalid-credentials", "expired"),
        (deactivate_user, "invalid-credentials", "deactivated"),
        (remove_role, "invalid-credentials", "no longer holds"),
        (revoke_key, "invalid-signature", "revoked"),
    ],
)
def test_a_remembered_sender_is_refused_as_soon_as_its_credentials_change(
    sender: Sender,
    world: World,
    database: Database,
    clock: ManualClock,
    change: Change,
    slug: str,
    words: str,
) -> None:
    assert sender.submit(payload(world)).status_code == 201  # token and key now remembered
    change(database, world, clock)
    assert words in problem_detail(sender.submit(payload(world)), 401, slug)
    # Refused again, now without the memory of it.
    assert words in problem_detail(sender.submit(payload(world)), 401, slug)
    assert count_messages(database) == 1


def test_a_revocation_after_the_check_refuses_the_acceptance_at_commit(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    body = json.dumps(payload(world)).encode()
    headers = sender.headers(body)
    credentials = Credentials()
    token = credentials.token(database, secret=world.tokens[Role.SENDER], now=clock.now())
    with database.transaction(write=False) as session:
        verdict = verify_request(
            method="POST",
            url=URL,
            headers=headers,
            body=body,
            resolve_key=lambda key_id: credentials.key(session, key_id),
            now=clock.now(),
            nonce_is_fresh=credentials.spend_nonce,
        )

    def accept(session: Session) -> object:
        submitted = signed_submission(token, verdict, body, app_client)
        (outcome,) = accept_signed(session, [submitted], app_client, clock)
        return outcome

    # Both were valid when checked; each is revoked before the acceptance commits.
    revoke_key(database, world, clock)
    with database.transaction() as session:
        refusal = accept(session)
    assert isinstance(refusal, InvalidSignature)
    assert "is revoked" in str(refusal)
    revoke_token(database, world, clock)
    with database.transaction() as session:
        refusal = accept(session)
    assert isinstance(refusal, InvalidCredentials)
    assert "revoked" in str(refusal)
    assert count_messages(database) == 0


def test_a_replay_is_refused_from_memory_and_after_a_restart_from_the_database(
    app_client: TestClient, sender: Sender, world: World, database: Database
) -> None:
    body = json.dumps(payload(world)).encode()
    headers = sender.headers(body)
    assert app_client.post(URL, content=body, headers=headers).status_code == 201
    assert "nonce already used" in problem_detail(
        app_client.post(URL, content=body, headers=headers), 401, "invalid-signature"
    )
    intake_of(app_client).credentials = Credentials()  # as after a restart
    assert "nonce already used" in problem_detail(
        app_client.post(URL, content=body, headers=headers), 401, "invalid-signature"
    )
    assert count_messages(database) == 1


def test_memory_is_bounded_and_forgets_the_least_recent() -> None:
    credentials = Credentials(max_nonces=3)
    expires = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert all(credentials.spend_nonce("k", f"n{i}", expires) for i in range(4))
    assert not credentials.spend_nonce("k", "n3", expires)
    assert credentials.spend_nonce("k", "n0", expires)  # forgotten: the database decides
