"""A message's translations: how one is stored, how it is logged, how a reader sees it.

The stored text of a translation is its subject, a blank line, and its body
(``join_text`` / ``split_text``). A completed translation (an engine's, or a
translator's) is the message's event ``translation.added``
(``record_added``), which carries the SHA-256 of its text, never the text.
Readers see each translation with one line saying which engine or person made
it, or who is on it (``made_by``); the inbox and the API read a message's
detected language and its translations with ``translations_for``.

>>> split_text(join_text("Congratulations", "Dear President-elect,\\n\\nWe rejoice."))
('Congratulations', 'Dear President-elect,\\n\\nWe rejoice.')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.events import EventKind
from pouch.identity.models import User
from pouch.language.models import LanguageDetection, Translation, TranslationStatus
from pouch.messages import service as message_service
from pouch.messages.models import Message

#: ISO 639-2 "undetermined": the source of a message whose language nobody could tell.
UNDETERMINED = "und"
EVENT_KIND = EventKind.TRANSLATION_ADDED
#: The credit column's width.
MAX_CREDIT = 300


def join_text(subject: str, body: str) -> str:
    """A translation's stored text: its subject (one line), a blank line, its body."""
    return f"{subject}\n\n{body}"


def split_text(text: str) -> tuple[str, str]:
    subject, _, body = text.partition("\n\n")
    return subject, body


def text_hash(text: str) -> str:
    """What the ledger keeps of a translation: the SHA-256 of its stored text, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_added(
    session: Session,
    message: Message,
    row: Translation,
    *,
    now: datetime,
    actor_user_id: int | None,
) -> None:
    """Log a completed translation as the message's ``translation.added`` event."""
    assert row.text is not None
    by: dict[str, Any] = (
        {"translator": actor_user_id} if actor_user_id is not None else {"engine": row.credit}
    )
    event = message_service.record(
        session,
        message,
        EVENT_KIND,
        at=now,
        actor_user_id=actor_user_id,
        details={
            "translation": row.id,
            "source": row.source,
            "target": row.target,
            "status": row.status.value,
            "sha256": text_hash(row.text),
            **by,
        },
    )
    row.ledger_index = event.ledger_index


@dataclass(frozen=True)
class TranslationView:
    """A translation as a reader sees it, with a line that says who made it."""

    id: int
    source: str
    target: str
    status: TranslationStatus
    subject: str | None
    body: str | None
    draft_subject: str | None
    draft_body: str | None
    credit: str | None
    translator: str | None
    translator_user_id: int | None
    made_by: str
    error: str | None
    created_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None
    ledger_index: int | None


@dataclass(frozen=True)
class MessageLanguage:
    """A message's language and its translations, for the inbox and the API."""

    detection: LanguageDetection | None
    translations: list[TranslationView]


def translator_name(session: Session, user_id: int | None) -> str | None:
    """The display name of whoever made or holds a translation."""
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.display_name if user is not None else f"user {user_id}"


def made_by(row: Translation, translator: str | None) -> str:
    """One line for the reader: which engine or person made the translation, or who is on it."""
    if row.status == TranslationStatus.MACHINE:
        return f"Machine translation by {row.credit}; not reviewed by a person"
    if row.status == TranslationStatus.REVIEWED and row.credit:
        return row.credit[0].upper() + row.credit[1:]
    if row.status == TranslationStatus.CLAIMED:
        if row.text is not None:
            return f"Machine translation by {row.credit}; {translator} is reviewing it"
        return f"{translator} is translating it"
    return "Waiting for a translator"


def view(session: Session, row: Translation) -> TranslationView:
    """A translation as a reader sees it."""
    translator = translator_name(session, row.translator_user_id)
    subject, body = split_text(row.text) if row.text is not None else (None, None)
    draft_subject, draft_body = split_text(row.draft) if row.draft is not None else (None, None)
    return TranslationView(
        id=row.id,
        source=row.source,
        target=row.target,
        status=row.status,
        subject=subject,
        body=body,
        draft_subject=draft_subject,
        draft_body=draft_body,
        credit=row.credit,
        translator=translator,
        translator_user_id=row.translator_user_id,
        made_by=made_by(row, translator),
        error=row.error,
        created_at=row.created_at,
        claimed_at=row.claimed_at,
        completed_at=row.completed_at,
        ledger_index=row.ledger_index,
    )


def translations_for(session: Session, message_id: int) -> MessageLanguage:
    """The message's detected language and its translations, oldest first.

    ``message_id`` is the message's row id (``Message.id``).
    """
    rows = session.scalars(
        select(Translation).where(Translation.message_id == message_id).order_by(Translation.id)
    )
    return MessageLanguage(
        detection=session.get(LanguageDetection, message_id),
        translations=[view(session, row) for row in rows],
    )
