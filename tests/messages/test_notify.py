"""An office's endpoints: set by its administrator, checked, each new secret shown once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages.models import OfficeEndpoint
from tests.factories import World


def test_an_office_sets_its_endpoints_and_sees_each_new_secret_once(
    app_client: TestClient, database: Database, world: World
) -> None:
    url = f"/api/offices/{world.offices['ie-taoiseach'].id}/endpoint"
    admin = world.auth(Role.ADMINISTRATOR)
    first = app_client.put(url, json={"webhook_url": "https://ie.example/hook"}, headers=admin)
    assert first.status_code == 200, first.text
    secret = first.json()["webhook_secret"]
    assert secret
    same = app_client.put(
        url,
        json={"webhook_url": "https://ie.example/hook", "email": "desk@ie.example"},
        headers=admin,
    ).json()
    assert same["webhook_secret"] is None and same["email"] == "desk@ie.example"
    moved = app_client.put(url, json={"webhook_url": "https://ie.example/new"}, headers=admin)
    assert moved.json()["webhook_secret"] not in (None, secret)
    assert app_client.put(url, json={}, headers=admin).json()["webhook_secret"] is None
    with database.transaction(write=False) as session:
        endpoint = session.get(OfficeEndpoint, world.offices["ie-taoiseach"].id)
        assert endpoint is not None
        assert (endpoint.webhook_url, endpoint.webhook_secret, endpoint.email) == (None, None, None)
    assert app_client.put("/api/offices/999999/endpoint", json={}, headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://a..b/", "is not a host name"),
        ("https://[::1", "not a URL"),
        ("http://ie.example/hook", "must use https"),
        ("https://127.0.0.1/hook", "is a loopback address"),
        ("https://[fe80::1]/hook", "is a link-local address"),
        ("https://10.1.2.3/hook", "is a private address"),
        ("ftp://ie.example/hook", "should match pattern"),
        ("https://user:pw@ie.example/hook", "no user name or password"),
    ],
)
def test_an_endpoint_pouch_may_not_send_to_is_refused_naming_the_field(
    app_client: TestClient, database: Database, world: World, url: str, why: str
) -> None:
    office = world.offices["ie-taoiseach"].id
    refused = app_client.put(
        f"/api/offices/{office}/endpoint",
        json={"webhook_url": url},
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["field"] == "body.webhook_url"
    assert why in refused.json()["detail"]
    with database.transaction(write=False) as session:
        assert session.get(OfficeEndpoint, office) is None
