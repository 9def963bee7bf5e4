"""The language desk's service: identify, translate, queue for people, keep the roster.

A message is identified and translated after it is accepted, beside it: no
function here is called by acceptance or delivery, none locks a message row,
and none can fail a message. The round, for each message without a
``LanguageDetection``:

1. ``pending`` reads its subject and the start of its body (never more than
   machine translation would take, so a 10 MB body costs what a page costs);
2. ``analyse`` identifies it and machine-translates it into the target
   language, outside any transaction (an engine may take seconds), and never
   raises: every failure becomes a reason;
3. ``record_outcome`` stores the detection and, when the message is not
   already in the target language, one ``Translation``: ``machine`` with the
   engine's credit, or ``queued`` for a translator with the reasons no engine
   could do it. A completed translation is the message's event
   ``translation.added``, which carries the SHA-256 of its text, never the text.

The stored text of a translation is its subject, a blank line, and its body
(``join_text`` / ``split_text``). Translators then ``claim`` a queued (or a
machine) translation, one at a time, and ``submit`` the final text, which is
marked reviewed by them. The interpreter roster, shared with the call desk,
lives here too.

Which language a message is in (``judge``):

- the detector's answer when it is ``certain``, or ``declared`` (the sender's
  declared language, supported by the text);
- the declared language, taken on trust, when it is outside the detector's
  languages: lingua chooses only among those, so it can neither confirm nor
  refute it (an Irish letter reads as "certain Swahili" to a detector that
  has no Irish);
- otherwise ``und``, undetermined: a person decides.

>>> split_text(join_text("Congratulations", "Dear President-elect,\\n\\nWe rejoice."))
('Congratulations', 'Dear President-elect,\\n\\nWe rejoice.')
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.identity.models import User
from pouch.language.detect import (
    DEFAULT_LANGUAGES,
    Candidate,
    Detection,
    DetectionStatus,
    LanguageDetector,
    base_code,
    language_set,
)
from pouch.language.models import Interpreter, LanguageDetection, Translation, TranslationStatus
from pouch.language.translate import TranslationChain, TranslationError, build_chain
from pouch.ledger.events import format_time
from pouch.messages import service as message_service
from pouch.messages.models import Message
from pouch.settings import Settings

logger = logging.getLogger("pouch.language")

#: ISO 639-2 "undetermined": the source of a message whose language nobody could tell.
UNDETERMINED = "und"
EVENT_KIND = EventKind.TRANSLATION_ADDED
#: The credit column's width.
MAX_CREDIT = 300
#: Messages identified per round.
ROUND_SIZE = 20


def join_text(subject: str, body: str) -> str:
    """A translation's stored text: its subject (one line), a blank line, its body."""
    return f"{subject}\n\n{body}"


def split_text(text: str) -> tuple[str, str]:
    subject, _, body = text.partition("\n\n")
    return subject, body


