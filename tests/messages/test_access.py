"""One rule each for the API and the pages: who may know a message exists (404 for
anyone else), who answers for its addressee office (403 for anyone else who sees
it), and who reads the watch floor's queue."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.identity.models import Role
from tests.factories import World, make_office, make_token, make_user
from tests.messages.helpers import route, submit

QUEUE_READERS = {Role.WATCH_OFFICER, Role.AUDITOR}


def _delivered(database: Database, clock: ManualClock, world: World) -> str:
    public_id = submit(database, clock, world).message.public_id
    route(database, clock, world, public_id)
    return public_id


def _outsider(database: Database, clock: ManualClock) -> dict[str, str]:
    """A sender of an office that has nothing to do with the message."""
    with database.transaction() as session:
        france = make_office(session, clock, "fr-elysee", OfficeKind.FOREIGN, "FR")
        user = make_user(session, clock, "fr-sender", [(Role.SENDER, france)])
        token = make_token(session, clock, user, Role.SENDER, france)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "path",
    ["/api/messages/{}/acknowledge", "/api/messages/{}/read", "/inbox/{}/acknowledge"],
)
def test_addressee_actions_are_404_unseen_and_403_seen_by_others(
    app_client: TestClient, database: Database, clock: ManualClock, world: World, path: str
) -> None:
    public_id = _delivered(database, clock, world)
    url = path.format(public_id)
    assert app_client.post(url, headers=_outsider(database, clock)).status_code == 404
    for role in (Role.SENDER, Role.WATCH_OFFICER, Role.AUDITOR):
        refused = app_client.post(url, headers=world.auth(role))
        assert refused.status_code == 403, (role, refused.text)
    done = app_client.post(url, headers=world.auth(Role.PRINCIPAL), follow_redirects=False)
    assert done.status_code in (200, 303), done.text


def test_a_reply_from_the_form_follows_the_same_rule(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    public_id = _delivered(database, clock, world)
    url = f"/inbox/{public_id}/reply"
    form = {"body": "Thank you."}
    assert app_client.post(url, data=form, headers=_outsider(database, clock)).status_code == 404
    assert app_client.post(url, data=form, headers=world.auth(Role.SENDER)).status_code == 403
    done = app_client.post(
        url, data=form, headers=world.auth(Role.PRINCIPAL), follow_redirects=False
    )
    assert done.status_code == 303, done.text


@pytest.mark.parametrize("role", list(Role))
def test_the_queue_has_the_same_readers_in_the_api_and_the_pages(
    app_client: TestClient, world: World, role: Role
) -> None:
    expected = 200 if role in QUEUE_READERS else 403
    for path in ("/api/queue", "/watch", "/watch/queue"):
        response = app_client.get(path, headers=world.auth(role))
        assert response.status_code == expected, (path, role, response.text)


def test_the_addressee_reads_nothing_of_a_message_not_yet_delivered(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    # Accepted and queued: the principal's office sees it exists and when it is due,
    # never its text, as with a hold; the API answers the same.
    body = "Only once delivered: the minister's private line."
    public_id = submit(database, clock, world, body=body).message.public_id
    principal = world.auth(Role.PRINCIPAL)
    page = app_client.get(f"/inbox/{public_id}", headers=principal)
    assert page.status_code == 200, page.text
    assert "not-delivered" in page.text
    assert "private line" not in page.text
    assert (
        "private line" not in app_client.get(f"/api/messages/{public_id}", headers=principal).text
    )
    route(database, clock, world, public_id)
    delivered = app_client.get(f"/inbox/{public_id}", headers=principal)
    assert "private line" in delivered.text
    assert "not-delivered" not in delivered.text


def test_the_sender_reads_a_reply_once_delivered_and_is_told_until_then(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    original = _delivered(database, clock, world)
    answer = app_client.post(
        f"/api/messages/{original}/replies",
        json={"body": "Thank you: the President-elect will call on Thursday."},
        headers=world.auth(Role.PRINCIPAL),
    )
    assert answer.status_code == 201, answer.text
    reply = answer.json()["id"]
    sender = world.auth(Role.SENDER)
    queued = app_client.get(f"/track/{reply}", headers=sender)
    assert queued.status_code == 200
    assert 'data-testid="not-delivered"' in queued.text
    assert "call on Thursday" not in queued.text
    route(database, clock, world, reply)
    delivered = app_client.get(f"/track/{reply}", headers=sender)
    assert "call on Thursday" in delivered.text
    assert 'data-testid="not-delivered"' not in delivered.text
