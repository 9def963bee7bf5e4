"""What the message API accepts and returns."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, Strict, StringConstraints, field_validator

from pouch import keyset
from pouch.directory.schemas import Language
from pouch.ledger.events import Opening
from pouch.messages.models import HoldStatus, Message, MessageState
from pouch.messages.rules import Precedence
from pouch.messages.search import MAX_PAGE_SIZE, PAGE_SIZE, Criteria, Sort
from pouch.schema import LogIndex, RowId, Schema
from pouch.text import check_multiline, check_single_line

Subject = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(check_single_line),
]
Body = Annotated[str, StringConstraints(max_length=1_000_000), AfterValidator(check_multiline)]
Filename = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(check_single_line),
]
Label = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Z0-9][A-Z0-9 /_-]*$")
]


class AttachmentIn(Schema):
    filename: Filename
    content_type: Annotated[str, StringConstraints(max_length=127)] | None = None
    content_base64: str = Field(description="The file, base64-encoded.")

    @field_validator("filename")
    @classmethod
    def _no_paths(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError("a file name, not a path")
        return value

    def content(self) -> bytes:
        try:
            return base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("content_base64 is not valid base64") from None


class MessageIn(Schema):
    sender_office_id: RowId
    addressee_office_id: RowId
    subject: Subject
    body: Body = Field(description="Plain text, or HTML when body_format is html (sanitized).")
    body_format: Annotated[str, StringConstraints(pattern=r"^(text|html)$")] = "text"
    language: Language | None = None
    precedence: Precedence = Precedence.ROUTINE
    security_label: Label | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=100)


class ReplyIn(Schema):
    subject: Subject | None = None
    body: Body
    body_format: Annotated[str, StringConstraints(pattern=r"^(text|html)$")] = "text"
    language: Language | None = None
    precedence: Precedence = Precedence.ROUTINE


class OpeningOut(Schema):
    index: int
    salt: str
    event: dict[str, Any]
    tags: list[str] | None = Field(
        default=None,
        exclude_if=lambda tags: tags is None,
        description=(
            "The entry's tags (base64, in the entry's order), with which the entry is "
            "rebuilt (pouch-event/v2); absent for an entry written before tags (v1)."
        ),
    )

    @classmethod
    def of(cls, opening: Opening) -> OpeningOut:
        return cls.model_validate(opening.to_json())


#: How many openings one request may ask for.
MAX_OPENINGS_ASKED = 500


class OpeningsIn(Schema):
    # Strict: JSON's true and false are not entry indexes.
    indexes: list[Annotated[LogIndex, Strict()]] = Field(
        min_length=1,
        max_length=MAX_OPENINGS_ASKED,
        description="The log entries to open (at most 500), e.g. where a monitor found its tags.",
    )


class OpeningAnswer(Schema):
    index: int
    status: int = Field(
        description="200 with the opening; 403 not entitled, 404 not logged, 500 the entry "
        "is logged but its opening is not kept or is damaged (integrity-error)."
    )
    opening: OpeningOut | None = None
    problem: str | None = Field(default=None, description="Why it is not opened.")
    type: str | None = Field(
        default=None, description="Its problem type, as the one-by-one endpoint answers it."
    )


class OpeningsOut(Schema):
    answers: list[OpeningAnswer] = Field(description="One answer per index asked, in order.")


class ReceiptOut(Schema):
    opening: OpeningOut
    receipt: str | None = Field(
        description="c2sp.org/tlog-proof@v1, once a checkpoint covers the event; else null."
    )
    receipt_url: str = Field(description="Where the receipt is available once published.")


class AcceptedOut(Schema):
    id: str
    state: MessageState
    office_sequence: int
    accepted_at: datetime
    deliver_by: datetime
    receipt: ReceiptOut

    @classmethod
    def of(cls, message: Message, receipt: ReceiptOut) -> AcceptedOut:
        return cls(
            id=message.public_id,
            state=message.state,
            office_sequence=message.office_sequence,
            accepted_at=message.accepted_at,
            deliver_by=message.deliver_by,
            receipt=receipt,
        )


class HoldOut(Schema):
    id: int
    status: HoldStatus
    reason: str
    duration_seconds: int
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    until: datetime | None
    ended_at: datetime | None
    held_by_office: str


class EventOut(Schema):
    kind: str
    at: datetime
    ledger_index: int
    details: dict[str, Any]


class AttachmentOut(Schema):
    id: int
    filename: str
    media_type: str
    declared_type: str | None
    size: int
    sha256: str
    quarantined: bool
    quarantine_reason: str | None


class MessageOut(Schema):
    id: str
    sender_office_id: RowId
    addressee_office_id: RowId
    in_reply_to: str | None
    subject: str
    body_text: str
    body_html: str | None
    language: str | None
    security_label: str | None
    precedence: Precedence
    state: MessageState
    office_sequence: int
    accepted_at: datetime
    deliver_by: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    overdue_at: datetime | None
    held: str | None = Field(description="'held since T, by <office>, until T'' while held.")
    attachments: list[AttachmentOut]


class StatusOut(Schema):
    message: MessageOut
    events: list[EventOut]
    holds: list[HoldOut]


#: An officer's WebAuthn assertion confirming a decision: the browser's PublicKeyCredential
#: as JSON (id, rawId, type, response.authenticatorData, clientDataJSON, signature, all
#: base64url), made over the challenge of POST /api/decision-challenges.
Assertion = Annotated[
    dict[str, Any] | None,
    Field(
        description=(
            "The officer's WebAuthn assertion over this decision's challenge (POST "
            "/api/decision-challenges), as the browser's PublicKeyCredential JSON; needed "
            "when POUCH_SIGNED_DECISIONS asks for it."
        )
    ),
]


class HoldIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
    duration_minutes: int = Field(ge=1, le=72 * 60)
    assertion: Assertion = None


class QuarantineIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
    assertion: Assertion = None


class SignedIn(Schema):
    """The body of a decision with no fields of its own (route, approve, release, withdraw)."""

    assertion: Assertion = None


DecisionName = Literal[
    "hold.request",
    "hold.approve",
    "hold.release",
    "hold.withdraw",
    "route",
    "attachment.quarantine",
]


class DecisionChallengeIn(Schema):
    """The decision about to be made, with the fields its action will carry: for
    hold.request {reason, minutes}; for attachment.quarantine {attachment, reason}; none
    for the others."""

    action: DecisionName
    message: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    hold: RowId | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class DecisionChallengeOut(Schema):
    sign: bool = Field(description="Whether to sign: false when the decision goes unsigned.")
    required: bool
    demo: bool = Field(
        default=False,
        description="Sign with the demo's software key (POUCH_DEMO_AUTHENTICATOR) instead.",
    )
    action: str | None = Field(
        default=None, description="The canonical JSON whose SHA-256 is the challenge."
    )
    challenge: str | None = None
    expires_at: str | None = None
    options: dict[str, Any] | None = Field(
        default=None, description="PublicKeyCredentialRequestOptions for navigator.credentials.get."
    )


class PreviousTagKeyOut(Schema):
    key: str = Field(description="The key in force until now (32 bytes, base64).")
    from_counter: int = Field(description="The first of the office's counters it applies to.")


class TagKeyOut(Schema):
    """An office's new tag key, shown once: it is never served again."""

    office_id: RowId
    key: str = Field(description="The new tag key (32 bytes, base64). Keep it: it is shown once.")
    from_counter: int = Field(
        description="The office's counter from which entries carry tags made with this key."
    )
    previous: PreviousTagKeyOut | None = Field(
        description=(
            "The key made at the office's first event, when this is its first rotation: "
            "it was never shown before, and finds the entries up to from_counter - 1."
        )
    )