def text_hash(text: str) -> str:
    """What the ledger keeps of a translation: the SHA-256 of its stored text, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the desk's tools ----------------------------------------------------------


class Desk:
    """The detector and the translation chain of one process.

    lingua's detector is large (about 540 MB for 25 languages), so it is built
    on first use, once, and shared by every thread; building a ``Desk`` costs
    nothing. Its models are loaded as texts need them (``preload=False``): the
    first text in a script takes seconds, in the language worker's thread,
    while the rest of the process runs on. lingua's up-front build would hold
    the GIL for those seconds and stall every request of the process,
    acceptance included.
    """

    def __init__(
        self,
        *,
        chain: TranslationChain,
        languages: Collection[str] | Literal["all"] = DEFAULT_LANGUAGES,
        target: str = "en",
        low_accuracy: bool = False,
        detector: LanguageDetector | None = None,
    ) -> None:
        self.chain = chain
        self.target = target
        self._languages = languages
        self._low_accuracy = low_accuracy
        self._detector = detector
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Desk:
        names = [name for name in settings.translation_engines.split(",") if name]
        if not settings.libretranslate_url and "libretranslate" in names:
            # Listed by default, used once an organisation points it at its server.
            names.remove("libretranslate")
        key = settings.libretranslate_api_key
        chain = build_chain(
            names,
            settings.libretranslate_url,
            key.get_secret_value() if key is not None else None,
            settings.translation_timeout.total_seconds(),
        )
        chain.max_chars = settings.translation_max_chars
        languages: Collection[str] | Literal["all"] = (
            "all" if settings.language_set == "all" else settings.language_set.split(",")
        )
        # Checked now, though the detector is built on the first message: a
        # language lingua does not know stops the process at its start.
        language_set(languages)
        return cls(
            chain=chain,
            languages=languages,
            target=settings.translation_target,
            low_accuracy=settings.language_low_accuracy,
        )

    @property
    def detector_built(self) -> bool:
        return self._detector is not None

    @property
    def detector(self) -> LanguageDetector:
        with self._lock:
            if self._detector is None:
                self._detector = LanguageDetector(
                    self._languages, preload=False, low_accuracy=self._low_accuracy
                )
            return self._detector

    def close(self) -> None:
        """Close the engines' connections (LibreTranslate's HTTP client)."""
        for engine in self.chain.engines:
            close = getattr(engine, "close", None)
            if callable(close):
                close()


# --- identification and machine translation ---------------------------------------


@dataclass(frozen=True)
class Pending:
    """A message waiting to be identified, with at most what machine translation takes."""

    message_id: int
    subject: str
    body: str
    body_length: int
    declared: str | None


@dataclass(frozen=True)
class MachineText:
    subject: str
    body: str
    credit: str


@dataclass(frozen=True)
class Outcome:
    """What the desk made of one message; ``source`` None means nothing to translate."""

    message_id: int
    detection: Detection
    source: str | None
    target: str
    machine: MachineText | None
    failure: str | None


@dataclass(frozen=True)
class Round:
    """One round's count: messages identified, and what became of each."""

    identified: int = 0
    machine: int = 0
    queued: int = 0
    untranslated: int = 0
    failed: int = 0

    def __add__(self, other: Round) -> Round:
        return Round(
            self.identified + other.identified,
            self.machine + other.machine,
            self.queued + other.queued,
            self.untranslated + other.untranslated,
            self.failed + other.failed,
        )

    def __str__(self) -> str:
        return (
            f"{self.identified} identified: {self.machine} machine-translated, "
            f"{self.queued} queued for translators, {self.untranslated} with nothing to "
            f"translate" + (f"; {self.failed} failed and will be retried" if self.failed else "")
        )


def pending(session: Session, *, limit: int, max_chars: int) -> list[Pending]:
    """Messages not yet identified, oldest first."""
    rows = session.execute(
        select(
            Message.id,
            Message.subject,
            # Bounded: one more character than translation takes tells "too long".
            func.substr(Message.body_text, 1, max_chars + 1),
            func.length(Message.body_text),
            Message.declared_language,
        )
        .outerjoin(LanguageDetection, LanguageDetection.message_id == Message.id)
        .where(LanguageDetection.message_id.is_(None))
        .order_by(Message.id)
        .limit(limit)
    ).all()
    return [
        Pending(
            message_id=message_id,
            subject=subject,
            body=body or "",
            body_length=int(length or 0),
            declared=declared,
        )
        for message_id, subject, body, length, declared in rows
    ]


def declared_code(declared: str | None) -> str | None:
    """The code of a declared language: ISO 639-1 (``pt-BR`` -> ``pt``), or 639-3 as given.

    >>> declared_code("pt-BR"), declared_code("FIL"), declared_code("nonsense")
    ('pt', 'fil', None)
    """
    if not declared:
        return None
    code = base_code(declared)
    if code is not None:
        return code
    lowered = declared.strip().lower()
    return lowered if len(lowered) == 3 and lowered.isascii() and lowered.isalpha() else None


