"""The language desk's round: identify each new message's language and machine-translate it.

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
   engine's credit (logged as ``translation.added``), or ``queued`` for a
   translator (``pouch.language.queue``) with the reasons no engine could do it.

``Desk`` holds the detector and the translation chain of one process.

Which language a message is in (``judge``):

- the detector's answer when it is ``certain``, or ``declared`` (the sender's
  declared language, supported by the text);
- the declared language, taken on trust, when it is outside the detector's
  languages: lingua chooses only among those, so it can neither confirm nor
  refute it (an Irish letter reads as "certain Swahili" to a detector that
  has no Irish);
- otherwise ``und``, undetermined: a person decides.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.language.detect import (
    DEFAULT_LANGUAGES,
    Candidate,
    Detection,
    DetectionStatus,
    LanguageDetector,
    base_code,
    language_set,
)
from pouch.language.models import LanguageDetection, Translation, TranslationStatus
from pouch.language.translate import TranslationChain, TranslationError, build_chain
from pouch.language.translations import MAX_CREDIT, UNDETERMINED, join_text, record_added
from pouch.messages.models import Message
from pouch.settings import Settings

logger = logging.getLogger("pouch.language")

#: Messages identified per round.
ROUND_SIZE = 20


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


def pending(session: Session, *, limit: int, max_chars: int, after: int = 0) -> list[Pending]:
    """Messages numbered (by id) after ``after`` not yet identified, oldest first."""
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
        .where(Message.id > after, LanguageDetection.message_id.is_(None))
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


def identified_through(session: Session, *, after: int, settled_before: datetime) -> int:
    """The highest id at or below which every message is identified, found from ``after``
    (already known to be): at most the last message accepted before ``settled_before``,
    so that one whose acceptance commits late (a lower id, on PostgreSQL) is not passed.
    A worker reads on from there: a year of messages is not walked each round."""
    settled = session.scalar(
        select(Message.id)
        .where(Message.accepted_at < settled_before)
        .order_by(Message.accepted_at.desc(), Message.id.desc())
        .limit(1)
    )
    first_pending = session.scalar(
        select(func.min(Message.id))
        .outerjoin(LanguageDetection, LanguageDetection.message_id == Message.id)
        .where(Message.id > after, LanguageDetection.message_id.is_(None))
    )
    through = settled or 0
    if first_pending is not None:
        through = min(through, first_pending - 1)
    return max(after, through)


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
        record_added(session, message, row, now=now, actor_user_id=None)
    return row


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
