"""A sender office's list, newest first, read as two halves merged (issue 19): what it
sent and what it received, each from its own index, one page at a time."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import acceptance
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.factories import World
from tests.messages.helpers import LIMITS, submit


def test_a_sender_office_pages_through_what_it_sent_and_received_in_one_order(
    app_client: TestClient, world: World, database: Database, clock: ManualClock
) -> None:
    irish = world.offices["ie-taoiseach"].id
    principal = world.offices["president-elect"].id
    accepted = []
    for n in range(7):
        clock.advance(timedelta(minutes=1))
        if n % 3 == 2:  # now and then a letter to the office, among those it sent
            with database.transaction() as session:
                letter = acceptance.accept(
                    session,
                    submission=acceptance.Submission(
                        sender_office_id=principal,
                        addressee_office_id=irish,
                        subject=f"Letter {n}",
                        body="…",
                        body_format="text",
                        language="en",
                        precedence=Precedence.ROUTINE,
                        security_label=None,
                    ),
                    submitted_by_user_id=None,
                    signature=None,
                    idempotency_key=None,
                    request_hash=None,
                    now=clock.now(),
                    timetable=DEFAULT_TIMETABLE,
                    limits=LIMITS,
                )
        else:
            letter = submit(database, clock, world, subject=f"Letter {n}")
        accepted.append(letter.message.public_id)
    sender = world.auth(Role.SENDER)

    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = app_client.get("/api/messages", params=params, headers=sender).json()
        seen += [item["id"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    oldest_first = app_client.get("/api/messages", params={"sort": "oldest"}, headers=sender)

    assert seen == accepted[::-1]
    assert [item["id"] for item in oldest_first.json()["items"]] == accepted