def judge(
    detection: Detection, declared: str | None, known: Collection[str]
) -> tuple[Detection, str | None]:
    """The detection to store and the language to translate from (None: no text at all).

    See the module docstring; ``known`` are the detector's languages.
    """
    if detection.status == DetectionStatus.EMPTY:
        return detection, None
    if detection.status == DetectionStatus.DECLARED and detection.language is not None:
        return detection, detection.language
    code = declared_code(declared)
    if code is not None and code not in known:
        likeliest = (
            (Candidate(detection.language, detection.confidence),) if detection.language else ()
        ) + detection.alternatives
        looks = (
            f"; the text looks most like {likeliest[0].language} ({likeliest[0].confidence:.2f})"
            if likeliest
            else ""
        )
        trusted = Detection(
            language=code,
            confidence=0.0,
            status=DetectionStatus.DECLARED,
            alternatives=likeliest,
            reason=(
                f"declared {code} taken on trust: it is not among the detector's "
                f"{len(known)} languages{looks}"
            ),
        )
        return trusted, code
    if detection.language is not None:
        return detection, detection.language
    return detection, UNDETERMINED


def analyse(desk: Desk, item: Pending) -> Outcome:
    """Identify one message and machine-translate it when it needs it. Never raises."""
    try:
        detected = desk.detector.detect(item.subject, item.body, item.declared)
        known: Collection[str] = desk.detector.languages
    except Exception as error:  # the detector is not supposed to fail; a message must not
        logger.exception("language detection failed for message %s", item.message_id)
        detected = Detection(
            None, 0.0, DetectionStatus.UNCERTAIN, (), f"the detector failed: {error}"
        )
        known = ()
    detection, source = judge(detected, item.declared, known)
    target = desk.target
    if source is None or source == target:
        return Outcome(item.message_id, detection, None, target, None, None)
    if source == UNDETERMINED:
        unknown = f"the language could not be identified: {detection.reason}"
        return Outcome(item.message_id, detection, source, target, None, unknown)
    machine, failure = _machine_translate(desk.chain, item, source, target)
    return Outcome(item.message_id, detection, source, target, machine, failure)


def _machine_translate(
    chain: TranslationChain, item: Pending, source: str, target: str
) -> tuple[MachineText | None, str | None]:
    if item.body_length > chain.max_chars:
        return None, (
            f"the body has {item.body_length:,} characters, more than the "
            f"{chain.max_chars:,} machine translation takes"
        )
    translated: dict[str, Any] = {}
    for part, text in (("subject", item.subject), ("body", item.body)):
        # The subject goes first: its failure is the pair's or the engines', not the part's.
        prefix = "the subject was translated, the body was not: " if part == "body" else ""
        try:
            translated[part] = chain.translate(text, source, target)
        except (TranslationError, ValueError) as error:  # ValueError: a code engines do not take
            return None, f"{prefix}{error}"
        except Exception as error:  # an engine's bug must not cost the message anything
            logger.exception("translation engine crashed on message %s", item.message_id)
            return None, f"{prefix}unexpected {type(error).__name__}: {error}"
    subject, body = translated["subject"], translated["body"]
    credits = dict.fromkeys([subject.credit, body.credit])
    credit = (
        subject.credit if len(credits) == 1 else f"subject: {subject.credit}; body: {body.credit}"
    )
    # The subject stays one line, so that the stored text splits back exactly.
    return MachineText(" ".join(subject.text.split()), body.text, credit[:MAX_CREDIT]), None


def record_outcome(session: Session, outcome: Outcome, *, now: datetime) -> Translation | None:
    """Store what ``analyse`` found, in the caller's transaction.

    Returns the translation row, or None when there is nothing to translate or
    another worker stored this message first (its detection's primary key
    keeps a message from being identified twice).
    """
    if session.get(LanguageDetection, outcome.message_id) is not None:
        return None
    message = session.get(Message, outcome.message_id)
    if message is None:
        return None
    detection = outcome.detection
    session.add(
        LanguageDetection(
            message_id=message.id,
            language=detection.language,
            confidence=detection.confidence,
            status=detection.status.value,
            alternatives=[
                {"language": c.language, "confidence": c.confidence} for c in detection.alternatives
            ],
            reason=detection.reason,
            detected_at=now,
        )
    )
    session.flush()
    if outcome.source is None:
        return None
    row = Translation(
        message_id=message.id,
        source=outcome.source,
        target=outcome.target,
        created_at=now,
    )
    if outcome.machine is not None:
        row.status = TranslationStatus.MACHINE
        row.text = join_text(outcome.machine.subject, outcome.machine.body)
        row.credit = outcome.machine.credit
        row.completed_at = now
    else:
        row.status = TranslationStatus.QUEUED
        row.error = outcome.failure
    session.add(row)
    session.flush()
    if row.status == TranslationStatus.MACHINE:
        _record_added(session, message, row, now=now, actor_user_id=None)
    return row


