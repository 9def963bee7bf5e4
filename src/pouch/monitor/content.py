"""The content hash of what a sender kept of a message it sent.

The ``accepted`` event commits to ``acceptance.content_hash``: SHA-256 of the
RFC 8785 JSON of what was said (offices, subject, body, format, language,
precedence, label, attachments by their SHA-256). A party recomputes it from
the message as the API shows it (``messages.check.shown_content_hash``), and
a sender also from the submission it kept (``pouch sender send --keep``),
read as the server reads a submission, so that they agree only when nothing
was changed between what was sent, what was logged and what is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from pouch.errors import PouchError
from pouch.messages import acceptance
from pouch.messages.check import UnreadableView


def kept_content_hash(payload: Mapping[str, Any]) -> str:
    """The content hash of a submission as it was sent (the JSON body of
    ``POST /api/messages``), read as the server reads it."""
    from pouch.intake.flows import submission_of
    from pouch.messages.schemas import MessageIn

    try:
        data = MessageIn.model_validate(dict(payload))
        prepared = acceptance.prepare(
            submission_of(data),
            acceptance.Limits(max_attachment_bytes=1 << 62, max_attachments=1 << 31),
        )
    except (ValidationError, ValueError, PouchError) as error:
        raise UnreadableView(f"the kept submission cannot be read: {error}") from None
    return prepared.content_hash
