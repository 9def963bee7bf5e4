"""Web login: cookie flags, CSRF on every form, logout."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.factories import PASSWORD, World
from tests.identity.helpers import csrf_of, log_in


def test_login_sets_a_strict_session_cookie(app_client: TestClient, world: World) -> None:
    response = log_in(app_client, "principal")
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("pouch_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in this test
    home = app_client.get("/")
    assert home.status_code == 200
    assert "principal in Office president-elect" in home.text


def test_cookie_is_secure_behind_tls(
    settings: object, database: object, clock: object, world: World
) -> None:
    from pouch.app import create_app

    app = create_app(settings, database=database, clock=clock, background=False)  # type: ignore[arg-type]
    with TestClient(app, base_url="https://pouch.example") as client:
        response = log_in(client, "principal")
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("pouch_session=")
        )
        assert "Secure" in cookie


def test_wrong_password_shows_the_form_again(app_client: TestClient, world: World) -> None:
    response = log_in(app_client, "principal", "wrong password!")
    assert response.status_code == 401
    assert "Unknown user or wrong password." in response.text
    assert "pouch_session" not in app_client.cookies


def test_login_without_the_form_token_is_refused(app_client: TestClient, world: World) -> None:
    app_client.get("/login")
    response = app_client.post(
        "/login", data={"username": "principal", "password": PASSWORD, "csrf_token": "guess"}
    )
    assert response.status_code == 403
    assert "anti-forgery" in response.text


def test_cookie_session_needs_csrf_for_writes(app_client: TestClient, world: World) -> None:
    log_in(app_client, "administrator")
    office = {
        "slug": "de-kanzleramt",
        "name": "Bundeskanzleramt",
        "kind": "foreign",
        "country_code": "DE",
    }
    refused = app_client.post("/api/offices", json=office)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/csrf-failure"
    token = csrf_of(app_client.get("/").text)
    accepted = app_client.post("/api/offices", json=office, headers={"x-csrf-token": token})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["time_zone"] == "Europe/Berlin"


def test_logout_needs_the_token_and_ends_the_session(app_client: TestClient, world: World) -> None:
    log_in(app_client, "auditor")
    assert app_client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert app_client.get("/api/me").status_code == 200
    token = csrf_of(app_client.get("/").text)
    response = app_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert app_client.get("/api/me").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(app_client: TestClient, world: World, target: str) -> None:
    form = app_client.get("/login")
    response = app_client.post(
        "/login",
        data={
            "username": "principal",
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": target,
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_anonymous_home_redirects_tolog_in(app_client: TestClient) -> None:
    response = app_client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_an_error_page_keeps_the_viewer_s_navigation(app_client: TestClient, world: World) -> None:
    """A wrong link or a refused page is a page of Pouch's like any other: the menu of
    the user's pages stays, so that the way on is one click away."""
    assert log_in(app_client, "watch-officer").status_code == 303
    missing = app_client.get("/no-such-page")
    assert missing.status_code == 404
    nav = re.search(r'<nav aria-label="Main".*?</nav>', missing.text, re.S)
    assert nav is not None, "the error page has no navigation"
    assert 'href="/watch"' in nav.group(0)
    refused = app_client.get("/admin")
    assert refused.status_code == 403
    assert 'aria-label="Main"' in refused.text
    # Anonymous, the error page offers no menu (and names nobody).
    app_client.cookies.clear()
    anonymous = app_client.get("/no-such-page")
    assert anonymous.status_code == 404
    assert 'aria-label="Main"' not in anonymous.text


def test_a_refused_admin_form_comes_back_as_typed_with_each_problem_beside_its_field(
    app_client: TestClient, world: World
) -> None:
    """Not a dead end: the page again, the form open, what was typed kept, the reason
    beside the field, and nothing saved."""
    assert log_in(app_client, "administrator").status_code == 303
    csrf = csrf_of(app_client.get("/admin").text)
    typed = {
        "csrf_token": csrf,
        "slug": "ie-taoiseach",  # taken
        "name": "Roinn an Taoisigh <b>bis</b>",
        "kind": "foreign",
        "country_code": "IE",
        "time_zone": "",
        "email": "",
    }
    response = app_client.post("/admin/offices", data=typed, follow_redirects=False)
    assert response.status_code == 409
    page = response.text
    assert re.search(r'<details class="create" open>\s*<summary>Create an office', page)
    assert 'role="alert">Not saved: an office &#39;ie-taoiseach&#39; exists already' in page
    assert re.search(r'name="slug"[^>]*value="ie-taoiseach" aria-invalid="true"', page, re.S)
    assert '<span class="error" id="new-office-slug-error">taken</span>' in page
    # What was typed comes back escaped, as text.
    assert 'value="Roinn an Taoisigh &lt;b&gt;bis&lt;/b&gt;"' in page
    names = [o["name"] for o in app_client.get("/api/offices").json()]
    assert "Roinn an Taoisigh <b>bis</b>" not in names

    bad_user = {"csrf_token": csrf, "username": "No Spaces", "display_name": "X", "email": ""}
    response = app_client.post("/admin/users", data=bad_user, follow_redirects=False)
    assert response.status_code == 400
    assert re.search(r'<details class="create" open>\s*<summary>Create a user', response.text)
    assert re.search(
        r'name="username"[^>]*value="No Spaces" aria-invalid="true"', response.text, re.S
    )
    assert 'id="new-user-username-error"' in response.text