def _record_added(
    session: Session,
    message: Message,
    row: Translation,
    *,
    now: datetime,
    actor_user_id: int | None,
) -> None:
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


def process(session: Session, *, desk: Desk, now: datetime, limit: int = ROUND_SIZE) -> Round:
    """Identify and translate up to ``limit`` pending messages in the caller's transaction.

    For a one-off caller (the demo); the worker translates outside transactions.
    """
    done = Round()
    for item in pending(session, limit=limit, max_chars=desk.chain.max_chars):
        outcome = analyse(desk, item)
        done += tally(outcome, record_outcome(session, outcome, now=now))
    return done


def tally(outcome: Outcome, row: Translation | None) -> Round:
    if row is None:
        return Round(identified=1, untranslated=1) if outcome.source is None else Round()
    if row.status == TranslationStatus.MACHINE:
        return Round(identified=1, machine=1)
    return Round(identified=1, queued=1)


# --- what the inbox shows -------------------------------------------------------------


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


def _name(session: Session, user_id: int | None) -> str | None:
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
    translator = _name(session, row.translator_user_id)
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


# --- the translators' queue -------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    translation: TranslationView
    message: Message


def queue(session: Session, *, include_machine: bool = False) -> list[QueueEntry]:
    """Translations waiting for a person (and being done by one), most urgent message first.

    With ``include_machine``, also the machine translations nobody has reviewed.
    """
    statuses = [TranslationStatus.QUEUED, TranslationStatus.CLAIMED]
    if include_machine:
        statuses.append(TranslationStatus.MACHINE)
    rows = session.execute(
        select(Translation, Message)
        .join(Message, Message.id == Translation.message_id)
        .where(Translation.status.in_(statuses))
    ).all()
    entries = [QueueEntry(view(session, row), message) for row, message in rows]
    return sorted(
        entries,
        key=lambda e: (e.message.precedence.rank, e.message.deliver_by, e.translation.id),
    )


def get_translation(
    session: Session, translation_id: int, *, for_update: bool = False
) -> Translation:
    query = select(Translation).where(Translation.id == translation_id)
    if for_update:
        # Two translators claiming at once: the second waits, then sees the claim.
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"no translation {translation_id}")
    return row


def message_of(session: Session, row: Translation) -> Message:
    message = session.get(Message, row.message_id)
    assert message is not None  # the foreign key cascades
    return message


def _check_pair(session: Session, user_id: int, row: Translation) -> None:
    """A translator on the roster takes only the pairs listed there; others take any."""
    pairs = user_language_pairs(session, user_id)
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
            f"{_name(session, row.translator_user_id)} claimed translation {row.id} "
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
            f"{_name(session, row.translator_user_id)} claimed this translation; "
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
            f"{_name(session, row.translator_user_id)} claimed translation {row.id}; "
            "only they may submit it"
        )
    if source is not None:
        if source == row.target:
            raise InvalidInput(
                f"the source language cannot be the target ({row.target})",
                field_errors=[FieldError("body.source", "same as the target")],
            )
        row.source = source
    name = _name(session, user_id)
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
    _record_added(session, message_of(session, row), row, now=now, actor_user_id=user_id)
    return row


# --- the interpreter roster (shared with the call desk) ---------------------------------


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class RosterEntry:
    """What a roster entry holds, validated (by the API's schema or the caller)."""

    name: str
    email: str | None
    user_id: int | None
    language_pairs: Sequence[Sequence[str]]
    availability: Sequence[Window]
    max_minutes_per_day: int | None
    time_zone: str | None
    active: bool


def normalise_pairs(pairs: Sequence[Sequence[str]]) -> list[list[str]]:
    """Unordered pairs, each sorted, without repeats, in order.

    >>> normalise_pairs([["fr", "en"], ["en", "fr"], ["ja", "en"]])
    [['en', 'fr'], ['en', 'ja']]
    """
    seen: list[list[str]] = []
    for pair in pairs:
        first, second = sorted(code.lower() for code in pair)
        if [first, second] not in seen:
            seen.append([first, second])
    return seen


