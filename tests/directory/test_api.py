"""Directory CRUD through the API, and YAML import/export."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory import transfer
from pouch.directory.models import Office, Person
from pouch.errors import InvalidInput
from pouch.identity.models import Role
from tests.calls.helpers import build_desk, request
from tests.factories import World
from tests.messages.helpers import submit


def test_office_and_person_lifecycle(app_client: TestClient, world: World) -> None:
    editor = world.auth(Role.PROTOCOL_OFFICER)
    office = app_client.post(
        "/api/offices",
        json={
            "slug": "np-pmo",
            "name": "Office of the Prime Minister, Nepal",
            "kind": "foreign",
            "country_code": "np",
        },
        headers=editor,
    )
    assert office.status_code == 201, office.text
    office_id = office.json()["id"]
    assert office.json()["country_code"] == "NP"
    assert office.json()["time_zone"] == "Asia/Kathmandu"

    person = app_client.post(
        "/api/people",
        json={
            "name": "Sushila Adhikari",
            "title": "Prime Minister",
            "form_of_address": "Madam Prime Minister",
            "country_code": "NP",
            "languages": ["ne", "en", "ne"],
            "office_id": office_id,
        },
        headers=editor,
    )
    assert person.status_code == 201, person.text
    assert person.json()["languages"] == ["ne", "en"]
    assert person.json()["time_zone"] == "Asia/Kathmandu"

    reader = world.auth(Role.SENDER)
    assert [
        p["name"]
        for p in app_client.get(f"/api/people?office_id={office_id}", headers=reader).json()
    ] == ["Sushila Adhikari"]
    patched = app_client.patch(
        f"/api/offices/{office_id}", json={"email": "pmo@example.np"}, headers=editor
    )
    assert patched.json()["email"] == "pmo@example.np"
    nulled = app_client.patch(f"/api/offices/{office_id}", json={"name": None}, headers=editor)
    assert nulled.status_code == 400
    assert nulled.json()["errors"] == [
        {"field": "body.name", "message": "may be left out, but not null"}
    ]

    # Removal is asked by one officer and done when an administrator approves it.
    asked = app_client.delete(f"/api/offices/{office_id}", headers=editor)
    assert asked.status_code == 202, asked.text
    assert app_client.get(f"/api/offices/{office_id}", headers=reader).status_code == 200
    approved = app_client.post(
        f"/api/power-requests/{asked.json()['id']}/approve",
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert approved.status_code == 200, approved.text
    assert app_client.get(f"/api/offices/{office_id}", headers=reader).status_code == 404
    # The person outlives the office, unattached.
    assert (
        app_client.get(f"/api/people/{person.json()['id']}", headers=reader).json()["office_id"]
        is None
    )


def test_multi_zone_country_needs_an_explicit_zone(app_client: TestClient, world: World) -> None:
    response = app_client.post(
        "/api/offices",
        json={"slug": "ps-office", "name": "Office", "kind": "foreign", "country_code": "UM"},
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "time_zone", "message": "required for this country"}
    ]


def test_duplicate_slug_is_a_conflict(app_client: TestClient, world: World) -> None:
    response = app_client.post(
        "/api/offices",
        json={"slug": "ops", "name": "Another", "kind": "operations", "country_code": "US"},
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"


def test_countries_api(app_client: TestClient, world: World) -> None:
    auth = world.auth(Role.SENDER)
    kosovo = app_client.get("/api/countries/xk", headers=auth).json()
    assert kosovo["name"] == "Kosovo"
    assert len(app_client.get("/api/countries", headers=auth).json()) == 250
    assert app_client.get("/api/countries/ZZ", headers=auth).status_code == 404


YAML = """
offices:
  - slug: ie-taoiseach
    name: Roinn an Taoisigh
    kind: foreign
    country_code: IE
    people:
      - {name: Ciarán Ó Dálaigh, title: Taoiseach, form_of_address: Taoiseach, languages: [en, ga]}
  - slug: ki-beretitenti
    name: Office of Te Beretitenti
    kind: foreign
    country_code: KI
    time_zone: Pacific/Tarawa
    people:
      - name: Teburoro Kaiea
        title: Beretitenti
        form_of_address: Your Excellency
        languages: [en]
"""


def _count(database: Database) -> tuple[int, int]:
    with database.transaction(write=False) as session:
        return (
            session.scalar(select(func.count()).select_from(Office)) or 0,
            session.scalar(select(func.count()).select_from(Person)) or 0,
        )


def test_import_export_round_trip(database: Database, world: World, clock: ManualClock) -> None:
    with database.transaction() as session:
        counts = transfer.import_directory(session, text=YAML, now=clock.now())
    assert counts == {
        "offices_created": 1,
        "offices_updated": 1,
        "people_created": 2,
        "people_updated": 0,
    }
    with database.transaction() as session:
        exported = transfer.export_directory(session)
        ki = next(o for o in yaml.safe_load(exported)["offices"] if o["slug"] == "ki-beretitenti")
        assert ki["people"][0]["time_zone"] == "Pacific/Tarawa"
    before = _count(database)
    with database.transaction() as session:
        again = transfer.import_directory(session, text=exported, now=clock.now())
    assert again["offices_created"] == again["people_created"] == 0
    assert _count(database) == before
    with database.transaction() as session:
        assert transfer.export_directory(session) == exported


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("offices: [", "not valid YAML"),
        ("- just a list", "must be a mapping"),
        ("offices: {a: 1}", "offices must be a list"),
        (
            "offices:\n  - {slug: ok-one, name: A, kind: foreign, country_code: FR}\n"
            "  - slug: BAD\n",
            "offices[1].slug",
        ),
        (
            "offices:\n  - {slug: ok-one, name: A, kind: foreign, country_code: FR,"
            " people: [{name: X}]}",
            "offices[0].people[0].title",
        ),
        ("secrets: 1", "must be a mapping with 'offices'"),
    ],
)
def test_import_is_all_or_nothing(
    database: Database, world: World, clock: ManualClock, text: str, message: str
) -> None:
    before = _count(database)
    with pytest.raises(InvalidInput) as raised, database.transaction() as session:
        transfer.import_directory(session, text=text, now=clock.now())
    assert message in str(raised.value.detail)
    assert _count(database) == before


def test_what_is_still_referred_to_is_not_deleted_and_the_answer_says_by_what(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    submit(database, clock, world)
    editor = world.auth(Role.PROTOCOL_OFFICER)
    sender_office = world.offices["ie-taoiseach"].id
    refused = app_client.delete(f"/api/offices/{sender_office}", headers=editor)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "/problems/conflict"
    # It has members, and messages: it stays on the record, to be retired instead.
    assert "retire it instead" in refused.json()["detail"]
    # The connection is sound afterwards, and the office still there.
    assert app_client.get(f"/api/offices/{sender_office}", headers=editor).status_code == 200
    with database.transaction() as session:
        desk = build_desk(session, clock, existing=world.offices)
        call = request(session, desk, "jp", clock)
        leader = call.person_id
    refused = app_client.delete(f"/api/people/{leader}", headers=editor)
    assert refused.status_code == 409, refused.text
    assert "call requests (1)" in refused.json()["detail"]
    assert app_client.get(f"/api/people/{leader}", headers=editor).status_code == 200
