"""Schemathesis over every documented operation of the API, in-process (ASGI), as a
role that may call it: no 5xx, and every answer as the OpenAPI document says.

Every check runs but ``positive_data_acceptance``: a request the schema allows
may still be refused for what it means (a reference to an office that does not
exist, a webhook over http when the operator requires https), with a 400
naming the field; the document states the checks a request's form must pass.

Submissions (``POST /api/messages``) are signed as a sender office signs them
(RFC 9421), so that the fuzzing reaches past the signature into acceptance.
Its failures database is kept out of the repository (``.hypothesis/`` is ignored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case, checks
from schemathesis.core.transport import Response
from schemathesis.python import asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy import Connection

from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key, sign_request
from pouch.settings import Settings
from tests.factories import World
from tests.identity.helpers import TABLE, template
from tests.web.helpers import shell_app

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
EXAMPLES = 8
STATEFUL_EXAMPLES = 40


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
    # Schemathesis starts the application's lifespan on its first request and keeps it.
    asgi.shutdown_lifespans()


def _load() -> OpenApiSchema:
    # The document as the application serves it, from one that touches no data: read
    # at collection, so that each operation is a test of its own (spread over the
    # workers); each test's own application is bound to its case (``_bind``).
    loaded = schemathesis.openapi.from_asgi("/api/openapi.json", shell_app())
    asgi.shutdown_lifespans()
    return loaded


schema = _load()


def _bind(case: Case, app: FastAPI) -> None:
    # No application exists at collection: each test's is bound here, so every request
    # (the case's and the checks' own probes) goes to it in-process.
    case.operation.app = app
    case.operation.schema.app = app


def _credentials(case: Case, app: FastAPI) -> dict[str, str]:
    """The headers a caller of the operation sends: its token, and for a submission
    the office's signature. Given to Schemathesis as the run's own (not the case's),
    so that its checks know them valid and probe the operation without them."""
    world: World = app.state.fuzz["world"]
    method, path = case.operation.method.upper(), case.operation.path
    headers = dict(world.auth(role_for(method, path)))
    if (method, path) == ("POST", "/api/messages"):
        given = case.body if isinstance(case.body, dict | list | str | int | float) else None
        body = json.dumps(given).encode() if given is not None else b""
        headers["Content-Type"] = "application/json"
        headers.update(
            sign_request(
                method="POST",
                url="http://testserver/api/messages",
                headers={**(case.headers or {}), **headers},
                body=body,
                key_id="fuzz-key",
                private_key=app.state.fuzz["seed"],
                created=app.state.fuzz["clock"].now(),
            )
        )
    return headers


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
def test_every_operation_answers_as_documented(case: Case, fuzz_app: FastAPI) -> None:
    _bind(case, fuzz_app)
    case.call_and_validate(
        headers=_credentials(case, fuzz_app), excluded_checks=[checks.positive_data_acceptance]
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_sequences_of_operations_answer_as_documented(
    fuzz_app: FastAPI, connection: Connection
) -> None:
    """The stateful phase: operations chained by the links Schemathesis finds (an
    office created, then read, changed and deleted; a person added, then changed...),
    each answer checked as above. Every scenario starts from the same data (a
    savepoint rolled back after it), so that a failure replays as it was found."""
    stateful = schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_app)

    class Sequences(stateful.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.scenario = connection.begin_nested()

        def teardown(self) -> None:
            self.scenario.rollback()

        def get_call_kwargs(self, case: Case) -> dict[str, object]:
            return {"headers": _credentials(case, fuzz_app)}

        def validate_response(
            self, response: Response, case: Case, additional_checks: object = None, **kwargs: object
        ) -> None:
            case.validate_response(
                response,
                excluded_checks=[checks.positive_data_acceptance],
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )
