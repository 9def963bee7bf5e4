"""The ledger page: for auditors and administrators, or for anyone when configured."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import service as ledger_service
from pouch.settings import Settings


def _client(settings: Settings, database: Database, clock: ManualClock) -> TestClient:
    return TestClient(create_app(settings, database=database, clock=clock, background=False))


def test_anonymous_visitors_are_sent_to_log_in_by_default(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    with _client(settings, database, clock) as client:
        response = client.get("/ledger", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/ledger"


def test_a_public_ledger_shows_the_checkpoint_to_anyone(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    public = settings.model_copy(update={"public_ledger": True})
    with _client(public, database, clock) as client:
        with database.transaction() as session:
            ledger_service.record_event(session, kind="test", at=clock.now(), details={})
        client.app.state.ledger.integrate_now()  # type: ignore[attr-defined]
        response = client.get("/ledger")
    assert response.status_code == 200
    assert "test.pouch/log" in response.text