def _stored_windows(windows: Sequence[Window]) -> list[list[str]]:
    return [
        [window.start.astimezone(UTC).isoformat(), window.end.astimezone(UTC).isoformat()]
        for window in sorted(windows, key=lambda w: w.start)
    ]


def windows_of(interpreter: Interpreter) -> list[Window]:
    """The availability windows as aware datetimes."""
    return [
        Window(datetime.fromisoformat(start), datetime.fromisoformat(end))
        for start, end in interpreter.availability
    ]


def _check_user(session: Session, user_id: int | None, *, interpreter_id: int | None) -> None:
    if user_id is None:
        return
    if session.get(User, user_id) is None:
        raise InvalidInput(
            f"no user with id {user_id}", field_errors=[FieldError("body.user_id", "unknown user")]
        )
    other = session.scalar(
        select(Interpreter.id).where(Interpreter.user_id == user_id, Interpreter.active)
    )
    if other is not None and other != interpreter_id:
        raise Conflict(
            f"user {user_id} is already on the roster as interpreter {other}",
            field_errors=[FieldError("body.user_id", "already on the roster")],
        )


def list_interpreters(session: Session, *, include_inactive: bool = False) -> list[Interpreter]:
    query = select(Interpreter).order_by(Interpreter.name, Interpreter.id)
    if not include_inactive:
        query = query.where(Interpreter.active)
    return list(session.scalars(query))


def get_interpreter(session: Session, interpreter_id: int) -> Interpreter:
    interpreter = session.get(Interpreter, interpreter_id)
    if interpreter is None:
        raise NotFound(f"no interpreter with id {interpreter_id}")
    return interpreter


def create_interpreter(session: Session, *, entry: RosterEntry) -> Interpreter:
    _check_user(session, entry.user_id if entry.active else None, interpreter_id=None)
    interpreter = Interpreter(
        user_id=entry.user_id,
        name=entry.name,
        email=entry.email,
        language_pairs=normalise_pairs(entry.language_pairs),
        availability=_stored_windows(entry.availability),
        max_minutes_per_day=entry.max_minutes_per_day,
        time_zone=entry.time_zone,
        active=entry.active,
    )
    session.add(interpreter)
    session.flush()
    return interpreter


NULLABLE_ROSTER_FIELDS = frozenset({"email", "user_id", "max_minutes_per_day", "time_zone"})


def update_interpreter(
    session: Session, *, interpreter_id: int, changes: dict[str, Any]
) -> Interpreter:
    """Change the fields given; ``availability`` is a list of ``Window``."""
    interpreter = get_interpreter(session, interpreter_id)
    for name, value in changes.items():
        if value is None and name not in NULLABLE_ROSTER_FIELDS:
            raise InvalidInput(
                f"{name} cannot be null", field_errors=[FieldError(f"body.{name}", "null")]
            )
    user_id = changes.get("user_id", interpreter.user_id)
    if changes.get("active", interpreter.active):
        _check_user(session, user_id, interpreter_id=interpreter.id)
    for name, value in changes.items():
        if name == "language_pairs":
            value = normalise_pairs(value)
        elif name == "availability":
            value = _stored_windows(value)
        setattr(interpreter, name, value)
    session.flush()
    return interpreter


def retire_interpreter(session: Session, *, interpreter_id: int) -> Interpreter:
    """Take an interpreter off the roster; the row stays for the calls they were booked on."""
    interpreter = get_interpreter(session, interpreter_id)
    interpreter.active = False
    session.flush()
    return interpreter


def user_language_pairs(session: Session, user_id: int) -> frozenset[frozenset[str]] | None:
    """The pairs of the user's active roster entries, or None when they are not on it."""
    entries = list(
        session.scalars(
            select(Interpreter).where(Interpreter.user_id == user_id, Interpreter.active)
        )
    )
    if not entries:
        return None
    return frozenset(
        frozenset(pair) for entry in entries for pair in entry.language_pairs if len(pair) == 2
    )
