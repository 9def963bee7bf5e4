"""Receipts for the steps of a message: the event's opening and its tlog-proof.

An event is durable and in the log when the step's transaction commits, but a
checkpoint covers it only after the next integration (within
``POUCH_LOG_INTEGRATE_INTERVAL``, usually well under a second). Until then a
receipt carries the opening and ``receipt: null``; the same URL then returns
the full c2sp.org/tlog-proof.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from pouch.errors import NotFound
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening
from pouch.ledger.service import Ledger
from pouch.messages.models import Message
from pouch.messages.schemas import OpeningOut, ReceiptOut


def receipt_url(base_url: str, message: Message, index: int) -> str:
    return f"{base_url}/api/messages/{message.public_id}/events/{index}/receipt"


def pending_receipt(message: Message, opening: Opening, *, base_url: str) -> ReceiptOut:
    """The receipt of an event just written: its opening, and where its proof will be.

    No checkpoint can cover an entry whose transaction has not committed yet.
    """
    return ReceiptOut(
        opening=OpeningOut.of(opening),
        receipt=None,
        receipt_url=receipt_url(base_url, message, opening.index),
    )


def receipt_for(
    session: Session, message: Message, index: int, *, ledger: Ledger, base_url: str
) -> ReceiptOut:
    opening = ledger_service.opening(session, index)
    if opening is None or opening.event.get("message") != message.public_id:
        raise NotFound(f"message {message.public_id} has no event at log index {index}")
    return ReceiptOut(
        opening=OpeningOut.of(opening),
        receipt=ledger_service.receipt_once_published(session, index=index, cache=ledger.cache),
        receipt_url=receipt_url(base_url, message, index),
    )
