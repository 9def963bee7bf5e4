"""The translators' queue page: narrowed to a language, read a page at a time, and the
browser sent back to the translation it acted on."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.language import desk as desk_service
from pouch.language import queue as queue_service
from pouch.messages.rules import Precedence
from tests.factories import World
from tests.language.helpers import FRENCH, make_desk, send

GERMAN = ("Glückwunsch zur Wahl", "Sehr geehrter Herr gewählter Präsident, ich gratuliere Ihnen.")


def _queue(database: Database, clock: ManualClock, world: World) -> dict[str, list[str]]:
    """Three French letters and two German ones waiting for a translator."""
    sent: dict[str, list[str]] = {"fr": [], "de": []}
    for number, (language, letter) in enumerate(
        [("fr", FRENCH), ("de", GERMAN), ("fr", FRENCH), ("de", GERMAN), ("fr", FRENCH)]
    ):
        clock.advance(timedelta(minutes=1))
        subject, body = letter
        precedence = Precedence.FLASH if number == 4 else Precedence.ROUTINE
        sent[language].append(
            send(
                database,
                clock,
                world,
                (f"{subject} {number}", body),
                language=language,
                precedence=precedence,
            )
        )
    desk = make_desk()
    with database.transaction() as session:
        desk_service.process(session, desk=desk, now=clock.now())
    return sent


def _listed(html: str) -> list[str]:
    return re.findall(r'data-message="([^"]+)"', html)


def test_the_queue_is_narrowed_to_a_language_and_read_a_page_at_a_time(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = _queue(database, clock, world)
    translator = world.auth(Role.TRANSLATOR)
    every = _listed(app_client.get("/translations", headers=translator).text)
    # The FLASH letter first, then by deadline: the order the desk works in.
    assert every[0] == sent["fr"][2] and sorted(every) == sorted(sent["fr"] + sent["de"])

    french = app_client.get("/translations?language=fr", headers=translator)
    assert french.status_code == 200 and sorted(_listed(french.text)) == sorted(sent["fr"])
    assert '<option value="de">' in french.text and '<option value="fr" selected>' in french.text

    monkeypatch.setattr(queue_service, "PAGE_SIZE", 2)
    pages, url = [], "/translations"
    while url:
        page = app_client.get(url, headers=translator)
        assert page.status_code == 200, page.text
        pages.append(_listed(page.text))
        following = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = following.group(1).replace("&amp;", "&") if following else ""
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [m for p in pages for m in p] == every


@pytest.mark.parametrize("language", ["french", "f", "fr'--", "FR", "1234"])
def test_a_language_that_is_not_a_code_is_refused_by_name(
    app_client: TestClient, world: World, language: str
) -> None:
    answer = app_client.get(
        "/translations", params={"language": language}, headers=world.auth(Role.TRANSLATOR)
    )
    assert answer.status_code == 400
    assert "language" in answer.text


def test_after_a_claim_the_translator_is_sent_back_to_that_language(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    sent = _queue(database, clock, world)
    with database.transaction(write=False) as session:
        german = [e for e in queue_service.entries(session) if e.message.public_id in sent["de"]]
    translation_id = german[0].translation.id
    translator = world.auth(Role.TRANSLATOR)
    done = app_client.post(
        f"/translations/{translation_id}/claim", headers=translator, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == (
        f"/translations?language=de&notice=claimed#translation-{translation_id}"
    )
