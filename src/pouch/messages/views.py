"""What a caller is shown of a message: the API's documents, built under the access rules.

The message API and the language desk's API show a message through these, so
that what the addressee may not yet see (the content of a message still
queued or held) is withheld in one place.
"""

from __future__ import annotations

import base64

from sqlalchemy.orm import Session

from pouch.errors import IntegrityFailure
from pouch.identity.models import User
from pouch.identity.service import Actor
from pouch.ledger.service import TagKeyRotation
from pouch.messages import access
from pouch.messages import service as message_service
from pouch.messages.models import Attachment, Hold, Message, Shown
from pouch.messages.schemas import (
    AttachmentOut,
    EventOut,
    HoldOut,
    LedgerOpeningOut,
    MessageOut,
    OpeningOut,
    PreviousTagKeyOut,
    StatusOut,
    TagKeyOut,
)
from pouch.messages.sequence import Listed


def message_out(
    session: Session,
    message: Message,
    *,
    viewer: Actor | None = None,
    names: message_service.OfficeNames | None = None,
) -> MessageOut:
    """The message as ``viewer`` may see it (no viewer: an operations reader). A list
    passes the offices' ``names``, read once for all its messages."""
    in_reply_to = message_service.public_id_of(session, message.in_reply_to_id)
    if names is None:
        names = message_service.office_names(session)
    return shown_out(Shown.of(message, in_reply_to=in_reply_to), viewer=viewer, names=names)


def shown_out(
    message: Shown, *, viewer: Actor | None, names: message_service.OfficeNames
) -> MessageOut:
    """``message_out`` of a message read as a row (``message_service.inbox_by_number``)."""
    withheld = viewer is not None and access.content_withheld(viewer, message)
    return MessageOut(
        id=message.public_id,
        sender_office_id=message.sender_office_id,
        addressee_office_id=message.addressee_office_id,
        in_reply_to=message.in_reply_to,
        subject=message.subject,
        body_text="" if withheld else message.body_text,
        body_html=None if withheld else message.body_html,
        language=message.declared_language,
        security_label=message.security_label,
        precedence=message.precedence,
        state=message.state,
        office_sequence=message.office_sequence,
        accepted_at=message.accepted_at,
        deliver_by=message.deliver_by,
        delivered_at=message.delivered_at,
        acknowledged_at=message.acknowledged_at,
        overdue_at=message.overdue_at,
        held=message_service.held_notice(message, names),
        attachments=[attachment_out(a) for a in ([] if withheld else message.attachments)],
    )


def status_out(session: Session, message: Message, *, viewer: Actor) -> StatusOut:
    """The message as ``viewer`` may see it, every step with its log index, every hold."""
    return StatusOut(
        message=message_out(session, message, viewer=viewer),
        events=[
            EventOut(kind=e.kind, at=e.at, ledger_index=e.ledger_index, details=e.details)
            for e in message_service.events_of(session, message)
        ],
        holds=hold_out(session, message),
    )


def attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        filename=attachment.filename,
        media_type=attachment.media_type,
        declared_type=attachment.declared_type,
        size=attachment.size,
        sha256=attachment.sha256,
        quarantined=attachment.quarantined_at is not None,
        quarantine_reason=attachment.quarantine_reason,
    )


def hold_out(session: Session, message: Message) -> list[HoldOut]:
    """Every hold of the message, asked for or in force or ended."""
    return [hold_view(session, hold) for hold in message.holds]


def hold_view(session: Session, hold: Hold) -> HoldOut:
    """One hold, with who asked for it and who approved it."""
    names = message_service.office_names(session)
    requester = session.get(User, hold.requested_by_user_id)
    approver = session.get(User, hold.approved_by_user_id) if hold.approved_by_user_id else None
    return HoldOut(
        id=hold.id,
        status=hold.status,
        reason=hold.reason,
        duration_seconds=hold.duration_seconds,
        requested_by=requester.display_name if requester else "?",
        requested_at=hold.requested_at,
        approved_by=approver.display_name if approver else None,
        approved_at=hold.approved_at,
        until=hold.until,
        ended_at=hold.ended_at,
        held_by_office=names.operations,
    )


def listed_out(listed: Listed) -> LedgerOpeningOut:
    """One message of an office's listing, with the opening the office checks."""
    if listed.opening is None:
        raise IntegrityFailure(
            f"the accepted event of message {listed.message} has lost its opening"
        )
    return LedgerOpeningOut(
        office_sequence=listed.office_sequence,
        message=listed.message,
        opening=OpeningOut.of(listed.opening),
    )


def tag_key_out(office_id: int, rotation: TagKeyRotation) -> TagKeyOut:
    """The office's new tag key as its administrator receives it, once."""

    def b64(key: bytes) -> str:
        return base64.b64encode(key).decode()

    previous = rotation.previous
    return TagKeyOut(
        office_id=office_id,
        key=b64(rotation.key),
        from_counter=rotation.from_counter,
        previous=PreviousTagKeyOut(key=b64(previous[0]), from_counter=previous[1])
        if previous is not None
        else None,
    )
