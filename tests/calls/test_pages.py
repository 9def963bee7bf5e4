"""The calls page (Gantt chart, call sheet, left-out requests) and the precedence editor."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from tests.calls.helpers import Desk, build_desk, request_body
from tests.factories import PASSWORD, World


@pytest.fixture
def desk(database: Database, clock: ManualClock, world: World) -> Desk:
    with database.transaction() as session:
        return build_desk(session, clock, existing=world.offices)


def _login(client: TestClient, username: str) -> str:
    """Log in; returns the session's anti-forgery token."""
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    page = client.get("/").text
    mine = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert mine is not None
    return mine.group(1)


def test_the_calls_page_draws_the_schedule(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    for key in ("jp", "np", "et"):
        response = app_client.post(
            "/api/calls/requests",
            json=request_body(desk, key),
            headers=world.auth(Role.WATCH_OFFICER),
        )
        assert response.status_code == 201, response.text
    csrf = _login(app_client, "watch-officer")
    empty = app_client.get("/calls")
    assert empty.status_code == 200 and "No schedule yet" in empty.text
    ran = app_client.post("/calls/schedule", data={"csrf_token": csrf}, follow_redirects=False)
    assert ran.status_code == 303 and ran.headers["location"] == "/calls?notice=scheduled"
    page = app_client.get("/calls?notice=scheduled").text
    assert 'data-testid="gantt"' in page and "the call sheet below is the new plan" in page
    # A call's tooltip gives the leader's local time; Kathmandu is 5:45 ahead of UTC.
    assert re.search(r"<title>Sushila Adhikari: [^<]* Asia/Kathmandu for the leader", page)
    assert "Hiroshi Tanabe" in page and "Akiko Mori" in page
    assert "no interpreter for Amharic" in page
    call = re.search(r'action="/calls/(c-[0-9a-f]{20})/confirm"', page)
    assert call is not None
    confirmed = app_client.post(
        f"/calls/{call.group(1)}/confirm", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    assert "; confirmed</title>" in app_client.get("/calls").text


def test_who_sees_the_calls_page(app_client: TestClient, world: World, desk: Desk) -> None:
    assert app_client.get("/calls", follow_redirects=False).status_code == 303
    _login(app_client, "principal")
    page = app_client.get("/calls")
    assert page.status_code == 200 and "Run the scheduler" not in page.text
    assert app_client.get("/calls/precedence").status_code == 403
    _login(app_client, "sender")
    assert app_client.get("/calls").status_code == 403


def test_the_precedence_editor(app_client: TestClient, world: World, desk: Desk) -> None:
    csrf = _login(app_client, "protocol-officer")
    assert "tiers:" in app_client.get("/calls/precedence").text
    bad = app_client.post(
        "/calls/precedence",
        data={"csrf_token": csrf, "ranking": "tiers:\n  - [Nobody]\n", "reason": "Try"},
    )
    assert bad.status_code == 400 and "no person named" in bad.text and "Nobody" in bad.text
    saved = app_client.post(
        "/calls/precedence",
        data={
            "csrf_token": csrf,
            "ranking": "tiers:\n  - [Hiroshi Tanabe, Hélène Marchand]\n  - [Dawit Tesfaye]\n",
            "reason": "After the summit",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    ranking = app_client.get(
        "/api/calls/precedence", headers=world.auth(Role.PROTOCOL_OFFICER)
    ).json()
    assert [(r["name"], r["tier"]) for r in ranking["ranks"]] == [
        ("Hiroshi Tanabe", 1),
        ("Hélène Marchand", 1),
        ("Dawit Tesfaye", 2),
    ]
    assert "After the summit" in app_client.get("/calls/precedence").text
