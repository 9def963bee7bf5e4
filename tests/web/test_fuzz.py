"""Schemathesis over every documented operation of the API, in-process (ASGI), as a
role that may call it: no 5xx, and every answer as the OpenAPI document says.

Submissions (``POST /api/messages``) are signed as a sender office signs them
(RFC 9421), so that the fuzzing reaches past the signature into acceptance.
Its failures database is kept out of the repository (``.hypothesis/`` is ignored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case

from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key, sign_request
from pouch.settings import Settings
from tests.factories import World
from tests.identity.helpers import TABLE, template

#: Whom each operation is tried as: the first of these its permission allows.
PREFERENCE = (
    Role.ADMINISTRATOR,
    Role.WATCH_OFFICER,
    Role.PROTOCOL_OFFICER,
    Role.AUDITOR,
    Role.TRANSLATOR,
    Role.PRINCIPAL,
    Role.SENDER,
    Role.INTERPRETER,
    Role.PRINCIPAL_STAFF,
)
EXAMPLES = 12


def role_for(method: str, path: str) -> Role:
    allowed = next(
        (roles for m, p, roles in TABLE if m == method and template(p) == template(path)),
        frozenset(Role),
    )
    return next(role for role in PREFERENCE if role in allowed)


@pytest.fixture
def backend() -> str:
    """SQLite alone: the schema is the same on both backends, and the budget is shared."""
    return "sqlite"


@pytest.fixture
def fuzz_app(
    settings: Settings, database: Database, clock: ManualClock, world: World
) -> Iterator[FastAPI]:
    app = create_app(settings, database=database, clock=clock, background=False)
    seed, public = generate_sender_key("fuzz-key")
    with database.transaction() as session:
        intake_service.register_key(
            session,
            office_id=world.offices["ie-taoiseach"].id,
            key_id="fuzz-key",
            public_key=public,
            now=clock.now(),
        )
    app.state.fuzz = {"world": world, "seed": seed, "clock": clock}
    yield app


def _document() -> dict[str, Any]:
    # The document alone, from an application that touches no database.
    from pouch.ledger.note import generate_key

    shell = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url="sqlite://", log_signing_key=generate_key("localhost/pouch")[0]
    )
    return create_app(shell, database=Database.from_url("sqlite://")).openapi()


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture
def client(fuzz_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(fuzz_app, base_url="http://testserver") as client:
        yield client


def _authenticate(case: Case, app: FastAPI) -> None:
    world: World = app.state.fuzz["world"]
    method, path = case.operation.method.upper(), case.operation.path
    headers = dict(case.headers or {})
    headers.update(world.auth(role_for(method, path)))
    if (method, path) == ("POST", "/api/messages"):
        body = json.dumps(case.body).encode() if case.body is not None else b""
        headers["Content-Type"] = "application/json"
        headers.update(
            sign_request(
                method="POST",
                url="http://testserver/api/messages",
                headers=headers,
                body=body,
                key_id="fuzz-key",
                private_key=app.state.fuzz["seed"],
                created=app.state.fuzz["clock"].now(),
            )
        )
    case.headers = headers


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_answers_as_documented(
    case: Case, fuzz_app: FastAPI, client: TestClient
) -> None:
    _authenticate(case, fuzz_app)
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    if "data" in kwargs and isinstance(kwargs["data"], bytes | str):
        kwargs["content"] = kwargs.pop("data")
    response = client.request(**kwargs)
    case.validate_response(response)