class LedgerOpeningOut(Schema):
    office_sequence: int
    message: str
    opening: OpeningOut


class EndpointIn(Schema):
    webhook_url: Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://")] | None = (
        None
    )
    email: (
        Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None
    ) = None


class EndpointOut(Schema):
    office_id: RowId
    webhook_url: str | None
    email: str | None
    webhook_secret: str | None = Field(
        default=None, description="Shown once when a webhook is set: verifies X-Pouch-Signature."
    )


class NoticeOut(Schema):
    """A notice not sent: still tried (``failed`` false) or given up on."""

    id: int
    key: str
    channel: str
    office_id: RowId | None
    target: str
    subject: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    failed: bool
    last_error: str | None


class WorkFailureOut(Schema):
    """A row the background worker failed on and is still trying."""

    job: str
    row_id: RowId
    error: str
    first_at: datetime
    last_at: datetime
    attempts: int
    retry_at: datetime
    ledger_index: int


class SearchIn(Schema):
    """A search for messages (``GET /api/messages``, the find page, the inbox and tracking
    filters): every part optional; without ``q`` or a filter, every message the caller
    may see, newest first."""

    q: Annotated[str, StringConstraints(max_length=200)] = Field(
        "",
        description="Words that must each begin a word of the subject, body or a "
        "translation (the subject only, for a message whose content the caller may "
        "not see yet). Punctuation and operators are ignored.",
    )
    office: RowId | None = Field(None, description="The other office: sender or addressee.")
    precedence: Precedence | None = None
    state: MessageState | None = None
    language: Language | None = Field(
        None, description="The message's language, as its sender declared it or as detected."
    )
    since: date | None = Field(None, description="Accepted on or after this day (UTC).")
    until: date | None = Field(None, description="Accepted on or before this day (UTC).")
    sort: Sort = Sort.NEWEST
    after: Annotated[str, StringConstraints(max_length=keyset.MAX_CURSOR_LENGTH)] | None = Field(
        None, description="The `next` of the page before: the page after it."
    )
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_day(cls, value: object) -> object:
        # A day as YYYY-MM-DD only: pydantic would read "0" as a Unix time.
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("a day as YYYY-MM-DD")
        return value

    def criteria(self) -> Criteria:
        return Criteria(
            text=self.q,
            office=self.office,
            precedence=self.precedence,
            state=self.state,
            language=self.language.lower() if self.language else None,
            since=self.since,
            until=self.until,
        )


class MessagePageOut(Schema):
    """One page of messages; ``next`` is the cursor of the following page (null: the last)."""

    items: list[MessageOut]
    next: str | None
