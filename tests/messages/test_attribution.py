"""Every step names who took it, as far as the reader may know: the operations center
and the principal's office see each person; a foreign sender sees its own people's
names and otherwise only the side that acted (never an officer's name)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import holds, worker
from pouch.messages import service as message_service
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.factories import World, make_user
from tests.identity.helpers import log_in
from tests.messages.helpers import route, submit


def _steps(html: str) -> list[str]:
    """Each step's name and who took it, as the page says them."""
    found = re.findall(
        r'<span class="step-name">([^<]+)</span>\s*<span class="step-by">([^<]+)</span>', html
    )
    return [f"{name}: {by}" for name, by in found]


def _routed_and_read(database: Database, clock: ManualClock, world: World) -> str:
    public_id = submit(database, clock, world, subject="Attributed").message.public_id
    route(database, clock, world, public_id)
    with database.transaction() as session:
        message = message_service.get_message(session, public_id)
        message_service.mark_read(
            session, message=message, user_id=world.users[Role.PRINCIPAL].id, now=clock.now()
        )
    return public_id


def test_the_operations_center_sees_who_took_each_step(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    public_id = _routed_and_read(database, clock, world)
    assert log_in(app_client, "watch-officer").status_code == 303
    steps = _steps(app_client.get(f"/watch/{public_id}").text)
    assert any(s.startswith("Accepted: by Sender (") for s in steps), steps
    center = world.offices["ops"].name
    assert f"Delivered: routed by Watch-Officer ({center})" in steps
    assert any(s.startswith("Read: by Principal (") for s in steps), steps


def test_a_sender_sees_its_own_people_and_only_the_side_of_others(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    public_id = _routed_and_read(database, clock, world)
    assert log_in(app_client, "sender").status_code == 303
    page = app_client.get(f"/track/{public_id}")
    assert page.status_code == 200
    steps = _steps(page.text)
    addressee = world.offices["president-elect"].name
    assert any(s.startswith("Accepted: by Sender (") for s in steps), steps
    assert f"Delivered: routed by {world.offices['ops'].name}" in steps
    assert f"Read: by {addressee}" in steps
    # No officer's or principal's name reaches the foreign office.
    assert "Watch-Officer" not in page.text
    assert "Principal (" not in page.text


def test_a_delivery_at_the_deadline_is_pouch_s_own(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(database, clock, world, precedence=Precedence.FLASH)
    clock.advance(timedelta(days=1))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).failed == 0
    assert log_in(app_client, "sender").status_code == 303
    steps = _steps(app_client.get(f"/track/{accepted.message.public_id}").text)
    assert "Delivered: by Pouch, automatically at its delivery time" in steps, steps


def test_a_held_card_names_its_officers_and_reason_and_a_release_its_officer(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    public_id = submit(database, clock, world, subject="Held for checking").message.public_id
    with database.transaction() as session:
        second = make_user(
            session, clock, "watch-two", [(Role.WATCH_OFFICER, world.offices["ops"])]
        )
        hold = holds.request_hold(
            session,
            public_id=public_id,
            officer_id=world.users[Role.WATCH_OFFICER].id,
            reason="verify the signatory",
            duration=timedelta(minutes=60),
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
        )
        hold_id, second_id = hold.id, second.id
    with database.transaction() as session:
        holds.approve_hold(
            session, public_id=public_id, hold_id=hold_id, officer_id=second_id, now=clock.now()
        )
    assert log_in(app_client, "watch-officer").status_code == 303
    card = re.search(
        rf'<li class="card[^"]*" id="msg-{public_id}">.*?</li>', app_client.get("/watch").text, re.S
    )
    assert card is not None
    assert "Asked by Watch-Officer, approved by Watch-Two:" in card.group(0)
    assert "verify the signatory" in card.group(0)

    with database.transaction() as session:
        holds.release_hold(
            session, public_id=public_id, hold_id=hold_id, officer_id=second_id, now=clock.now()
        )
    page = app_client.get(f"/watch/{public_id}").text
    assert re.search(r"ended <time[^>]*>[^<]*</time>[^<]*by Watch-Two", page), page
    assert "Hold released: by Watch-Two (" in " ".join(_steps(page))


def test_the_floor_lists_what_was_delivered_in_the_last_day_newest_first(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    old = submit(database, clock, world, subject="Delivered two days ago").message.public_id
    route(database, clock, world, old)
    clock.advance(timedelta(days=2))
    first = submit(database, clock, world, subject="Delivered this morning").message.public_id
    route(database, clock, world, first)
    clock.advance(timedelta(hours=3))
    second = submit(database, clock, world, subject="Delivered just now").message.public_id
    route(database, clock, world, second)
    queued = submit(database, clock, world, subject="Still in the queue").message.public_id
    assert log_in(app_client, "watch-officer").status_code == 303
    page = app_client.get("/watch").text
    recent = re.search(r'<section aria-labelledby="recent-h">.*?</section>', page, re.S)
    assert recent is not None
    listed = re.findall(r'<li id="recent-([^"]+)">', recent.group(0))
    assert listed == [second, first]
    assert old not in listed and queued not in listed
