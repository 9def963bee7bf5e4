"""JSON API of the language desk: a message's translations, the translators' queue, the roster.

Who may do what is ``pouch.language.access``'s: a message's translations are
seen by whoever may see the message (its sender office, its addressee office,
the operations staff); translators and watch officers see the queue;
translators claim and submit; a claim is released by its translator or a watch
officer. Administrators and protocol officers keep the interpreter roster,
which the ministry's staff read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from pouch.errors import NotFound
from pouch.identity.service import Actor
from pouch.language import access
from pouch.language import queue as queue_service
from pouch.language import roster as roster_service
from pouch.language import translations as translations_service
from pouch.language.models import Interpreter, LanguageDetection
from pouch.language.roster import Window
from pouch.language.schemas import (
    CandidateOut,
    DetectionOut,
    InterpreterIn,
    InterpreterOut,
    InterpreterPatch,
    QueueItemOut,
    SubmitIn,
    TextOut,
    TranslatedMessageOut,
    TranslationOut,
    WindowOut,
    WorkItemOut,
)
from pouch.language.translations import TranslationView
from pouch.messages import access as message_access
from pouch.messages import service as message_service
from pouch.messages import views as message_views
from pouch.messages.models import Message
from pouch.schema import RowId
from pouch.web.deps import AppClock, Authorize, DbSession

router = APIRouter(prefix="/api", tags=["language"])

AnyUser = Annotated[Actor, Depends(Authorize(where="any"))]
QueueReader = Annotated[Actor, Depends(Authorize(*access.QUEUE_READER_ROLES))]
Translator = Annotated[Actor, Depends(Authorize(*access.TRANSLATOR_ROLES))]
RosterReader = Annotated[Actor, Depends(Authorize(*access.ROSTER_READER_ROLES))]
RosterEditor = Annotated[Actor, Depends(Authorize(*access.ROSTER_EDITOR_ROLES))]


def detection_out(detection: LanguageDetection) -> DetectionOut:
    return DetectionOut(
        language=detection.language,
        confidence=detection.confidence,
        status=detection.status,
        alternatives=[CandidateOut(**candidate) for candidate in detection.alternatives],
        reason=detection.reason,
        detected_at=detection.detected_at,
    )


def translation_out(view: TranslationView, *, show_error: bool) -> TranslationOut:
    return TranslationOut(
        id=view.id,
        source=view.source,
        target=view.target,
        status=view.status,
        text=(
            TextOut(subject=view.subject, body=view.body or "")
            if view.subject is not None
            else None
        ),
        draft=(
            TextOut(subject=view.draft_subject, body=view.draft_body or "")
            if view.draft_subject is not None
            else None
        ),
        credit=view.credit,
        translator=view.translator,
        made_by=view.made_by,
        # Engine errors name internal servers: for the operations center only.
        error=view.error if show_error else None,
        created_at=view.created_at,
        claimed_at=view.claimed_at,
        completed_at=view.completed_at,
        ledger_index=view.ledger_index,
    )


def translated_message_out(
    session: Session, message: Message, *, viewer: Actor | None, show_errors: bool
) -> TranslatedMessageOut:
    """The message JSON of the messages API, with its language and translations; what
    the viewer may not yet read of it (``access.content_withheld``) is withheld here too."""
    shown = message_views.message_out(session, message, viewer=viewer)
    if viewer is not None and message_access.content_withheld(viewer, message):
        return TranslatedMessageOut(**shown.model_dump(), detection=None, translations=[])
    language = translations_service.translations_for(session, message.id)
    return TranslatedMessageOut(
        **shown.model_dump(),
        detection=detection_out(language.detection) if language.detection else None,
        translations=[
            translation_out(view, show_error=show_errors) for view in language.translations
        ],
    )


def queue_item_out(entry: queue_service.QueueEntry) -> QueueItemOut:
    message = entry.message
    return QueueItemOut(
        translation=translation_out(entry.translation, show_error=True),
        message=message.public_id,
        subject=message.subject,
        precedence=message.precedence,
        deliver_by=message.deliver_by,
    )


@router.get("/messages/{public_id}/translations", response_model=TranslatedMessageOut)
def message_translations(
    public_id: str, session: DbSession, actor: AnyUser
) -> TranslatedMessageOut:
    """The message with its detected language and its translations, each saying which engine
    or person made it; to whoever may see the message."""
    message = message_service.get_message(session, public_id)
    if not message_access.may_see(actor, message):
        raise NotFound(f"no message {public_id!r}")
    show_errors = access.sees_engine_errors(actor)
    return translated_message_out(session, message, viewer=actor, show_errors=show_errors)


@router.get("/translations/queue", response_model=list[QueueItemOut])
def translation_queue(
    session: DbSession, _: QueueReader, include_machine: bool = False
) -> list[QueueItemOut]:
    """Translations waiting for a translator or being done by one, most urgent message first;
    with include_machine, also the machine translations nobody has reviewed (translators and
    watch officers)."""
    return [
        queue_item_out(entry)
        for entry in queue_service.entries(session, include_machine=include_machine)
    ]


@router.get("/translations/{translation_id}", response_model=WorkItemOut)
def get_translation(translation_id: RowId, session: DbSession, _: QueueReader) -> WorkItemOut:
    """One translation with the original to translate (translators and watch officers)."""
    entry = queue_service.entry(session, translation_id=translation_id)
    return WorkItemOut(
        **queue_item_out(entry).model_dump(),
        original_body=entry.message.body_text,
        declared_language=entry.message.declared_language,
    )


@router.post("/translations/{translation_id}/claim", response_model=QueueItemOut)
def claim_translation(
    translation_id: RowId, session: DbSession, clock: AppClock, actor: Translator
) -> QueueItemOut:
    """Take a queued translation, or a machine one to review; another translator's claim is
    refused (409) until it is released."""
    row = queue_service.claim(
        session, translation_id=translation_id, user_id=actor.user_id, now=clock.now()
    )
    return queue_item_out(queue_service.entry_of(session, row))


@router.post("/translations/{translation_id}/release", response_model=QueueItemOut)
def release_translation(
    translation_id: RowId, session: DbSession, actor: QueueReader
) -> QueueItemOut:
    """Give a claimed translation back to the queue (its translator, or a watch officer)."""
    row = queue_service.release(
        session,
        translation_id=translation_id,
        user_id=actor.user_id,
        may_release_others=access.releases_any_claim(actor),
    )
    return queue_item_out(queue_service.entry_of(session, row))


@router.post("/translations/{translation_id}/submit", response_model=QueueItemOut)
def submit_translation(
    translation_id: RowId, data: SubmitIn, session: DbSession, clock: AppClock, actor: Translator
) -> QueueItemOut:
    """The final text, by the translator who claimed it: marked reviewed by them, and logged
    as translation.added with its SHA-256."""
    row = queue_service.submit(
        session,
        translation_id=translation_id,
        user_id=actor.user_id,
        subject=data.subject,
        body=data.body,
        source=data.source,
        now=clock.now(),
    )
    return queue_item_out(queue_service.entry_of(session, row))


# --- the interpreter roster -----------------------------------------------------------


def interpreter_out(interpreter: Interpreter) -> InterpreterOut:
    return InterpreterOut(
        id=interpreter.id,
        user_id=interpreter.user_id,
        name=interpreter.name,
        email=interpreter.email,
        language_pairs=interpreter.language_pairs,
        availability=[
            WindowOut(start=window.start, end=window.end)
            for window in roster_service.windows_of(interpreter)
        ],
        max_minutes_per_day=interpreter.max_minutes_per_day,
        time_zone=interpreter.time_zone,
        active=interpreter.active,
    )


@router.get("/interpreters", response_model=list[InterpreterOut])
def list_interpreters(
    session: DbSession, _: RosterReader, include_inactive: bool = False
) -> list[InterpreterOut]:
    """The interpreter roster the call desk schedules from (the ministry's staff)."""
    return [
        interpreter_out(i)
        for i in roster_service.list_interpreters(session, include_inactive=include_inactive)
    ]


@router.post("/interpreters", response_model=InterpreterOut, status_code=status.HTTP_201_CREATED)
def create_interpreter(data: InterpreterIn, session: DbSession, _: RosterEditor) -> InterpreterOut:
    """Add an interpreter: language pairs, availability, a daily minutes cap (administrators
    and protocol officers)."""
    entry = roster_service.RosterEntry(
        name=data.name,
        email=data.email,
        user_id=data.user_id,
        language_pairs=data.language_pairs,
        availability=[Window(w.start, w.end) for w in data.availability],
        max_minutes_per_day=data.max_minutes_per_day,
        time_zone=data.time_zone,
        active=data.active,
    )
    return interpreter_out(roster_service.create_interpreter(session, entry=entry))


@router.get("/interpreters/{interpreter_id}", response_model=InterpreterOut)
def get_interpreter(interpreter_id: RowId, session: DbSession, _: RosterReader) -> InterpreterOut:
    """One interpreter of the roster."""
    return interpreter_out(roster_service.get_interpreter(session, interpreter_id))


@router.patch("/interpreters/{interpreter_id}", response_model=InterpreterOut)
def update_interpreter(
    interpreter_id: RowId, patch: InterpreterPatch, session: DbSession, _: RosterEditor
) -> InterpreterOut:
    """Change an interpreter's languages, availability, cap or details (administrators and
    protocol officers)."""
    changes = patch.model_dump(exclude_unset=True)
    if patch.availability is not None:
        changes["availability"] = [Window(w.start, w.end) for w in patch.availability]
    return interpreter_out(
        roster_service.update_interpreter(session, interpreter_id=interpreter_id, changes=changes)
    )


@router.delete("/interpreters/{interpreter_id}", status_code=status.HTTP_204_NO_CONTENT)
def retire_interpreter(interpreter_id: RowId, session: DbSession, _: RosterEditor) -> None:
    """Take an interpreter off the roster; kept, inactive, for the calls already booked
    (administrators and protocol officers)."""
    roster_service.retire_interpreter(session, interpreter_id=interpreter_id)
