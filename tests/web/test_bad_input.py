"""Hostile and malformed requests get a precise problem document and change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pouch.db import Database
from pouch.directory.models import Office, Person
from pouch.identity.models import Role, User
from tests.factories import World

PROBLEM = "application/problem+json"


def _counts(database: Database) -> tuple[int, int, int]:
    with database.transaction(write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(Office)) or 0,
            session.scalar(select(func.count()).select_from(Person)) or 0,
            session.scalar(select(func.count()).select_from(User)) or 0,
        )


@pytest.fixture
def unchanged(database: Database, world: World) -> Iterator[None]:
    """Asserts, after the test, that nothing was written."""
    before = _counts(database)
    yield
    assert _counts(database) == before


def _problem(response: object, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    return body


VALID_OFFICE = {"slug": "fr-elysee", "name": "Élysée", "kind": "foreign", "country_code": "FR"}


@pytest.mark.usefixtures("unchanged")
class TestMalformedBodies:
    def test_malformed_json(self, app_client: TestClient, world: World) -> None:
        response = app_client.post(
            "/api/offices",
            content=b'{"slug": "x",',
            headers={**world.auth(Role.ADMINISTRATOR), "content-type": "application/json"},
        )
        body = _problem(response, 400, "malformed-body")
        assert "JSON" in str(body["detail"])

    def test_invalid_utf8(self, app_client: TestClient, world: World) -> None:
        response = app_client.post(
            "/api/offices",
            content=b'{"slug": "\xff\xfe", "name": "x"}',
            headers={**world.auth(Role.ADMINISTRATOR), "content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["type"] in ("/problems/malformed-body", "/problems/invalid-request")

    def test_wrong_types_name_the_field(self, app_client: TestClient, world: World) -> None:
        response = app_client.post(
            "/api/offices",
            json={**VALID_OFFICE, "kind": 7, "country_code": ["FR"]},
            headers=world.auth(Role.ADMINISTRATOR),
        )
        body = _problem(response, 400, "invalid-request")
        fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
        assert {"body.kind", "body.country_code"} <= fields

    def test_unknown_fields_are_refused(self, app_client: TestClient, world: World) -> None:
        response = app_client.post(
            "/api/offices",
            json={**VALID_OFFICE, "is_admin": True},
            headers=world.auth(Role.ADMINISTRATOR),
        )
        body = _problem(response, 400, "invalid-request")
        assert body["errors"] == [
            {"field": "body.is_admin", "message": "Extra inputs are not permitted"}
        ]

    def test_missing_field(self, app_client: TestClient, world: World) -> None:
        response = app_client.post(
            "/api/offices",
            json={k: v for k, v in VALID_OFFICE.items() if k != "name"},
            headers=world.auth(Role.ADMINISTRATOR),
        )
        body = _problem(response, 400, "invalid-request")
        assert "body.name" in str(body["detail"])

    def test_body_not_an_object(self, app_client: TestClient, world: World) -> None:
        response = app_client.post(
            "/api/offices", json=[1, 2, 3], headers=world.auth(Role.ADMINISTRATOR)
        )
        _problem(response, 400, "invalid-request")

    @pytest.mark.parametrize(
        ("field", "value", "reason"),
        [
            ("country_code", "ZZ", "not a known ISO 3166-1"),
            ("time_zone", "Mars/Olympus_Mons", "not an IANA time zone"),
            ("name", "Office\u202eecsiffo", "bidirectional control character U+202E"),
            ("name", "Office\x00of", "control or unassigned character U+0000"),
            ("name", "x" * 201, "at most 200 characters"),
            ("slug", "Not A Slug", "lowercase letters"),
            ("email", "not-an-address", "String should match pattern"),
        ],
    )
    def test_field_validation(
        self, app_client: TestClient, world: World, field: str, value: str, reason: str
    ) -> None:
        response = app_client.post(
            "/api/offices",
            json={**VALID_OFFICE, field: value},
            headers=world.auth(Role.ADMINISTRATOR),
        )
        body = _problem(response, 400, "invalid-request")
        assert body["errors"][0]["field"] == f"body.{field}"  # type: ignore[index]
        assert reason in body["errors"][0]["message"]  # type: ignore[index]

    def test_oversized_declared_body(
        self, app_client: TestClient, world: World, settings: object
    ) -> None:
        big = b"{" + b" " * (10 * 1024 * 1024) + b"}"
        response = app_client.post(
            "/api/offices",
            content=big,
            headers={**world.auth(Role.ADMINISTRATOR), "content-type": "application/json"},
        )
        _problem(response, 413, "payload-too-large")

    def test_oversized_chunked_body(self, app_client: TestClient, world: World) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'{"slug": "'
            for _ in range(11):
                yield b"a" * (1024 * 1024)
            yield b'"}'

        response = app_client.post(
            "/api/offices",
            content=chunks(),
            headers={**world.auth(Role.ADMINISTRATOR), "content-type": "application/json"},
        )
        _problem(response, 413, "payload-too-large")

    def test_wrong_path_parameter_type(self, app_client: TestClient, world: World) -> None:
        response = app_client.get("/api/offices/abc", headers=world.auth(Role.ADMINISTRATOR))
        body = _problem(response, 400, "invalid-request")
        assert body["errors"][0]["field"] == "path.office_id"  # type: ignore[index]


@pytest.mark.usefixtures("unchanged")
class TestCredentials:
    def test_missing(self, app_client: TestClient) -> None:
        response = app_client.get("/api/offices")
        _problem(response, 401, "not-authenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")

    def test_not_bearer(self, app_client: TestClient) -> None:
        response = app_client.get("/api/offices", headers={"Authorization": "Basic YWRtaW46eA=="})
        body = _problem(response, 401, "not-authenticated")
        assert "Bearer" in str(body["detail"])

    def test_forged(self, app_client: TestClient, world: World) -> None:
        real = world.tokens[Role.ADMINISTRATOR]
        forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
        response = app_client.get("/api/offices", headers={"Authorization": f"Bearer {forged}"})
        body = _problem(response, 401, "invalid-credentials")
        assert body["detail"] == "unknown API token"

    def test_not_a_pouch_token(self, app_client: TestClient) -> None:
        response = app_client.get("/api/offices", headers={"Authorization": "Bearer eyJhbGciOi"})
        body = _problem(response, 401, "invalid-credentials")
        assert "not a Pouch API token" in str(body["detail"])

    def test_expired(self, app_client: TestClient, world: World, clock: object) -> None:
        from datetime import timedelta

        clock.advance(timedelta(days=31))  # type: ignore[attr-defined]
        response = app_client.get("/api/offices", headers=world.auth(Role.WATCH_OFFICER))
        body = _problem(response, 401, "invalid-credentials")
        assert body["detail"] == "this API token has expired"

    def test_revoked(self, app_client: TestClient, world: World) -> None:
        headers = world.auth(Role.WATCH_OFFICER)
        mine = app_client.get("/api/tokens", headers=headers).json()
        assert len(mine) == 1
        assert app_client.delete(f"/api/tokens/{mine[0]['id']}", headers=headers).status_code == 204
        body = _problem(app_client.get("/api/offices", headers=headers), 401, "invalid-credentials")
        assert body["detail"] == "this API token was revoked"


def test_unknown_api_path_is_a_problem(app_client: TestClient) -> None:
    _problem(app_client.get("/api/nothing-here"), 404, "not-found")


def test_wrong_method_is_a_problem(app_client: TestClient) -> None:
    refused = app_client.put("/api/me")
    _problem(refused, 405, "method-not-allowed")
    assert refused.headers["allow"] == "GET"


def test_html_error_page_outside_api(app_client: TestClient) -> None:
    response = app_client.get("/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text


def test_unexpected_error_leaks_nothing(
    settings: object, database: Database, clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    from pouch.app import create_app

    app = create_app(settings, database=database, clock=clock, background=False)  # type: ignore[arg-type]

    @app.get("/api/explode")
    def explode() -> None:
        raise RuntimeError("secret database password is hunter2")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/explode")
    body = _problem(response, 500, "internal-error")
    assert "hunter2" not in response.text
    assert body["detail"] == "Internal error"
    assert "hunter2" in caplog.text  # the operator still sees it in the log


def test_problem_type_uris_resolve(app_client: TestClient) -> None:
    response = app_client.get("/problems/payload-too-large")
    assert response.status_code == 200
    assert "413" in response.text
    assert app_client.get("/problems/no-such-thing").status_code == 404


TOO_BIG = str(2**63)


def _integer_parameters(client: TestClient) -> list[tuple[str, str, str, str]]:
    """Every (method, path, where, name) of an integer parameter the API documents."""
    found = []
    for path, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schemas = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
                if any(s.get("type") == "integer" for s in schemas):
                    found.append((method.upper(), path, parameter["in"], parameter["name"]))
    return found


@pytest.mark.usefixtures("unchanged")
def test_an_id_beyond_64_bits_is_a_400_naming_it_wherever_it_is_given(
    app_client: TestClient, world: World
) -> None:
    parameters = _integer_parameters(app_client)
    assert len(parameters) >= 30  # every id of the API, in paths and queries
    for method, path, where, name in parameters:
        url = path.replace("{public_id}", "m-none").replace("{key_id}", "k")
        for other in (
            "office_id",
            "user_id",
            "membership_id",
            "person_id",
            "run_id",
            "removal_id",
            "token_id",
            "translation_id",
            "interpreter_id",
            "block_id",
            "hold_id",
            "attachment_id",
            "index",
        ):
            if other != name:
                url = url.replace("{" + other + "}", "1")
        if where == "path":
            url = url.replace("{" + name + "}", TOO_BIG)
        else:
            url = f"{url}?{name}={TOO_BIG}"
        response = app_client.request(method, url, headers=world.auth(Role.ADMINISTRATOR))
        assert response.status_code in (400, 403), (method, url, response.text)
        if response.status_code == 400:
            fields = [e["field"] for e in response.json()["errors"]]
            assert f"{where}.{name}" in fields, (method, url, fields)


@pytest.mark.usefixtures("unchanged")
def test_an_id_beyond_64_bits_in_a_body_is_a_400(app_client: TestClient, world: World) -> None:
    response = app_client.post(
        f"/api/users/{world.users[Role.WATCH_OFFICER].id}/memberships",
        json={"office_id": 2**63, "role": "auditor"},
        headers=world.auth(Role.ADMINISTRATOR),
    )
    body = _problem(response, 400, "invalid-request")
    assert body["errors"][0]["field"] == "body.office_id"  # type: ignore[index]


def test_a_patch_may_leave_a_field_out_but_not_send_it_null(
    app_client: TestClient, world: World
) -> None:
    """The document says these fields are not nullable; the server holds to it."""
    watch = world.users[Role.WATCH_OFFICER]
    headers = world.auth(Role.ADMINISTRATOR)
    refused = app_client.patch(f"/api/users/{watch.id}", json={"is_active": None}, headers=headers)
    body = _problem(refused, 400, "invalid-request")
    assert body["errors"] == [
        {"field": "body.is_active", "message": "may be left out, but not null"}
    ]
    short = app_client.patch(f"/api/users/{watch.id}", json={"password": "short"}, headers=headers)
    assert _problem(short, 400, "invalid-request")["errors"][0]["field"] == "body.password"  # type: ignore[index]
    left_out = app_client.patch(
        f"/api/users/{watch.id}", json={"display_name": "Walter W."}, headers=headers
    )
    assert left_out.status_code == 200, left_out.text
    assert left_out.json()["is_active"] is True
