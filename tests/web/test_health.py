"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from pouch import migrations
from pouch.app import create_app
from pouch.settings import Settings


def test_healthz_and_readyz(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    ready = app_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migration"] == migrations.head()


def test_not_ready_before_migrations(tmp_path: Path, settings: Settings) -> None:
    settings = settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    )
    with TestClient(create_app(settings, background=False)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["migration"] is None
        migrations.upgrade(client.app.state.database)  # type: ignore[attr-defined]
        assert client.get("/readyz").status_code == 200


def test_not_ready_when_the_database_is_unreachable(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"}
    )
    with TestClient(create_app(settings, background=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_openapi_document(app_client: TestClient) -> None:
    document = app_client.get("/api/openapi.json").json()
    assert document["info"]["title"] == "Pouch"
    assert "/api/offices" in document["paths"]


def test_openapi_document_states_the_errors_pouch_answers(app_client: TestClient) -> None:
    document = app_client.get("/api/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(document["components"]["securitySchemes"]) == {"token", "session"}
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) > 70
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        assert "Retry-After" in responses["503"]["headers"], (method, path)
        # The log is public, but the openings of its entries go to the parties entitled.
        log = path.startswith("/api/log") and not path.startswith("/api/log/openings")
        public = not path.startswith("/api/") or log
        assert ("security" in operation) is not public, (method, path)
        if not public:
            assert {"401", "403"} <= set(responses), (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(responses), (method, path)
        problem = responses["503"]["content"]["application/problem+json"]["schema"]
        assert problem == {"$ref": "#/components/schemas/Problem"}
