"""Finding messages (``messages.search``) on both databases: words in the subject, body
and translations, filters, keyset pages, and what a search must not reveal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pouch import keyset
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import InvalidInput
from pouch.identity.models import Role
from pouch.language import desk as desk_service
from pouch.language import queue
from pouch.language.models import Translation
from pouch.messages import search
from pouch.messages import service as message_service
from pouch.messages.models import MessageState
from pouch.messages.rules import Precedence
from tests.factories import World
from tests.language.helpers import IRISH, make_desk, send
from tests.messages.helpers import route, submit


def found(
    database: Database,
    scope: search.Scope,
    criteria: search.Criteria,
    sort: search.Sort = search.Sort.NEWEST,
) -> list[str]:
    """Every subject found, following the pages to the end (pages of two)."""
    subjects: list[str] = []
    after = None
    with database.transaction(write=False) as session:
        while True:
            page = search.find(
                session, scope=scope, criteria=criteria, sort=sort, after=after, limit=2
            )
            subjects += [m.subject for m in page.rows]
            if page.next is None:
                return subjects
            after = page.next


def words(text: str) -> search.Criteria:
    return search.Criteria(text=text)


#: Both ways a search reads the messages on SQLite: from the matches (words in few
#: messages), and along the list's order keeping the matches (words in many).
BOTH_WAYS = pytest.mark.parametrize("common", [search.COMMON, 1], ids=["few", "many"])


@BOTH_WAYS
def test_words_are_found_in_subject_and_body_as_prefixes_all_required(
    database: Database,
    clock: ManualClock,
    world: World,
    common: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search, "COMMON", common)
    submit(database, clock, world, subject="Congratulations", body="From the embassy in Kyiv")
    clock.advance(timedelta(minutes=1))
    submit(database, clock, world, subject="Embassy reception", body="An invitation.")
    clock.advance(timedelta(minutes=1))
    submit(database, clock, world, subject="Лист з Києва", body="Вітаємо з перемогою")
    everything = search.everything()
    assert found(database, everything, words("embassy")) == [
        "Embassy reception",
        "Congratulations",
    ]
    assert found(database, everything, words("EMB")) == ["Embassy reception", "Congratulations"]
    assert found(database, everything, words("embassy kyiv")) == ["Congratulations"]
    assert found(database, everything, words("embassy paris")) == []
    assert found(database, everything, words("перемог")) == ["Лист з Києва"]
    assert found(database, everything, words("києва")) == ["Лист з Києва"]
    assert found(database, everything, search.Criteria()) == [
        "Лист з Києва",
        "Embassy reception",
        "Congratulations",
    ]
    assert found(database, everything, search.Criteria(), search.Sort.OLDEST) == [
        "Congratulations",
        "Embassy reception",
        "Лист з Києва",
    ]


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        "embassy\"' OR 1=1 --",
        "NEAR(embassy kyiv)",
        "subject: embassy",
        "* AND OR NOT ^",
        "emb*ssy & | ! ( ) :*",
        "\x00\u202e",
        "x" * 200,
    ],
)
def test_what_is_typed_never_reaches_the_index_as_syntax(
    database: Database, clock: ManualClock, world: World, hostile: str
) -> None:
    submit(database, clock, world, subject="Embassy", body="From the embassy in Kyiv")
    with database.transaction(write=False) as session:
        page = search.find(session, scope=search.everything(), criteria=words(hostile))
    text = ["embassy", "from", "the", "embassy", "in", "kyiv"]
    expected = all(any(t.startswith(w) for t in text) for w in search.words_of(hostile))
    assert [m.subject for m in page.rows] == (["Embassy"] if expected else [])


def test_a_finished_translation_is_searchable(
    database: Database, clock: ManualClock, world: World
) -> None:
    """A translator's submitted text is found, in the words of the translation."""
    public_id = send(database, clock, world, IRISH, language="ga")
    translator = world.users[Role.TRANSLATOR].id
    # As the desk's worker does: read, analyse with no transaction open, record.
    with database.transaction(write=False) as session:
        pending = desk_service.pending(session, limit=10, max_chars=50_000)
    outcomes = [desk_service.analyse(make_desk(), item) for item in pending]
    with database.transaction() as session:
        for outcome in outcomes:
            desk_service.record_outcome(session, outcome, now=clock.now())
        row_id = session.scalars(select(Translation.id)).one()
    assert found(database, search.everything(), words("congratulations")) == []
    with database.transaction() as session:
        queue.claim(session, translation_id=row_id, user_id=translator, now=clock.now())
        queue.submit(
            session,
            translation_id=row_id,
            user_id=translator,
            subject="Congratulations on your election",
            body="Mr President-elect, on behalf of the people of Ireland, congratulations.",
            source=None,
            now=clock.now(),
        )
    with database.transaction(write=False) as session:
        page = search.find(session, scope=search.everything(), criteria=words("ireland congrat"))
    assert [m.public_id for m in page.rows] == [public_id]


