"""Every role against every API endpoint: who may call it and who gets 403.

The table is written out by hand; a test fails when the app has an endpoint
the table does not cover, so a new route cannot escape this check.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pouch.identity.models import Role
from tests.factories import World

ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMINISTRATOR})
EDITORS = frozenset({Role.ADMINISTRATOR, Role.PROTOCOL_OFFICER})
CALL_DESK = frozenset({Role.WATCH_OFFICER, Role.PROTOCOL_OFFICER})
CALL_READERS = CALL_DESK | {Role.AUDITOR}
PRINCIPAL_OFFICE = frozenset({Role.PRINCIPAL, Role.PRINCIPAL_STAFF})
SENDERS = frozenset({Role.SENDER})

# (method, path, roles allowed). Ids are ones that do not exist: an allowed
# caller gets past the permission check and then 404 or 400, never 401/403.
TABLE: list[tuple[str, str, frozenset[Role]]] = [
    ("GET", "/api/me", ALL),
    ("GET", "/api/users", ADMIN),
    ("POST", "/api/users", ADMIN),
    ("GET", "/api/users/999999", ADMIN),
    ("PATCH", "/api/users/999999", ADMIN),
    ("POST", "/api/users/999999/memberships", ADMIN),
    ("DELETE", "/api/users/999999/memberships/999999", ADMIN),
    ("GET", "/api/tokens", ALL),
    ("POST", "/api/tokens", ALL),
    ("DELETE", "/api/tokens/999999", ALL),
    ("GET", "/api/countries", ALL),
    ("GET", "/api/countries/ZZ", ALL),
    ("GET", "/api/offices", ALL),
    ("POST", "/api/offices", EDITORS),
    ("GET", "/api/offices/999999", ALL),
    ("PATCH", "/api/offices/999999", EDITORS),
    ("DELETE", "/api/offices/999999", EDITORS),
    ("GET", "/api/people", ALL),
    ("POST", "/api/people", EDITORS),
    ("GET", "/api/people/999999", ALL),
    ("PATCH", "/api/people/999999", EDITORS),
    ("DELETE", "/api/people/999999", EDITORS),
    ("POST", "/api/membership-removals/999999/approve", ADMIN),
    # Office-scoped: {principal} and {sender_office} are the world's offices.
    ("GET", "/api/offices/{sender_office}/keys", ADMIN),
    ("POST", "/api/offices/{sender_office}/keys", ADMIN),
    ("DELETE", "/api/offices/{sender_office}/keys/nokey", ADMIN),
    ("PUT", "/api/offices/{sender_office}/endpoint", ADMIN),
    ("GET", "/api/offices/{principal}/inbox", frozenset({Role.PRINCIPAL, Role.PRINCIPAL_STAFF})),
    (
        "GET",
        "/api/offices/{principal}/ledger",
        frozenset({Role.PRINCIPAL, Role.PRINCIPAL_STAFF, Role.AUDITOR}),
    ),
    ("GET", "/api/queue", frozenset({Role.WATCH_OFFICER, Role.AUDITOR})),
    # Messages: whether a message exists is not for everyone, so an unknown one is
    # 404 to every role; the roles that act on a message are checked with real ones
    # in tests/messages/test_api.py.
    ("GET", "/api/messages/m-none", ALL),
    ("GET", "/api/messages/m-none/status", ALL),
    ("GET", "/api/messages/m-none/events/1/receipt", ALL),
    ("GET", "/api/messages/m-none/attachments/1", ALL),
    ("POST", "/api/messages/m-none/read", ALL),
    ("POST", "/api/messages/m-none/acknowledge", ALL),
    ("POST", "/api/messages/m-none/replies", ALL),
    ("POST", "/api/messages/m-none/route", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds/1/approve", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds/1/release", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds/1/withdraw", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/attachments/1/quarantine", frozenset({Role.WATCH_OFFICER})),
    # The language desk: a message's translations go with the message (404 to all here).
    ("GET", "/api/messages/m-none/translations", ALL),
    ("GET", "/api/translations/queue", frozenset({Role.TRANSLATOR, Role.WATCH_OFFICER})),
    ("GET", "/api/translations/999999", frozenset({Role.TRANSLATOR, Role.WATCH_OFFICER})),
    ("POST", "/api/translations/999999/claim", frozenset({Role.TRANSLATOR})),
    ("POST", "/api/translations/999999/release", frozenset({Role.TRANSLATOR, Role.WATCH_OFFICER})),
    ("POST", "/api/translations/999999/submit", frozenset({Role.TRANSLATOR})),
    ("GET", "/api/interpreters", ALL - {Role.PRINCIPAL, Role.PRINCIPAL_STAFF, Role.SENDER}),
    ("POST", "/api/interpreters", EDITORS),
    ("GET", "/api/interpreters/999999", ALL - {Role.PRINCIPAL, Role.PRINCIPAL_STAFF, Role.SENDER}),
    ("PATCH", "/api/interpreters/999999", EDITORS),
    ("DELETE", "/api/interpreters/999999", EDITORS),
    # The call desk. Office-level roles pass the gate; which offices, the service checks.
    ("GET", "/api/calls/precedence", CALL_READERS | ADMIN),
    ("PUT", "/api/calls/precedence", EDITORS),
    ("GET", "/api/calls/precedence/versions", CALL_READERS | ADMIN),
    ("GET", "/api/calls/calendars/{principal}", CALL_READERS | PRINCIPAL_OFFICE),
    ("PUT", "/api/calls/calendars/{principal}", CALL_DESK),
    ("POST", "/api/calls/calendars/{principal}/busy", CALL_DESK),
    ("DELETE", "/api/calls/calendars/{principal}/busy/999999", CALL_DESK),
    ("GET", "/api/calls/requests", CALL_READERS | PRINCIPAL_OFFICE | SENDERS),
    ("POST", "/api/calls/requests", CALL_DESK | SENDERS),
    ("GET", "/api/calls/requests/999999", CALL_READERS | PRINCIPAL_OFFICE | SENDERS),
    ("GET", "/api/calls/requests/999999/ical", CALL_READERS | PRINCIPAL_OFFICE | SENDERS),
    ("POST", "/api/calls/requests/999999/cancel", CALL_DESK),
    ("POST", "/api/calls/requests/999999/confirm", CALL_DESK),
    ("POST", "/api/calls/schedule", CALL_DESK),
    ("GET", "/api/calls/schedule", CALL_READERS | PRINCIPAL_OFFICE),
    ("GET", "/api/calls/schedule/ical", CALL_READERS | PRINCIPAL_OFFICE),
    ("GET", "/api/calls/runs", CALL_READERS | PRINCIPAL_OFFICE),
    ("GET", "/api/calls/runs/999999", CALL_READERS | PRINCIPAL_OFFICE),
]

# Submission authenticates by token *and* HTTP signature: without a signature
# every role gets 401 (tests/messages/test_api.py covers it).
SIGNED = {("POST", "/api/messages")}

# Endpoints anyone may call without credentials: (method, path, an example).
# The log is public by design: it holds only commitments.
PUBLIC = [
    ("GET", "/api/openapi.json", "/api/openapi.json"),
    ("GET", "/api/docs", "/api/docs"),
    ("GET", "/api/log", "/api/log"),
    ("GET", "/api/log/proof", "/api/log/proof?index=0&size=1"),
    ("GET", "/api/log/consistency", "/api/log/consistency?from=0&to=0"),
    ("GET", "/api/log/receipt/{}", "/api/log/receipt/0"),
    ("GET", "/log/checkpoint", "/log/checkpoint"),
    ("GET", "/log/tile/{}", "/log/tile/0/000.p/1"),
]


def _template(path: str) -> str:
    parts = [
        "{}" if p.isdigit() or p in ("ZZ", "m-none", "nokey") or p.startswith("{") else p
        for p in path.split("/")
    ]
    return "/".join(parts)


def _concrete(path: str, world: World) -> str:
    return path.format(
        principal=world.offices["president-elect"].id,
        sender_office=world.offices["ie-taoiseach"].id,
    )


def test_table_covers_every_api_route(app_client: TestClient) -> None:
    # The OpenAPI document lists every API route the app serves.
    paths = app_client.get("/api/openapi.json").json()["paths"]
    app_routes = set()
    for path, operations in paths.items():
        normalized = "/".join("{}" if p.startswith("{") else p for p in path.split("/"))
        app_routes.update((method.upper(), normalized) for method in operations)
    tabled = {(m, _template(p)) for m, p, _ in TABLE}
    public = {(m, p) for m, p, _ in PUBLIC}
    assert app_routes - tabled - public - SIGNED == set(), "add these endpoints to TABLE"
    assert tabled - app_routes == set(), "TABLE names endpoints the app lacks"


@pytest.mark.parametrize(
    ("method", "path", "allowed"), TABLE, ids=[f"{m} {p}" for m, p, _ in TABLE]
)
def test_every_role_on_every_endpoint(
    app_client: TestClient, world: World, method: str, path: str, allowed: frozenset[Role]
) -> None:
    path = _concrete(path, world)
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
