"""The account page: one's offices with the ids and slugs programs use, and one's API
tokens, made and revoked in the browser (a sender office serves itself)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.identity import approvals
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.intake import service as intake_service
from pouch.intake.signatures import encode_public_key, public_key_of
from tests.factories import World, log_in_form


def test_a_sender_sees_the_office_ids_and_makes_and_revokes_a_token(
    app_client: TestClient, world: World
) -> None:
    csrf = log_in_form(app_client, "sender")
    dublin, principal = world.offices["ie-taoiseach"], world.offices["president-elect"]
    page = app_client.get("/account")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert re.search(rf'data-office="ie-taoiseach".*?<code>{dublin.id}</code>', page.text, re.S)
    assert f"(id <code>{principal.id}</code>, slug <code>president-elect</code>)" in page.text

    made = app_client.post(
        "/account/tokens",
        data={
            "csrf_token": csrf,
            "name": "submission server",
            "grant": f"{dublin.id}:sender",
            "expires_in_days": "30",
        },
    )
    assert made.status_code == 200, made.text
    secret = re.search(r'data-testid="issued-token">(pouch_[^<]+)<', made.text)
    assert secret is not None
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    program = TestClient(app_client.app, base_url="http://testserver")  # no session cookie
    me = program.get("/api/me", headers=bearer)
    assert me.status_code == 200 and me.json()["username"] == "sender"
    # Shown once: the page lists the token by name and prefix, never the secret again.
    listed = app_client.get("/account").text
    assert 'data-token="submission server"' in listed and secret.group(1) not in listed

    token_id = re.search(
        r'data-token="submission server">.*?action="/account/tokens/(\d+)/revoke"', listed, re.S
    )
    assert token_id is not None
    revoked = app_client.post(
        f"/account/tokens/{token_id.group(1)}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/account?notice=token-revoked#tokens"
    assert program.get("/api/me", headers=bearer).status_code == 401


def test_a_refused_token_comes_back_as_typed_with_the_problem_beside_its_field(
    app_client: TestClient, world: World
) -> None:
    csrf = log_in_form(app_client, "sender")
    dublin = world.offices["ie-taoiseach"].id
    cases = [
        ({"name": "", "grant": f"{dublin}:sender"}, "token-name-error"),
        ({"name": "ok", "grant": f"{dublin}:sender", "expires_in_days": "0"}, "token-days-error"),
        ({"name": "ok", "grant": f"{world.offices['ops'].id}:administrator"}, "token-grant-error"),
        ({"name": "ok", "grant": "not a grant"}, "token-grant-error"),
    ]
    for fields, error_id in cases:
        answer = app_client.post("/account/tokens", data={"csrf_token": csrf, **fields})
        assert answer.status_code == 400, (fields, answer.text)
        assert f'id="{error_id}"' in answer.text, (fields, answer.text)
        assert "Not made:" in answer.text
        if fields["name"]:
            assert f'value="{fields["name"]}"' in answer.text
    assert 'data-token="ok"' not in app_client.get("/account").text  # nothing was made


def test_someone_else_s_token_cannot_be_revoked_from_the_account_page(
    app_client: TestClient, world: World
) -> None:
    """The watch officer's token is unknown to the sender (404), and stays valid."""
    mine = app_client.get("/api/tokens", headers=world.auth(Role.WATCH_OFFICER)).json()
    assert mine, "the world's watch officer has a token"
    csrf = log_in_form(app_client, "sender")
    answer = app_client.post(f"/account/tokens/{mine[0]['id']}/revoke", data={"csrf_token": csrf})
    assert answer.status_code == 404
    assert app_client.get("/api/me", headers=world.auth(Role.WATCH_OFFICER)).status_code == 200


