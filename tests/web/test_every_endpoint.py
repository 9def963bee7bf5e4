"""Every API endpoint against malformed bodies and bad tokens, with nothing written.

The endpoints come from the permission table, which a test keeps complete.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import ApiToken, Role
from tests.factories import World
from tests.identity.helpers import TABLE, concrete, template
from tests.web.helpers import takes_body

WRITES = [(m, p, allowed) for m, p, allowed in TABLE if m in ("POST", "PATCH", "PUT")]
ALL = [(m, p) for m, p, _ in TABLE]


def _snapshot(database: Database) -> dict[str, int]:
    from pouch.models import metadata

    with database.transaction(write=False) as session:
        return {
            name: session.scalar(select(func.count()).select_from(table)) or 0
            for name, table in metadata.tables.items()
        }


@pytest.mark.parametrize(
    ("method", "path", "allowed"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES]
)
def test_hostile_bodies(
    app_client: TestClient,
    world: World,
    database: Database,
    method: str,
    path: str,
    allowed: frozenset[Role],
) -> None:
    before = _snapshot(database)
    role = sorted(allowed)[0]
    headers = {**world.auth(role), "content-type": "application/json"}
    normalized = template(path)
    path = concrete(path, world)
    if not takes_body(method, normalized):
        # The body is never read: whatever it holds changes nothing and breaks nothing.
        response = app_client.request(method, path, content=b"\x00garbage{", headers=headers)
        assert response.status_code in (400, 404, 409), response.text
        assert _snapshot(database) == before
        return
    cases = {
        "malformed": b'{"name": ',
        "invalid utf-8": b'{"name": "\xc3\x28"}',
        "not json at all": b"\x00\x01\x02binary",
        "nested bomb": b"[" * 5000 + b"]" * 5000,
    }
    for case, body in cases.items():
        response = app_client.request(method, path, content=body, headers=headers)
        assert response.status_code == 400, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] in ("/problems/malformed-body", "/problems/invalid-request")
    unknown = app_client.request(method, path, json={"zz_unknown": 1}, headers=headers)
    if unknown.status_code != 404:  # a missing resource is reported before its body
        assert unknown.status_code == 400, unknown.text
        fields = [e["field"] for e in unknown.json()["errors"]]
        assert "body.zz_unknown" in fields
    wrong_type = app_client.request(method, path, json={"name": {"$ne": None}}, headers=headers)
    assert wrong_type.status_code in (400, 404), wrong_type.text
    huge = app_client.request(
        method, path, content=b"{" + b" " * (10 * 1024 * 1024 + 1) + b"}", headers=headers
    )
    assert huge.status_code == 413
    assert _snapshot(database) == before


@pytest.mark.parametrize(("method", "path"), ALL, ids=[f"{m} {p}" for m, p in ALL])
def test_bad_tokens(
    app_client: TestClient,
    world: World,
    database: Database,
    clock: ManualClock,
    method: str,
    path: str,
) -> None:
    path = concrete(path, world)
    body = {} if method in ("POST", "PATCH", "PUT") else None
    admin = world.tokens[Role.ADMINISTRATOR]
    variants = {
        "forged": admin[:-6] + "forged",
        "truncated": admin[:20],
        "empty bearer": "",
        "other scheme": None,
    }
    for name, secret in variants.items():
        headers = (
            {"Authorization": "Basic YWRtaW46YWRtaW4="}
            if secret is None
            else {"Authorization": f"Bearer {secret}"}
        )
        response = app_client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (name, response.text)
    with database.transaction() as session:
        token = session.scalar(
            select(ApiToken).where(ApiToken.user_id == world.users[Role.ADMINISTRATOR].id)
        )
        assert token is not None
        token.revoked_at = clock.now()
    revoked = app_client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {admin}"}
    )
    assert revoked.json()["detail"] == "this API token was revoked"
    clock.advance(timedelta(days=365))
    expired = app_client.request(method, path, json=body, headers=world.auth(Role.WATCH_OFFICER))
    assert expired.json()["detail"] == "this API token has expired"
