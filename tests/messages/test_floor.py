"""The watch floor a page at a time: however long the backlog, the floor draws one page
of the queue, most urgent first, and counts the rest in the database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import service as message_service
from pouch.messages.models import MessageState
from pouch.messages.rules import Precedence
from pouch.settings import Settings
from tests.factories import World
from tests.messages.helpers import submit


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Pages of two queued messages (``POUCH_WATCH_PAGE_SIZE``)."""
    return settings.model_copy(update={"watch_page_size": 2})


def _cards(html: str) -> list[str]:
    return re.findall(r'<li class="card[^"]*" id="msg-(m-[0-9a-f]+)"', html)


def test_the_floor_draws_a_page_of_the_queue_and_counts_all_of_it(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
) -> None:
    sent = {}
    for number, precedence in enumerate(
        [
            Precedence.ROUTINE,
            Precedence.FLASH,
            Precedence.PRIORITY,
            Precedence.ROUTINE,
            Precedence.IMMEDIATE,
        ]
    ):
        clock.advance(timedelta(minutes=1))
        accepted = submit(database, clock, world, subject=f"Letter {number}", precedence=precedence)
        sent[accepted.message.public_id] = number
    with database.transaction() as session:
        held = message_service.get_message(session, next(iter(sent)))
        held.state = MessageState.HELD
    watch = world.auth(Role.WATCH_OFFICER)
    pages, url = [], "/watch"
    while url:
        page = app_client.get(url, headers=watch)
        assert page.status_code == 200, page.text
        assert "<strong>5</strong> in the queue" in page.text
        assert "<strong>1</strong> held" in page.text
        pages.append([sent[m] for m in _cards(page.text)])
        following = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = following.group(1).replace("&amp;", "&") if following else ""
        if following:
            # The polled fragment stays on the same page as the officer.
            cursor = following.group(1).split("after=", 1)[1]
            fragment = app_client.get(f"/watch/queue?after={cursor}", headers=watch)
            assert f'hx-get="/watch/queue?after={cursor}"' in fragment.text
    # FLASH, IMMEDIATE, then PRIORITY, then the two ROUTINE by deadline.
    assert pages == [[1, 4], [2, 0], [3]]


def test_a_cursor_that_is_not_the_floor_s_is_refused(app_client: TestClient, world: World) -> None:
    answer = app_client.get("/watch?after=nonsense", headers=world.auth(Role.WATCH_OFFICER))
    assert answer.status_code == 400 and "after" in answer.text
