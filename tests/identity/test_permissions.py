"""Every role against every API endpoint: who may call it and who gets 403.

The table (``tests/identity/helpers.py``) is written out by hand; a test fails
when the app has an endpoint the table does not cover, so a new route cannot
escape this check.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pouch.identity.models import Role
from tests.factories import World
from tests.identity.helpers import PUBLIC, SIGNED, TABLE, WITH_CODE, concrete, template


def test_table_covers_every_api_route(app_client: TestClient) -> None:
    # The OpenAPI document lists every API route the app serves.
    paths = app_client.get("/api/openapi.json").json()["paths"]
    app_routes = set()
    for path, operations in paths.items():
        normalized = "/".join("{}" if p.startswith("{") else p for p in path.split("/"))
        app_routes.update((method.upper(), normalized) for method in operations)
    tabled = {(m, template(p)) for m, p, _ in TABLE}
    public = {(m, p) for m, p, _ in PUBLIC}
    assert app_routes - tabled - public - SIGNED - WITH_CODE == set(), (
        "add these endpoints to TABLE"
    )
    assert tabled - app_routes == set(), "TABLE names endpoints the app lacks"


@pytest.mark.parametrize(
    ("method", "path", "allowed"), TABLE, ids=[f"{m} {p}" for m, p, _ in TABLE]
)
def test_every_role_on_every_endpoint(
    app_client: TestClient, world: World, method: str, path: str, allowed: frozenset[Role]
) -> None:
    path = concrete(path, world)
    body = {} if method in ("POST", "PATCH", "PUT") else None
    anonymous = app_client.request(method, path, json=body)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["type"] == "/problems/not-authenticated"
    for role in Role:
        response = app_client.request(method, path, headers=world.auth(role), json=body)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["type"] == "/problems/permission-denied"


def test_public_endpoints_need_no_credentials(app_client: TestClient) -> None:
    for method, _, example in PUBLIC:
        # 404 where the log has nothing yet to prove; never 401 or 403.
        assert app_client.request(method, example).status_code in (200, 404), example


def test_operations_roles_do_not_count_when_held_elsewhere(
    app_client: TestClient, world: World
) -> None:
    # An administrator of a foreign office is not an administrator of Pouch.
    from pouch.identity import service as identity_service

    database = app_client.app.state.database  # type: ignore[attr-defined]
    clock = app_client.app.state.clock  # type: ignore[attr-defined]
    from tests.factories import make_token, make_user

    with database.transaction() as session:
        foreign = world.offices["ie-taoiseach"]
        user = make_user(session, clock, "embassy-admin", [(Role.ADMINISTRATOR, foreign)])
        token = make_token(session, clock, user, Role.ADMINISTRATOR, foreign)
        assert identity_service.get_user(session, user.id).memberships
    response = app_client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
