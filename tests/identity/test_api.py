"""The users and tokens API, end to end through HTTP."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from pouch.identity.models import Role
from tests.factories import World


def test_admin_creates_a_user_who_issues_a_token(app_client: TestClient, world: World) -> None:
    ie = world.offices["ie-taoiseach"].id
    created = app_client.post(
        "/api/users",
        json={
            "username": "aoife",
            "display_name": "Aoife Ní Bhriain",
            "memberships": [{"office_id": ie, "role": "sender"}],
        },
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert "password" not in body and "password_hash" not in body
    assert body["memberships"] == [
        {"id": body["memberships"][0]["id"], "office_id": ie, "role": "sender"}
    ]

    from pouch.identity import service as identity_service

    database = app_client.app.state.database  # type: ignore[attr-defined]
    clock = app_client.app.state.clock  # type: ignore[attr-defined]
    with database.transaction() as session:
        user = identity_service.get_user_by_username(session, "aoife")
        first, _ = identity_service.issue_token(
            session,
            user_id=user.id,
            office_id=ie,
            role=Role.SENDER,
            name="bootstrap",
            now=clock.now(),
            lifetime=timedelta(days=1),
        )
    auth = {"Authorization": f"Bearer {first}"}
    issued = app_client.post(
        "/api/tokens",
        json={"name": "mail gateway", "office_id": ie, "role": "sender", "expires_in_days": 7},
        headers=auth,
    )
    assert issued.status_code == 201, issued.text
    secret = issued.json()["token"]
    assert secret.startswith("pouch_")
    # Shown once: listing never includes the secret.
    listed = app_client.get("/api/tokens", headers=auth).json()
    assert all("token" not in t for t in listed)
    assert {t["name"] for t in listed} == {"bootstrap", "mail gateway"}
    me = app_client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).json()
    assert me["username"] == "aoife" and me["via"] == "token"


def test_a_token_cannot_mint_a_broader_token(app_client: TestClient, world: World) -> None:
    response = app_client.post(
        "/api/tokens",
        json={"name": "escalate", "office_id": world.offices["ops"].id, "role": "administrator"},
        headers=world.auth(Role.SENDER),
    )
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/permission-denied"


def test_memberships_granted_and_revoked(app_client: TestClient, world: World) -> None:
    admin = world.auth(Role.ADMINISTRATOR)
    user_id = world.users[Role.AUDITOR].id
    granted = app_client.post(
        f"/api/users/{user_id}/memberships",
        json={"office_id": world.offices["ops"].id, "role": "translator"},
        headers=admin,
    )
    assert granted.status_code == 201
    roles = {
        m["role"]
        for m in app_client.get(f"/api/users/{user_id}", headers=admin).json()["memberships"]
    }
    assert roles == {"auditor", "translator"}
    deleted = app_client.delete(
        f"/api/users/{user_id}/memberships/{granted.json()['id']}", headers=admin
    )
    assert deleted.status_code == 204
    roles = {
        m["role"]
        for m in app_client.get(f"/api/users/{user_id}", headers=admin).json()["memberships"]
    }
    assert roles == {"auditor"}


def test_unknown_office_in_membership(app_client: TestClient, world: World) -> None:
    response = app_client.post(
        f"/api/users/{world.users[Role.AUDITOR].id}/memberships",
        json={"office_id": 424242, "role": "auditor"},
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "office_id", "message": "unknown"}]
