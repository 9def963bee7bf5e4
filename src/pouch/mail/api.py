"""The receipt of a mail's arrival, for whoever holds the mail.

A mail is named by the SHA-256 of its exact bytes: its sender computes it from what
it sent (and is told it in every automatic answer), nobody else can guess it. The
receipt is the opening of the mail's ``received`` event and, once a checkpoint
covers it, its c2sp.org/tlog-proof: evidence, showable to a third party, that the
mail reached Pouch, whether it then became a message, waits in the quarantine or
was rejected by two officers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from pouch.mail import service as mail_service
from pouch.messages.schemas import ReceiptOut
from pouch.web.deps import AppLedger, AppSettings, DbSession

router = APIRouter(prefix="/api/mail", tags=["mail"])

MailSha256 = Annotated[
    str,
    Path(
        pattern="^[0-9a-f]{64}$",
        description="The SHA-256 of the mail's exact bytes as sent, in lowercase hex.",
    ),
]


@router.get("/{sha256}/receipt", response_model=ReceiptOut)
def arrival_receipt(
    sha256: MailSha256, session: DbSession, ledger: AppLedger, settings: AppSettings
) -> ReceiptOut:
    """The opening of the mail's ``received`` event and, once published, its tlog-proof
    (the first arrival of these bytes). No credentials: the mail's hash names it."""
    return mail_service.arrival_receipt(
        session, sha256, ledger=ledger, base_url=settings.public_url.rstrip("/")
    )