def test_the_account_page_needs_a_login(app_client: TestClient) -> None:
    answer = app_client.get("/account", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_sender_asks_for_a_signing_key_and_an_administrator_decides(
    app_client: TestClient, database: Database, world: World
) -> None:
    csrf = log_in_form(app_client, "sender")
    dublin = world.offices["ie-taoiseach"].id
    public = encode_public_key(public_key_of(bytes(range(32))))
    asked = app_client.post(
        "/account/keys",
        data={
            "csrf_token": csrf,
            "office_id": str(dublin),
            "key_id": "ie-2027",
            "public_key": public,
        },
        follow_redirects=False,
    )
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == "/account?notice=key-asked#signing"
    page = app_client.get("/account").text
    assert re.search(
        r'data-key="ie-2027" data-key-waiting>.*?waiting for an administrator', page, re.S
    )
    with database.transaction(write=False) as session:
        (request,) = approvals.list_requests(session, pending_only=True)
        assert request.action == approvals.Action.REGISTER_KEY.value
        assert request.payload["office"] == dublin and request.payload["key_id"] == "ie-2027"
        assert intake_service.list_keys(session, office_id=dublin) == []  # not before approval

    refusals = [
        (
            {"office_id": str(dublin), "key_id": "ie-2028", "public_key": "not a key"},
            "public-key-error",
        ),
        ({"office_id": str(dublin), "key_id": "bad key id!", "public_key": public}, "key-id-error"),
        (
            {"office_id": str(world.offices["ops"].id), "key_id": "ie-2029", "public_key": public},
            "Not sent",
        ),
    ]
    for fields, said in refusals:
        answer = app_client.post("/account/keys", data={"csrf_token": csrf, **fields})
        assert answer.status_code == 400 and said in answer.text, (fields, answer.text)
        assert f'value="{fields["key_id"]}"' in answer.text  # kept as typed


def test_tokens_are_listed_newest_first_a_page_at_a_time(
    app_client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf = log_in_form(app_client, "sender")
    dublin = world.offices["ie-taoiseach"].id
    for number in range(5):
        made = app_client.post(
            "/account/tokens",
            data={"csrf_token": csrf, "name": f"program {number}", "grant": f"{dublin}:sender"},
        )
        assert made.status_code == 200, made.text
    monkeypatch.setattr(identity_service, "TOKEN_PAGE", 2)
    names, url = [], "/account"
    while url:
        page = app_client.get(url).text
        names.append(re.findall(r'<tr data-token="([^"]+)">', page))
        older = re.search(
            r'href="(/account\?tokens_before=\d+)#tokens" data-testid="older-tokens"', page
        )
        url = older.group(1) if older else ""
    # The world's own token for the sender (named "test") is the oldest.
    assert names == [
        ["program 4", "program 3"],
        ["program 2", "program 1"],
        ["program 0", "test"],
    ]


@pytest.mark.parametrize("listed", ["users", "offices"])
def test_the_administration_page_lists_users_and_offices_a_page_at_a_time(
    app_client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch, listed: str
) -> None:
    if listed == "users":
        monkeypatch.setattr(identity_service, "USER_PAGE", 3)
        everyone = [u.username for u in world.users.values()]
        row, anchor = "user", "users"
    else:
        monkeypatch.setattr(directory_service, "OFFICE_PAGE", 2)
        everyone = [o.slug for o in world.offices.values()]
        row, anchor = "office", "offices"
    log_in_form(app_client, "administrator")
    shown, url = [], "/admin"
    while url:
        page = app_client.get(url)
        assert page.status_code == 200, page.text
        shown.append(re.findall(rf'<tr id="{row}-([^"]+)">', page.text))
        more = re.search(
            rf'href="(/admin\?{anchor}_after=\d+)#{anchor}" data-testid="more-', page.text
        )
        url = more.group(1) if more else ""
        # The forms still offer every user and office, whichever page of a table is shown.
        assert page.text.count('<option value="') >= len(world.users) + len(world.offices)
    assert len(shown) > 1 and all(len(names) <= 3 for names in shown)
    assert sorted(name for names in shown for name in names) == sorted(everyone)
