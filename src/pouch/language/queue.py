"""The translators' queue: what waits for a person, and claim, release, submit.

A translation the desk could not machine-translate waits here (``queued``);
a machine one may be taken for review. Translators claim one at a time
(another translator's claim is refused until it is released), and submit the
final text, which is marked reviewed by them and logged as
``translation.added``. A claim is given back by its translator, or by whoever
may release others' claims (``pouch.language.access``). A translator on the
interpreter roster takes only the language pairs listed there; others take any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from pouch import keyset
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pouch.language import roster
from pouch.language.models import Translation, TranslationStatus
from pouch.language.translations import (
    MAX_CREDIT,
    UNDETERMINED,
    TranslationView,
    join_text,
    record_added,
    translator_name,
    view,
)
from pouch.ledger.events import format_time
from pouch.messages.models import Message
from pouch.messages.search import precedence_rank


@dataclass(frozen=True)
class QueueEntry:
    translation: TranslationView
    message: Message


#: Translations per page of the queue.
PAGE_SIZE = 25

#: The queue's order: the most urgent message first, then the nearest deadline.
ORDER = [
    keyset.Key(precedence_rank(), "int"),
    keyset.Key(Message.deliver_by, "datetime"),
    keyset.Key(Translation.id, "int"),
]


def _waiting(*, include_machine: bool, language: str | None) -> Select[Any]:
    statuses = [TranslationStatus.QUEUED, TranslationStatus.CLAIMED]
    if include_machine:
        statuses.append(TranslationStatus.MACHINE)
    found = (
        select(Translation)
        .join(Message, Message.id == Translation.message_id)
        .where(Translation.status.in_(statuses))
    )
    if language is not None:
        found = found.where(or_(Translation.source == language, Translation.target == language))
    return found


def entries(session: Session, *, include_machine: bool = False) -> list[QueueEntry]:
    """Translations waiting for a person (and being done by one), most urgent message first.

    With ``include_machine``, also the machine translations nobody has reviewed.
    """
    found = _waiting(include_machine=include_machine, language=None)
    rows = session.scalars(found.order_by(*(key.ordered() for key in ORDER))).all()
    return [entry_of(session, row) for row in rows]


def page(
    session: Session,
    *,
    include_machine: bool = False,
    language: str | None = None,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> keyset.Page[QueueEntry]:
    """A page of ``entries``, from or to ``language`` if given, after the cursor ``after``."""
    found = keyset.ordered(
        _waiting(include_machine=include_machine, language=language), ORDER, after
    )
    rows = keyset.page(session.execute(found.limit(limit + 1)).all(), ORDER, limit=limit)
    return keyset.Page([entry_of(session, row) for row in rows.rows], rows.next)


def languages(session: Session, *, include_machine: bool = False) -> list[str]:
    """The languages of what waits, from or to: the choices of the queue's filter."""
    found = _waiting(include_machine=include_machine, language=None).subquery()
    pairs = session.execute(select(found.c.source, found.c.target).distinct()).all()
    return sorted({code for pair in pairs for code in pair})


def entry_of(session: Session, row: Translation) -> QueueEntry:
    """A translation as the queue lists it, with its message."""
    return QueueEntry(view(session, row), message_of(session, row))


def entry(session: Session, *, translation_id: int) -> QueueEntry:
    """One translation of the queue (or done), with its message."""
    return entry_of(session, get_translation(session, translation_id))


def get_translation(
    session: Session, translation_id: int, *, for_update: bool = False
) -> Translation:
    """One translation; ``for_update`` locks it against a concurrent claim."""
    query = select(Translation).where(Translation.id == translation_id)
    if for_update:
        # Two translators claiming at once: the second waits, then sees the claim.
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"no translation {translation_id}")
    return row


def message_of(session: Session, row: Translation) -> Message:
    """The message a translation is of."""
    message = session.get(Message, row.message_id)
    assert message is not None  # the foreign key cascades
    return message


def _check_pair(session: Session, user_id: int, row: Translation) -> None:
    """A translator on the roster takes only the pairs listed there; others take any."""
    pairs = roster.user_language_pairs(session, user_id)
    if pairs is None or row.source == UNDETERMINED:
        return
    if frozenset({row.source, row.target}) not in pairs:
        listed = ", ".join(sorted("↔".join(sorted(pair)) for pair in pairs)) or "none"
        raise PermissionDenied(
            f"this translation is {row.source}→{row.target}; "
            f"your roster entry lists the pairs {listed}"
        )


def claim(session: Session, *, translation_id: int, user_id: int, now: datetime) -> Translation:
    """Take a queued translation, or a machine one to review; one translator at a time."""
    row = get_translation(session, translation_id, for_update=True)
    if row.status == TranslationStatus.REVIEWED:
        raise Conflict(f"translation {row.id} is already reviewed")
    if row.status == TranslationStatus.CLAIMED:
        if row.translator_user_id == user_id:
            return row
        assert row.claimed_at is not None
        raise Conflict(
            f"{translator_name(session, row.translator_user_id)} claimed translation {row.id} "
            f"at {format_time(row.claimed_at)}"
        )
    _check_pair(session, user_id, row)
    if row.status == TranslationStatus.MACHINE:
        # The machine text stays shown until the review replaces it; it is the draft.
        row.draft = row.text
    row.status = TranslationStatus.CLAIMED
    row.translator_user_id = user_id
    row.claimed_at = now
    session.flush()
    return row


def release(
    session: Session, *, translation_id: int, user_id: int, may_release_others: bool
) -> Translation:
    """Give a claimed translation back: by its translator, or by a watch officer."""
    row = get_translation(session, translation_id, for_update=True)
    if row.status != TranslationStatus.CLAIMED:
        raise Conflict(f"translation {row.id} is not claimed (it is {row.status.value})")
    if row.translator_user_id != user_id and not may_release_others:
        raise PermissionDenied(
            f"{translator_name(session, row.translator_user_id)} claimed this translation; "
            "only they or a watch officer may release it"
        )
    row.status = TranslationStatus.MACHINE if row.text is not None else TranslationStatus.QUEUED
    row.draft = None
    row.translator_user_id = None
    row.claimed_at = None
    session.flush()
    return row


def submit(
    session: Session,
    *,
    translation_id: int,
    user_id: int,
    subject: str,
    body: str,
    source: str | None,
    now: datetime,
) -> Translation:
    """The claiming translator's final text: the translation is reviewed, by them, and logged."""
    row = get_translation(session, translation_id, for_update=True)
    if row.status == TranslationStatus.REVIEWED:
        raise Conflict(f"translation {row.id} is already reviewed")
    if row.status != TranslationStatus.CLAIMED:
        raise Conflict(f"claim translation {row.id} before submitting it")
    if row.translator_user_id != user_id:
        raise Conflict(
            f"{translator_name(session, row.translator_user_id)} claimed translation {row.id}; "
            "only they may submit it"
        )
    if source is not None:
        if source == row.target:
            raise InvalidInput(
                f"the source language cannot be the target ({row.target})",
                field_errors=[FieldError("body.source", "same as the target")],
            )
        row.source = source
    name = translator_name(session, user_id)
    credit = (
        f"reviewed by {name}, from a machine draft by {row.credit}"
        if row.draft is not None and row.credit
        else f"translated by {name}"
    )
    row.text = join_text(subject, body)
    row.credit = credit[:MAX_CREDIT]
    row.status = TranslationStatus.REVIEWED
    row.completed_at = now
    session.flush()
    record_added(session, message_of(session, row), row, now=now, actor_user_id=user_id)
    return row
