"""Changing one's own password (``POST /api/me/password``): one's other sessions end, it
is on the record, and a wrong current password is a failed login like any other."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.events import EventKind
from pouch.identity.models import Role
from pouch.ledger.store import LedgerOpening
from tests.factories import PASSWORD, World
from tests.identity.helpers import csrf_of, log_in

NEW = "a new and long enough password"
WRONG = "not the password 123"


def _change(
    client: TestClient, current: str, *, csrf: str | None = None, **headers: str
) -> httpx.Response:
    if csrf:
        headers["X-CSRF-Token"] = csrf
    return client.post(
        "/api/me/password",
        json={"current_password": current, "new_password": NEW},
        headers=headers,
    )


def test_a_change_ends_the_other_sessions_and_is_on_the_record(
    app_client: TestClient, database: Database, world: World
) -> None:
    app = app_client.app
    with TestClient(app, base_url="http://testserver") as elsewhere:
        assert log_in(elsewhere, "principal").status_code == 303
        assert log_in(app_client, "principal").status_code == 303
        csrf = csrf_of(app_client.get("/").text)
        assert elsewhere.get("/api/me").status_code == 200

        changed = _change(app_client, PASSWORD, csrf=csrf)
        assert changed.status_code == 200, changed.text
        assert changed.json() == {"sessions_ended": 1}
        # This session goes on; the other one is over; the old password opens nothing.
        assert app_client.get("/api/me").json()["username"] == "principal"
        assert elsewhere.get("/api/me").status_code == 401
        elsewhere.cookies.clear()
        assert log_in(elsewhere, "principal").status_code == 401
        elsewhere.cookies.clear()
        assert log_in(elsewhere, "principal", NEW).status_code == 303

    with database.transaction(write=False) as session:
        openings = [
            json.loads(row.event)
            for row in session.scalars(
                select(LedgerOpening).where(LedgerOpening.kind == EventKind.PASSWORD_SET)
            )
        ]
    principal = world.users[Role.PRINCIPAL].id
    assert [(o["user"], o["via"], o["sessions_ended"]) for o in openings] == [
        (principal, "change", 1)
    ]
    for opening in openings:
        assert PASSWORD not in json.dumps(opening) and NEW not in json.dumps(opening)


def test_a_wrong_current_password_counts_as_a_failed_login(
    app_client: TestClient, clock: ManualClock, world: World
) -> None:
    bearer = {"Authorization": f"Bearer {world.tokens[Role.PRINCIPAL]}"}
    answers = [_change(app_client, WRONG, **bearer) for _ in range(6)]
    assert [a.status_code for a in answers] == [400] * 5 + [429]
    assert answers[0].json()["type"].endswith("/problems/invalid-request")
    assert answers[0].json()["errors"][0]["field"] == "current_password"
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/problems/too-many-attempts")
    wait = int(refused.headers["retry-after"])
    assert wait > 0

    # While it waits the right password is not even checked, here or at the login form.
    assert _change(app_client, PASSWORD, **bearer).status_code == 429
    assert log_in(app_client, "principal").status_code == 429
    clock.advance(timedelta(seconds=wait))
    changed = _change(app_client, PASSWORD, **bearer)
    assert changed.status_code == 200, changed.text
    # A token is no session: none ended, and the token goes on working.
    assert changed.json() == {"sessions_ended": 0}
    assert app_client.get("/api/me", headers=bearer).status_code == 200
    assert log_in(app_client, "principal", NEW).status_code == 303
