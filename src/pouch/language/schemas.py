"""What the language desk's API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from pouch.directory.schemas import Email, Language, TimeZone
from pouch.language.models import TranslationStatus
from pouch.messages.rules import Precedence
from pouch.messages.schemas import Body, MessageOut, Subject
from pouch.schema import Patchable, RowId, Schema
from pouch.text import Name


class CandidateOut(Schema):
    language: str
    confidence: float


class DetectionOut(Schema):
    language: str | None = Field(description="ISO 639-1; null when it could not be told.")
    confidence: float = Field(description="0 to 1; 0 for a declared language taken on trust.")
    status: str = Field(description="certain, declared, uncertain or empty.")
    alternatives: list[CandidateOut]
    reason: str
    detected_at: datetime


class TextOut(Schema):
    subject: str
    body: str


class TranslationOut(Schema):
    id: int
    source: str = Field(description="ISO 639-1, or und when nobody could tell.")
    target: str
    status: TranslationStatus
    text: TextOut | None = Field(description="The translation; null until there is one.")
    draft: TextOut | None = Field(description="The machine draft a translator started from.")
    credit: str | None = Field(description="The engine and its version, or the translator.")
    translator: str | None = Field(description="Who claimed or reviewed it.")
    made_by: str = Field(description="One line for the reader: who made it, or who is on it.")
    error: str | None = Field(
        description="Why no engine translated it (shown to the operations center only)."
    )
    created_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None
    ledger_index: int | None = Field(description="Its translation.added event in the log.")


class TranslatedMessageOut(MessageOut):
    """A message with its detected language and its translations, beside the original."""

    detection: DetectionOut | None = Field(description="Null until the desk has looked at it.")
    translations: list[TranslationOut]


class QueueItemOut(Schema):
    translation: TranslationOut
    message: str = Field(description="The message's id.")
    subject: str = Field(description="The original subject.")
    precedence: Precedence
    deliver_by: datetime


class WorkItemOut(QueueItemOut):
    """A queue item with the original text to translate."""

    original_body: str
    declared_language: str | None


class SubmitIn(Schema):
    subject: Subject = Field(description="The subject, translated (one line).")
    body: Body = Field(description="The body, translated.")
    source: Language | None = Field(
        default=None, description="The original's language, when the desk had it wrong."
    )


def _check_pair(pair: list[str]) -> list[str]:
    if pair[0] == pair[1]:
        raise ValueError(f"a pair of two different languages, not {pair[0]} with itself")
    return pair


LanguagePair = Annotated[
    list[Language], Field(min_length=2, max_length=2), AfterValidator(_check_pair)
]


class WindowIn(Schema):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class WindowOut(Schema):
    start: datetime
    end: datetime


MinutesCap = Annotated[int, Field(ge=1, le=24 * 60)]


class InterpreterIn(Schema):
    name: Name
    email: Email | None = None
    user_id: RowId | None = Field(default=None, description="The interpreter's Pouch user, if any.")
    language_pairs: list[LanguagePair] = Field(
        min_length=1, max_length=50, description="Pairs interpreted both ways, e.g. [['en','fr']]."
    )
    availability: list[WindowIn] = Field(
        default_factory=list, max_length=1000, description="When they can work (UTC)."
    )
    max_minutes_per_day: MinutesCap | None = None
    time_zone: TimeZone | None = Field(
        default=None, description="The zone whose days the minutes cap counts."
    )
    active: bool = True


class InterpreterPatch(Schema):
    """What to change; a field left out stays as it is (``email``, ``user_id``,
    ``max_minutes_per_day`` and ``time_zone`` may be null)."""

    name: Patchable[Name] = None
    email: Email | None = None
    user_id: RowId | None = None
    language_pairs: Patchable[Annotated[list[LanguagePair], Field(min_length=1, max_length=50)]] = (
        None
    )
    availability: Patchable[Annotated[list[WindowIn], Field(max_length=1000)]] = None
    max_minutes_per_day: MinutesCap | None = None
    time_zone: TimeZone | None = None
    active: Patchable[bool] = None


class InterpreterOut(Schema):
    id: int
    user_id: RowId | None
    name: str
    email: str | None
    language_pairs: list[list[str]]
    availability: list[WindowOut]
    max_minutes_per_day: int | None
    time_zone: str | None
    active: bool
