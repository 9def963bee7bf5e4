"""GET never changes state: not the log, not a row of any table.

A GET is what prefetchers, link scanners in mail gateways and other sites'
pages (an ``<img src>`` pointing at Pouch) make in a reader's name: if one
could record "read", the sender would be told of a reading that never was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.routing import BaseRoute

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.ledger import service as ledger_service
from pouch.messages import service as message_service
from pouch.messages.models import MessageRead
from pouch.models import metadata
from tests.factories import World
from tests.identity.helpers import csrf_of, log_in
from tests.messages.helpers import route as route_message
from tests.messages.helpers import submit


def _routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def get_paths(app: FastAPI) -> list[str]:
    """Every GET route's path template of the application."""
    return sorted(
        {
            route.path  # type: ignore[attr-defined]
            for route in _routes(app.routes)
            if "GET" in (getattr(route, "methods", None) or ())
        }
    )


def _state(database: Database) -> dict[str, int]:
    """The log's size and the number of rows of every table."""
    tables = metadata.sorted_tables
    # One statement for every table: the walk reads this after each of its ~70 GETs.
    every = select(
        *(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables)
    )
    with database.transaction(write=False) as session:
        counts = dict(session.execute(every).one()._mapping)
        counts["(log size)"] = ledger_service.sequenced_size(session)
    return counts


def _delivered(database: Database, clock: ManualClock, world: World, body: str) -> str:
    accepted = submit(database, clock, world, body=body, body_format="html")
    public_id = accepted.message.public_id
    route_message(database, clock, world, public_id)
    return public_id


def _filled(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"{([^}:]+)(:[^}]*)?}", lambda m: str(values.get(m.group(1), 1)), path)


def _reads(database: Database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(MessageRead)) or 0


@pytest.mark.parametrize("username", ["principal", "administrator"])
def test_no_get_route_changes_anything(
    app_client: TestClient, database: Database, clock: ManualClock, world: World, username: str
) -> None:
    public_id = _delivered(database, clock, world, "<p>Hello <img src='https://t.example/p'></p>")
    assert log_in(app_client, username).status_code == 303
    values = {
        "public_id": public_id,
        "office_id": world.offices["president-elect"].id,
        "user_id": world.users[Role.PRINCIPAL].id,
        "index": 0,
        "slug": "not-found",
        "code": "IE",
        "path": "checkpoint",
    }
    paths = get_paths(app_client.app)  # type: ignore[arg-type]
    assert "/inbox/{public_id}" in paths and "/api/messages/{public_id}" in paths
    before = _state(database)
    assert before["messages"] == 1 and before["(log size)"] > 0, before  # counts, not zeros
    answered = {}
    for path in paths:
        url = _filled(path, values)
        if path.endswith("/stream"):
            # A live feed never ends: its answer is read up to the headers, then closed.
            with app_client.stream("GET", url, follow_redirects=False) as streamed:
                answered[url] = streamed.status_code
            assert answered[url] < 500, url
            assert _state(database) == before, f"GET {url} changed the database"
            continue
        response = app_client.get(url, follow_redirects=False)
        answered[url] = response.status_code
        assert response.status_code < 500, (url, response.text[:300])
        assert _state(database) == before, f"GET {url} changed the database"
    # The walk reached the message itself, not only refusals.
    if username == "principal":
        assert answered[f"/inbox/{public_id}"] == 200
        assert answered[f"/api/messages/{public_id}"] == 200
    assert len(answered) > 60


def test_opening_a_message_records_no_read_until_the_post(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    public_id = _delivered(database, clock, world, "<p>Dear President-elect</p>")
    log_in(app_client, "principal")
    for fetch_site in ["cross-site", "same-origin", "none", None]:
        headers = {"sec-fetch-site": fetch_site} if fetch_site else {}
        page = app_client.get(f"/inbox/{public_id}", headers=headers)
        assert page.status_code == 200
        assert "Mark as read" in page.text
        # It posts by itself only after a navigation of the reader's own.
        automatic = 'hx-trigger="load"' in page.text
        assert automatic == (fetch_site in {"same-origin", "none"}), fetch_site
    assert _reads(database) == 0
    kinds_before = _kinds(database, public_id)
    assert "read" not in kinds_before

    token = csrf_of(page.text)
    assert app_client.post(f"/inbox/{public_id}/read", data={"csrf_token": "no"}).status_code == 403
    response = app_client.post(
        f"/inbox/{public_id}/read", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/inbox/{public_id}?notice=read"
    assert _reads(database) == 1
    assert _kinds(database, public_id) == [*kinds_before, "read"]
    shown = app_client.get(f"/inbox/{public_id}?notice=read")
    assert "Your first reading is recorded" in shown.text
    assert "Mark as read" not in shown.text

    # htmx's post (on load) gets the note alone; a second reading records nothing.
    again = app_client.post(
        f"/inbox/{public_id}/read", data={"csrf_token": token}, headers={"hx-request": "true"}
    )
    assert again.status_code == 200
    assert "recorded" not in again.text
    assert _reads(database) == 1


def test_an_undelivered_message_has_nothing_to_mark(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(database, clock, world)  # accepted, not delivered yet: shown, not read
    log_in(app_client, "principal")
    page = app_client.get(f"/inbox/{accepted.message.public_id}")
    assert page.status_code == 200, page.status_code
    assert "Mark as read" not in page.text


def _kinds(database: Database, public_id: str) -> list[str]:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        return [e.kind for e in message_service.events_of(session, message)]
