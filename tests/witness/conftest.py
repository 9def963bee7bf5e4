"""Fixtures of the witness's tests: a log, a witness with an injected clock, its app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pouch.ledger.note import CosignatureSigner, Ed25519Signer
from pouch.witness.loglist import LogEntry, LogList
from pouch.witness.server import create_witness_app
from pouch.witness.service import Witness
from pouch.witness.state import WitnessState
from tests.witness.helpers import ORIGIN, WITNESS_NAME, Clock, TestLog


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log_signer() -> Ed25519Signer:
    return Ed25519Signer(ORIGIN, bytes(range(32)))


@pytest.fixture
def log(log_signer: Ed25519Signer) -> TestLog:
    return TestLog.counting(log_signer, 40)


@pytest.fixture
def witness_signer(clock: Clock) -> CosignatureSigner:
    return CosignatureSigner(WITNESS_NAME, bytes(range(100, 132)), clock=clock)


@pytest.fixture
def log_list(log_signer: Ed25519Signer) -> LogList:
    return LogList((LogEntry(log_signer.verifier, ORIGIN, qpd=1440, contact="ops@example"),))


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "witness.sqlite3"


@pytest.fixture
def witness(
    witness_signer: CosignatureSigner, log_list: LogList, state_path: Path, clock: Clock
) -> Witness:
    return Witness(
        signer=witness_signer, logs=log_list, state=WitnessState(state_path), clock=clock
    )


@pytest.fixture
def client(
    witness_signer: CosignatureSigner, log_list: LogList, state_path: Path, clock: Clock
) -> Iterator[TestClient]:
    app = create_witness_app(
        signer=witness_signer, logs=log_list, state_path=state_path, clock=clock
    )
    with TestClient(app) as test_client:
        yield test_client
