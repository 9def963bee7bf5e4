"""Issue 15's attacks by insiders, through the API: each is refused or, where it is a
legitimate act, logged with its actor and told at once to whom it affects."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import InvalidCredentials
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.messages.models import Notification, NotificationChannel
from tests.factories import PASSWORD, World, make_token, make_user

NEW_PASSWORD = "a passphrase only I know"


def _second_admin(database: Database, clock: ManualClock, world: World) -> dict[str, str]:
    with database.transaction() as session:
        user = make_user(session, clock, "admin2", [(Role.ADMINISTRATOR, world.offices["ops"])])
        token = make_token(session, clock, user, Role.ADMINISTRATOR, world.offices["ops"])
    return {"Authorization": f"Bearer {token}"}


def _notices(database: Database, target: str) -> list[Notification]:
    with database.transaction() as session:
        rows = list(
            session.scalars(
                select(Notification).where(Notification.target == target).order_by(Notification.id)
            )
        )
        session.expunge_all()
    return rows


def _events(client: TestClient, world: World, **query: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/audit/events", params=query, headers=world.auth(Role.AUDITOR))
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()
    return events


def test_nobody_sets_another_persons_password(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    admin = world.auth(Role.ADMINISTRATOR)
    watch = world.users[Role.WATCH_OFFICER]
    # Attack 1: the administrator sets the watch officer's password. Refused.
    refused = app_client.patch(
        f"/api/users/{watch.id}", json={"password": "chosen by the admin"}, headers=admin
    )
    assert refused.status_code == 400, refused.text
    # The administrator may only start a reset; the code goes to the user's own address.
    app_client.patch(f"/api/users/{watch.id}", json={"email": "walter@ops.example"}, headers=admin)
    started = app_client.post(f"/api/users/{watch.id}/password-reset", headers=admin)
    assert started.status_code == 202, started.text
    assert started.json()["sent_to"] == "w***@ops.example"
    assert set(started.json()) == {"user_id", "sent_to", "expires_at"}
    (mail,) = [n for n in _notices(database, "walter@ops.example") if "code" in n.payload]
    code = mail.payload["code"]
    assert code not in started.text
    # The outbox an administrator reads lists the notice, never its body.
    outbox = app_client.get("/api/outbox", headers=admin)
    assert code not in outbox.text
    # The reset is on the record, the administrator named, readable by the user.
    (event,) = _events(app_client, world, user=watch.id, limit=500)[:1]
    assert event["kind"] == "password.reset-started"
    assert event["event"]["by"] == world.users[Role.ADMINISTRATOR].id
    own = app_client.get(
        f"/api/log/openings/{event['index']}", headers=world.auth(Role.WATCH_OFFICER)
    )
    assert own.status_code == 200, own.text
    stranger = app_client.get(
        f"/api/log/openings/{event['index']}", headers=world.auth(Role.SENDER)
    )
    assert stranger.status_code == 403

    # The user sets it: every session and token of theirs ends (the world's token included).
    with database.transaction() as session:
        user = identity_service.get_user(session, watch.id)
        identity_service.start_web_session(
            session, user=user, now=clock.now(), lifetime=timedelta(hours=1)
        )
    done = app_client.post("/api/password-reset", json={"code": code, "password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    again = app_client.post("/api/password-reset", json={"code": code, "password": NEW_PASSWORD})
    assert again.status_code == 400
    assert again.json()["errors"][0]["field"] == "code"
    assert app_client.get("/api/me", headers=world.auth(Role.WATCH_OFFICER)).status_code == 401
    with database.transaction() as session:
        with pytest.raises(InvalidCredentials):
            identity_service.authenticate_password(
                session, username=watch.username, password=PASSWORD
            )
        assert identity_service.authenticate_password(
            session, username=watch.username, password=NEW_PASSWORD
        )
    kinds = [e["kind"] for e in _events(app_client, world, user=watch.id)]
    assert kinds[0] == "password.set"
    told = _notices(database, "walter@ops.example")
    assert any(n.payload.get("event") == "password.set" for n in told)


def test_an_e_mail_change_is_told_at_the_old_address_too(
    app_client: TestClient, database: Database, world: World
) -> None:
    admin = world.auth(Role.ADMINISTRATOR)
    auditor = world.users[Role.AUDITOR]
    app_client.patch(f"/api/users/{auditor.id}", json={"email": "ann@audit.example"}, headers=admin)
    # Attack 4: the administrator diverts the auditor's notices.
    moved = app_client.patch(
        f"/api/users/{auditor.id}", json={"email": "ann@elsewhere.example"}, headers=admin
    )
    assert moved.status_code == 200
    old = [n.payload for n in _notices(database, "ann@audit.example")]
    assert any(
        p["event"] == "user.email-changed" and p["to"] == "ann@elsewhere.example" for p in old
    )
    (event,) = [
        e for e in _events(app_client, world, user=auditor.id) if e["kind"] == "user.email-changed"
    ][:1]
    assert event["event"]["from"] == "ann@audit.example"
    assert event["event"]["by"] == world.users[Role.ADMINISTRATOR].id


def test_an_operations_user_needs_a_second_administrator(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    admin = world.auth(Role.ADMINISTRATOR)
    ops = world.offices["ops"].id
    # Attack 3: a puppet watch officer, made by one administrator alone.
    asked = app_client.post(
        "/api/users",
        json={
            "username": "walter-watch",
            "display_name": "Walter Watch",
            "memberships": [{"office_id": ops, "role": "watch_officer"}],
        },
        headers=admin,
    )
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert request["status"] == "pending" and request["action"] == "create-user"
    users = app_client.get("/api/users", headers=admin).json()
    assert "walter-watch" not in {u["username"] for u in users}
    # The one who asked cannot approve.
    self_approved = app_client.post(f"/api/power-requests/{request['id']}/approve", headers=admin)
    assert self_approved.status_code == 403
    second = _second_admin(database, clock, world)
    approved = app_client.post(f"/api/power-requests/{request['id']}/approve", headers=second)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    users = app_client.get("/api/users", headers=admin).json()
    (made,) = [u for u in users if u["username"] == "walter-watch"]
    assert [m["role"] for m in made["memberships"]] == ["watch_officer"]
    # Nobody knows its password: it cannot log in until its owner sets one.
    with database.transaction() as session, pytest.raises(InvalidCredentials):
        identity_service.authenticate_password(session, username="walter-watch", password="")
    kinds = [e["kind"] for e in _events(app_client, world)]
    assert {"power.requested", "power.approved", "user.created"} <= set(kinds)
    # Granting a role of power is the same; a role without power is at once.
    translator = app_client.post(
        f"/api/users/{world.users[Role.SENDER].id}/memberships",
        json={"office_id": ops, "role": "administrator"},
        headers=admin,
    )
    assert translator.status_code == 202
    withdrawn = app_client.post(
        f"/api/power-requests/{translator.json()['id']}/withdraw", headers=admin
    )
    assert withdrawn.json()["status"] == "withdrawn"
    late = app_client.post(f"/api/power-requests/{translator.json()['id']}/approve", headers=second)
    assert late.status_code == 409


def test_offices_kind_removal_and_endpoint(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    protocol = world.auth(Role.PROTOCOL_OFFICER)
    admin = world.auth(Role.ADMINISTRATOR)
    ie = world.offices["ie-taoiseach"].id
    ops = world.offices["ops"].id
    # Attack 7: the operations office deleted in one call. Never.
    gone = app_client.delete(f"/api/offices/{ops}", headers=protocol)
    assert gone.status_code == 409, gone.text
    assert app_client.get(f"/api/users/{world.users[Role.ADMINISTRATOR].id}", headers=admin).json()[
        "memberships"
    ]
    # A second principal's office would break the call desk: refused.
    second_principal = app_client.post(
        "/api/offices",
        json={"slug": "pm-elect", "name": "PM-elect", "kind": "principal", "country_code": "IE"},
        headers=protocol,
    )
    assert second_principal.status_code == 409
    # Attack 6: a foreign office made operations. Asked only; the protocol officer
    # cannot approve, a second administrator can.
    asked = app_client.patch(f"/api/offices/{ie}", json={"kind": "operations"}, headers=protocol)
    assert asked.status_code == 202, asked.text
    assert app_client.get(f"/api/offices/{ie}", headers=admin).json()["kind"] == "foreign"
    refused = app_client.post(f"/api/power-requests/{asked.json()['id']}/approve", headers=protocol)
    assert refused.status_code == 403
    # Renaming is at once, logged and told to the office (at its endpoint).
    endpoint = app_client.put(
        f"/api/offices/{ie}/endpoint", json={"email": "desk@gov.ie"}, headers=admin
    )
    assert endpoint.status_code == 200
    renamed = app_client.patch(f"/api/offices/{ie}", json={"name": "An Impostor"}, headers=protocol)
    assert renamed.status_code == 200
    told = [n.payload for n in _notices(database, "desk@gov.ie")]
    assert any(
        p["event"] == "office.changed" and p["changes"]["name"]["to"] == "An Impostor" for p in told
    )
    # Attack 4: the administrator points the office's notices elsewhere: the old
    # address hears of it, the event names the administrator, the office reads its endpoint.
    moved = app_client.put(
        f"/api/offices/{ie}/endpoint", json={"email": "attacker@evil.example"}, headers=admin
    )
    assert moved.status_code == 200
    old = [n for n in _notices(database, "desk@gov.ie") if n.office_id is None]
    assert [n.payload["event"] for n in old] == ["endpoint.changed"]
    assert old[0].channel == NotificationChannel.EMAIL
    seen = app_client.get(f"/api/offices/{ie}/endpoint", headers=world.auth(Role.SENDER))
    assert seen.json()["email"] == "attacker@evil.example"
    (change,) = [
        e for e in _events(app_client, world, office=ie) if e["kind"] == "endpoint.changed"
    ][:1]
    assert change["event"]["email"] == {"from": "desk@gov.ie", "to": "attacker@evil.example"}
    assert change["event"]["by"] == world.users[Role.ADMINISTRATOR].id
    # An office with members is retired, not removed: it stays on the record.
    removal = app_client.delete(f"/api/offices/{ie}", headers=protocol)
    assert removal.status_code == 409
    retired = app_client.post(f"/api/offices/{ie}/retire", headers=protocol)
    assert retired.status_code == 200 and retired.json()["retired_at"]
    sender = app_client.get("/api/me", headers=world.auth(Role.SENDER))
    assert sender.status_code == 401  # its tokens went with it
    assert re.search("revoked", sender.text)
    # Nothing more comes from it (nor would go to it), even past its tokens.
    from pouch.errors import InvalidInput
    from tests.messages.helpers import submit

    with pytest.raises(InvalidInput, match="retired") as refused_message:
        submit(database, clock, world)
    assert refused_message.value.field_errors[0].field == "body.sender_office_id"


def test_the_principals_last_reader_is_not_cut_off_by_one_person(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    admin = world.auth(Role.ADMINISTRATOR)
    principal = world.users[Role.PRINCIPAL]
    staff = world.users[Role.PRINCIPAL_STAFF]
    # Attack 5: staff deactivated: done, but on the record and told to them.
    app_client.patch(f"/api/users/{staff.id}", json={"email": "staff@pe.example"}, headers=admin)
    off = app_client.patch(f"/api/users/{staff.id}", json={"is_active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert any(
        n.payload["event"] == "user.deactivated" for n in _notices(database, "staff@pe.example")
    )
    # The principal is now the office's last reader: a second administrator decides.
    asked = app_client.patch(f"/api/users/{principal.id}", json={"is_active": False}, headers=admin)
    assert asked.status_code == 202, asked.text
    me = app_client.get("/api/me", headers=world.auth(Role.PRINCIPAL))
    assert me.status_code == 200
    second = _second_admin(database, clock, world)
    approved = app_client.post(f"/api/power-requests/{asked.json()['id']}/approve", headers=second)
    assert approved.status_code == 200, approved.text
    assert app_client.get("/api/me", headers=world.auth(Role.PRINCIPAL)).status_code == 401


def test_a_key_registered_for_another_office_needs_a_second_administrator(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ie = world.offices["ie-taoiseach"].id
    body = {"key_id": "planted-key", "public_key": base64.urlsafe_b64encode(raw).decode()}
    asked = app_client.post(
        f"/api/offices/{ie}/keys", json=body, headers=world.auth(Role.ADMINISTRATOR)
    )
    assert asked.status_code == 202, asked.text
    keys = app_client.get(f"/api/offices/{ie}/keys", headers=world.auth(Role.ADMINISTRATOR))
    assert "planted-key" not in keys.text
    second = _second_admin(database, clock, world)
    approved = app_client.post(f"/api/power-requests/{asked.json()['id']}/approve", headers=second)
    assert approved.status_code == 200, approved.text
    registered = [
        e for e in _events(app_client, world, office=ie) if e["kind"] == "sender-key.registered"
    ]
    assert registered and registered[0]["event"]["public_key"] == base64.b64encode(raw).decode()
