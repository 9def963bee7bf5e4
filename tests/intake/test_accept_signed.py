"""``accept_signed``: a group commit's signed submissions accepted together, each
refused in its place; a nonce stored once, even when two copies commit together."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import pq
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pouch import postgres
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import InvalidCredentials, InvalidInput, InvalidSignature
from pouch.groupcommit import GroupCommitter
from pouch.intake import service as intake_service
from pouch.intake.models import SignatureNonce
from pouch.messages import acceptance
from tests.factories import World
from tests.intake.helpers import (
    Sender,
    accept_signed,
    checked_verdict,
    intake_of,
    payload,
    sender_token,
    signed_submission,
)
from tests.messages.helpers import count_messages


def _nonces(database: Database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(SignatureNonce)) or 0


@contextmanager
def writer_held(committer: GroupCommitter) -> Iterator[None]:
    """The writer kept busy by a unit of its own until the block ends, so that
    what the block queues lands side by side in its next batch."""
    started, release = threading.Event(), threading.Event()

    def hold_the_writer(_: Session) -> None:
        started.set()
        assert release.wait(timeout=30)

    held = committer.submit(hold_the_writer)
    assert started.wait(timeout=30)
    try:
        yield
    finally:
        release.set()
        held.result(timeout=30)


def _outcome(future: Future[Any]) -> Any:
    error = future.exception(timeout=30)
    return error if error is not None else future.result(timeout=0)


def two_copies(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> list[intake_service.SignedSubmission]:
    """One signed submission, verified, queued twice: the same nonce."""
    body = json.dumps(payload(world)).encode()
    verdict = checked_verdict(database, clock, sender.headers(body), body)
    token = sender_token(database, world, clock)
    return [signed_submission(token, verdict, body, app_client) for _ in range(2)]


def test_two_copies_with_one_nonce_in_one_group_commit_accept_one(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    copies = two_copies(app_client, sender, world, database, clock)
    committer = intake_of(app_client).committer
    acceptances = intake_of(app_client).acceptances
    with writer_held(committer):
        batches, units = committer.batches, committer.units
        futures = [committer.submit_item(acceptances, copy) for copy in copies]
    outcomes = [_outcome(future) for future in futures]
    assert (committer.batches, committer.units) == (batches + 2, units + 3)
    accepted = [o for o in outcomes if isinstance(o, acceptance.Accepted)]
    refused = [o for o in outcomes if not isinstance(o, acceptance.Accepted)]
    assert len(accepted) == 1 and len(refused) == 1, outcomes
    assert accepted[0].opening is not None and not accepted[0].replayed
    assert isinstance(refused[0], InvalidSignature)
    assert "nonce already used" in str(refused[0])
    assert count_messages(database) == 1
    assert _nonces(database) == 1


def test_one_nonce_twice_in_one_call_fails_the_call(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    copies = two_copies(app_client, sender, world, database, clock)
    with pytest.raises(IntegrityError), database.transaction() as session:
        accept_signed(session, copies, app_client, clock)
    assert (count_messages(database), _nonces(database)) == (0, 0)


def test_a_refused_submission_is_answered_in_place_and_spends_no_nonce(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    token = sender_token(database, world, clock)
    submitted = []
    for subject in ("one", "forged", "two"):
        body = json.dumps(payload(world, subject=subject)).encode()
        verdict = checked_verdict(database, clock, sender.headers(body), body)
        submitted.append(signed_submission(token, verdict, body, app_client))
    forged = submitted[1]
    submitted[1] = intake_service.SignedSubmission(
        token_id=999_999,
        user_id=forged.user_id,
        verdict=forged.verdict,
        prepared=forged.prepared,
        idempotency_key=None,
        request_hash=forged.request_hash,
    )
    with database.transaction() as session:
        one, refused, two = accept_signed(session, submitted, app_client, clock)
    assert isinstance(refused, InvalidCredentials) and "unknown API token" in str(refused)
    assert isinstance(one, acceptance.Accepted) and isinstance(two, acceptance.Accepted)
    assert (one.message.subject, two.message.subject) == ("one", "two")
    assert (one.message.office_sequence, two.message.office_sequence) == (1, 2)
    assert one.message.signature == submitted[0].verdict.to_json()
    assert (count_messages(database), _nonces(database)) == (2, 2)
    # The refused submission's nonce was not spent: with a valid token it goes in.
    with database.transaction() as session:
        (again,) = accept_signed(session, [forged], app_client, clock)
    assert isinstance(again, acceptance.Accepted)
    assert again.message.office_sequence == 3


def test_a_submission_refused_by_accept_many_spends_no_nonce(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    body = json.dumps(payload(world, addressee_office_id=999_999)).encode()
    submitted = signed_submission(
        sender_token(database, world, clock),
        checked_verdict(database, clock, sender.headers(body), body),
        body,
        app_client,
    )
    with database.transaction() as session:
        (refused,) = accept_signed(session, [submitted], app_client, clock)
    assert isinstance(refused, InvalidInput)
    assert _nonces(database) == 0


def test_whether_a_refused_submission_spends_its_nonce_does_not_depend_on_its_batch(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    token = sender_token(database, world, clock)
    refused = []
    for _ in range(2):
        body = json.dumps(payload(world, addressee_office_id=999_999)).encode()
        verdict = checked_verdict(database, clock, sender.headers(body), body)
        refused.append(signed_submission(token, verdict, body, app_client))
    committer = intake_of(app_client).committer
    acceptances = intake_of(app_client).acceptances
    # Alone in its batch: the batched call answers the refusal in place.
    assert isinstance(_outcome(committer.submit_item(acceptances, refused[0])), InvalidInput)
    spent_alone = _nonces(database)

    # Beside a unit that fails: the batch runs again unit by unit, each in a savepoint.
    def fail(_: Session) -> None:
        raise RuntimeError("another unit of the batch fails")

    with writer_held(committer):
        beside = committer.submit_item(acceptances, refused[1])
        failing = committer.submit(fail)
    assert isinstance(_outcome(beside), InvalidInput)
    assert isinstance(_outcome(failing), RuntimeError)
    spent_beside = _nonces(database) - spent_alone
    assert spent_alone == spent_beside, (spent_alone, spent_beside)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_on_postgresql_a_batch_holds_the_offices_rows_for_four_round_trips(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    """Issue 19: while a batch holds its addressees' sequence rows, every other
    writer to those offices waits, so what it sends then goes together: the
    rows' bump; the log's head row and the parties' counters; the openings,
    messages, events and entries; the commit. Its nonces go before."""
    token = sender_token(database, world, clock)

    def signed(subject: str) -> intake_service.SignedSubmission:
        body = json.dumps(payload(world, subject=subject)).encode()
        verdict = checked_verdict(database, clock, sender.headers(body), body)
        return signed_submission(token, verdict, body, app_client)

    with database.transaction() as session:  # the offices' rows and keys exist from here
        accept_signed(session, [signed("first")], app_client, clock)
    batch = [signed(f"letter {n}") for n in range(8)]
    with tempfile.TemporaryFile() as trace:
        with database.transaction() as session:
            driver = postgres.psycopg_of(session.connection())
            assert driver is not None
            driver.prepare_threshold = None  # every statement's text in the trace
            driver.pgconn.trace(trace.fileno())
            driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            outcomes = accept_signed(session, batch, app_client, clock)
        driver.pgconn.untrace()
        driver.prepare_threshold = 5
        trace.seek(0)
        messages = [line.split("\t") for line in trace.read().decode().splitlines()]
    assert all(isinstance(o, acceptance.Accepted) for o in outcomes), outcomes
    assert count_messages(database) == 9 and _nonces(database) == 9
    sent = [" ".join(m[2:]) for m in messages if m[0] == "F"]
    held_from = next(i for i, m in enumerate(messages) if "UPDATE office_sequences" in " ".join(m))
    nonces_at = next(
        i for i, m in enumerate(messages) if "INSERT INTO signature_nonces" in " ".join(m)
    )
    assert nonces_at < held_from, "the nonces are written before the offices' rows are taken"
    answered = [m for m in messages[held_from:] if m[0] == "B" and m[2] == "ReadyForQuery"]
    assert len(answered) == 4, "\n".join(sent)