@BOTH_WAYS
def test_an_addressee_finds_a_queued_message_by_its_subject_never_by_its_body(
    database: Database,
    clock: ManualClock,
    world: World,
    common: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Otherwise a search would answer, word by word, what a held letter says."""
    monkeypatch.setattr(search, "COMMON", common)
    public_id = submit(
        database, clock, world, subject="Visit", body="The minister resigns tomorrow"
    ).message.public_id
    with database.transaction() as session:
        message = message_service.get_message(session, public_id)
        message.state = MessageState.HELD
    principal = world.users[Role.PRINCIPAL].id
    inbox = search.inbox(world.offices["president-elect"].id, reader_id=principal)
    sender = search.offices({world.offices["ie-taoiseach"].id})
    addressee = search.offices({world.offices["president-elect"].id})
    assert found(database, inbox, words("visit")) == ["Visit"]
    assert found(database, inbox, words("resigns")) == []
    assert found(database, addressee, words("resigns")) == []
    assert found(database, sender, words("resigns")) == ["Visit"]
    assert found(database, search.everything(), words("resigns")) == ["Visit"]
    with database.transaction() as session:
        message_service.get_message(session, public_id).state = MessageState.ACCEPTED
    route(database, clock, world, public_id)
    assert found(database, inbox, words("resigns")) == ["Visit"]
    assert found(database, addressee, words("resigns")) == ["Visit"]


def test_filters_narrow_by_office_precedence_state_language_and_day(
    database: Database, clock: ManualClock, world: World
) -> None:
    submit(database, clock, world, subject="Routine", precedence=Precedence.ROUTINE)
    clock.advance(timedelta(days=2))
    flash = submit(database, clock, world, subject="Flash", precedence=Precedence.FLASH)
    route(database, clock, world, flash.message.public_id)
    send(database, clock, world, IRISH, language="ga")
    everything = search.everything()
    today = clock.now().date()
    assert found(database, everything, search.Criteria(precedence=Precedence.FLASH)) == ["Flash"]
    assert found(database, everything, search.Criteria(state=MessageState.DELIVERED)) == ["Flash"]
    assert found(database, everything, search.Criteria(language="ga")) == [IRISH[0]]
    assert found(database, everything, search.Criteria(since=today)) == [IRISH[0], "Flash"]
    assert found(database, everything, search.Criteria(until=today - timedelta(days=1))) == [
        "Routine"
    ]
    assert found(database, everything, search.Criteria(until=today - timedelta(days=3))) == []
    dublin = world.offices["ie-taoiseach"].id
    ops = world.offices["ops"].id
    assert len(found(database, everything, search.Criteria(office=dublin))) == 3
    assert found(database, everything, search.Criteria(office=ops)) == []


def test_pages_follow_the_order_and_a_new_message_shifts_nothing(
    database: Database, clock: ManualClock, world: World
) -> None:
    """Keyset pages: a message accepted while someone pages appears on no page twice and
    hides none (an offset would have shifted every row by one)."""
    for number in range(5):
        clock.advance(timedelta(seconds=1))
        submit(database, clock, world, subject=f"Letter {number}")
    with database.transaction(write=False) as session:
        first = search.find(session, scope=search.everything(), criteria=search.Criteria(), limit=2)
    assert [m.subject for m in first.rows] == ["Letter 4", "Letter 3"]
    clock.advance(timedelta(seconds=1))
    submit(database, clock, world, subject="Letter 5")
    rest: list[str] = []
    after = first.next
    with database.transaction(write=False) as session:
        while after is not None:
            page = search.find(
                session, scope=search.everything(), criteria=search.Criteria(), after=after, limit=2
            )
            rest += [m.subject for m in page.rows]
            after = page.next
    assert rest == ["Letter 2", "Letter 1", "Letter 0"]


def test_the_watch_floor_order_is_precedence_then_deadline(
    database: Database, clock: ManualClock, world: World
) -> None:
    for precedence in (Precedence.ROUTINE, Precedence.FLASH, Precedence.PRIORITY):
        submit(database, clock, world, subject=precedence.value, precedence=precedence)
    clock.advance(timedelta(minutes=1))
    submit(database, clock, world, subject="second flash", precedence=Precedence.FLASH)
    assert found(database, search.queue(), search.Criteria(), search.Sort.PRECEDENCE) == [
        "FLASH",
        "second flash",
        "PRIORITY",
        "ROUTINE",
    ]


def test_the_inbox_order_puts_what_the_reader_has_not_read_first(
    database: Database, clock: ManualClock, world: World
) -> None:
    ids = []
    for number in range(3):
        clock.advance(timedelta(seconds=1))
        ids.append(submit(database, clock, world, subject=f"Letter {number}").message.public_id)
        route(database, clock, world, ids[-1])
    principal = world.users[Role.PRINCIPAL].id
    with database.transaction() as session:
        message = message_service.get_message(session, ids[2])
        message_service.mark_read(session, message=message, user_id=principal, now=clock.now())
    inbox = search.inbox(world.offices["president-elect"].id, reader_id=principal)
    assert found(database, inbox, search.Criteria(), search.Sort.UNREAD) == [
        "Letter 1",
        "Letter 0",
        "Letter 2",
    ]
    staff = search.inbox(
        world.offices["president-elect"].id, reader_id=world.users[Role.PRINCIPAL_STAFF].id
    )
    assert found(database, staff, search.Criteria(), search.Sort.UNREAD) == [
        "Letter 2",
        "Letter 1",
        "Letter 0",
    ]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 at all!",
        keyset.encode(["2026-01-01T00:00:00+00:00"]),
        keyset.encode([1, 2]),
        keyset.encode(["yesterday", 3]),
        keyset.encode(["2026-01-01T00:00:00+00:00", "3"]),
        keyset.encode(["2026-01-01T00:00:00+00:00", True]),
        keyset.encode(["2026-01-01T00:00:00+00:00", 2**64]),
        "e30",  # {}
        "A" * 500,
    ],
)
def test_a_cursor_that_is_not_this_lists_is_refused_by_name(
    database: Database, cursor: str
) -> None:
    with database.transaction(write=False) as session, pytest.raises(InvalidInput) as refused:
        search.find(session, scope=search.everything(), criteria=search.Criteria(), after=cursor)
    assert [e.field for e in refused.value.field_errors] == ["after"]
    assert re.search("start again", refused.value.detail)


def test_the_api_pages_a_search_within_what_the_caller_may_see(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    for number in range(3):
        clock.advance(timedelta(seconds=1))
        submit(database, clock, world, subject=f"Embassy letter {number}", body="Nothing else")
    held = submit(database, clock, world, subject="Visit", body="The minister resigns")
    first = app_client.get(
        "/api/messages", params={"q": "embassy", "limit": 2}, headers=world.auth(Role.AUDITOR)
    )
    assert first.status_code == 200, first.text
    assert [m["subject"] for m in first.json()["items"]] == ["Embassy letter 2", "Embassy letter 1"]
    rest = app_client.get(
        "/api/messages",
        params={"q": "embassy", "limit": 2, "after": first.json()["next"]},
        headers=world.auth(Role.AUDITOR),
    ).json()
    assert [m["subject"] for m in rest["items"]] == ["Embassy letter 0"]
    assert rest["next"] is None
    # The addressee sees the queued letter exists, never its body, and cannot find it by it.
    principal = world.auth(Role.PRINCIPAL)
    shown = app_client.get("/api/messages", params={"q": "visit"}, headers=principal).json()
    assert [(m["id"], m["body_text"]) for m in shown["items"]] == [(held.message.public_id, "")]
    assert (
        app_client.get("/api/messages", params={"q": "resigns"}, headers=principal).json()["items"]
        == []
    )
    # A sender finds what its office sent or received.
    assert (
        len(app_client.get("/api/messages", headers=world.auth(Role.SENDER)).json()["items"]) == 4
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x" * 201}, "query.q"),
        ({"office": "0"}, "query.office"),
        ({"office": str(2**63)}, "query.office"),
        ({"precedence": "URGENT"}, "query.precedence"),
        ({"state": "lost"}, "query.state"),
        ({"language": "english"}, "query.language"),
        ({"since": "yesterday"}, "query.since"),
        ({"limit": "1000"}, "query.limit"),
        ({"sort": "random"}, "query.sort"),
        ({"after": "%%%"}, "after"),
        ({"unknown": "1"}, "query.unknown"),
    ],
)
def test_the_api_refuses_a_bad_search_by_name(
    app_client: TestClient, world: World, params: dict[str, str], field: str
) -> None:
    answer = app_client.get("/api/messages", params=params, headers=world.auth(Role.AUDITOR))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in answer.json()["errors"]]
