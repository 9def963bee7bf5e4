"""The mail quarantine on the watch floor: what waits, why, and the officers' decisions.

Watch officers decide; auditors see the same list and the counts by state,
read-only. A rejection takes two officers (the first one's asks), an
acceptance one; both are logged (``mail.service``, ``mail.flows.release``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pouch.directory import service as directory_service
from pouch.directory.models import OfficeKind
from pouch.errors import FieldError, InvalidInput
from pouch.identity.service import Actor
from pouch.mail import access
from pouch.mail import flows as mail_flows
from pouch.mail import service as mail_service
from pouch.mail.models import MailState
from pouch.messages import rendering
from pouch.messages import service as message_service
from pouch.schema import RowId
from pouch.web import render
from pouch.web.deps import (
    Allow,
    AllowPage,
    AppClock,
    AppLimits,
    AppSettings,
    AppTimetable,
    DbSession,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

NOTICES = {
    "reject-requested": "Rejection asked. It takes effect when a second officer confirms it.",
    "rejected": "Rejected by two officers. The mail stays on the record.",
    "released": "Accepted: the mail is a message in the queue, with its receipt.",
}
QuarantineReader = Annotated[
    Actor,
    Depends(AllowPage(access.may_read_quarantine, "the mail quarantine is for the watch floor")),
]
Decider = Annotated[
    Actor, Depends(Allow(access.may_decide, "only watch officers decide on quarantined mail"))
]
Reason = Annotated[str, Form(max_length=2000)]
OptionalOffice = Annotated[str, Form(max_length=20)]


@router.get("/watch/mail")
def quarantine_page(
    request: Request, session: DbSession, clock: AppClock, actor: QuarantineReader
) -> Response:
    mails = mail_service.quarantined(session)
    decisions = mail_service.decisions_of(session, [m.id for m in mails])
    names = message_service.office_names(session)
    context = {
        **rendering.context(clock.now(), actor, names),
        "mails": mails,
        "decisions": decisions,
        "counts": mail_service.counts(session),
        "can_act": access.may_decide(actor),
        "people": render.display_names(
            session, [d.officer_id for found in decisions.values() for d in found]
        ),
        "senders": _offices(session, (OfficeKind.FOREIGN,)),
        "addressees": _offices(session, (OfficeKind.PRINCIPAL, OfficeKind.FOREIGN)),
    }
    return render.page(request, "watch_mail.html", context, notices=NOTICES)


def _offices(session: DbSession, kinds: tuple[OfficeKind, ...]) -> list[tuple[int, str]]:
    return [
        (o.id, o.name)
        for o in directory_service.list_offices(session)
        if o.kind in kinds and o.retired_at is None
    ]


@router.post("/watch/mail/{mail_id}/reject")
def reject(
    mail_id: RowId,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Decider,
    reason: Reason = "",
) -> Response:
    state = mail_flows.reject(
        session,
        mail_id,
        officer_id=actor.user_id,
        reason=reason,
        now=clock.now(),
        answering=mail_flows.answering_of(settings),
        mail_from=settings.mail_from,
        base_url=settings.public_url.rstrip("/"),
    )
    notice = "rejected" if state == MailState.REJECTED else "reject-requested"
    return render.back("/watch/mail", "/watch/mail", notice)


@router.post("/watch/mail/{mail_id}/accept")
def accept(
    mail_id: RowId,
    session: DbSession,
    clock: AppClock,
    timetable: AppTimetable,
    limits: AppLimits,
    settings: AppSettings,
    actor: Decider,
    reason: Reason = "",
    sender_office_id: OptionalOffice = "",
    addressee_office_id: OptionalOffice = "",
) -> Response:
    mail_flows.release(
        session,
        mail_id,
        officer_id=actor.user_id,
        sender_office_id=_office_id(sender_office_id, "sender_office_id"),
        addressee_office_id=_office_id(addressee_office_id, "addressee_office_id"),
        reason=reason,
        now=clock.now(),
        timetable=timetable,
        limits=limits,
        base_url=settings.public_url,
        answering=mail_flows.answering_of(settings),
        mail_from=settings.mail_from,
    )
    return render.back("/watch/mail", "/watch/mail", "released")


def _office_id(value: str, field: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit():
        raise InvalidInput(
            f"{field} is an office's id", field_errors=[FieldError(field, "not an id")]
        )
    return int(value)
