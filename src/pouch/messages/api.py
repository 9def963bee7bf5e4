"""JSON API of the message path, after acceptance (which is intake's).

Who may see a message and who may act on it are the rules of
``messages/access.py``, which the pages and the command line follow too: a
message the caller may not see is answered 404, an action the caller may not
take 403. Each route parses, makes one service call, and answers what
``messages/views.py`` makes of the result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query
from fastapi.responses import Response

from pouch.errors import PermissionDenied
from pouch.identity import passkeys
from pouch.identity import service as identity_service
from pouch.messages import (
    access,
    decisions,
    holds,
    notify,
    office_tags,
    outbox,
    receipts,
    search,
    views,
    worker,
)
from pouch.messages import service as message_service
from pouch.messages.deps import OperationsWatcher, QueueReader, WatchOfficer
from pouch.messages.schemas import (
    AcceptedOut,
    AttachmentOut,
    DecisionChallengeIn,
    DecisionChallengeOut,
    EndpointIn,
    EndpointOut,
    HoldIn,
    HoldOut,
    LedgerOpeningOut,
    MessageOut,
    MessagePageOut,
    NoticeOut,
    OpeningAnswer,
    OpeningOut,
    OpeningsIn,
    OpeningsOut,
    QuarantineIn,
    ReceiptOut,
    ReplyIn,
    SearchIn,
    SignedIn,
    StatusOut,
    TagKeyOut,
    WorkFailureOut,
)
from pouch.schema import MAX_ROW_ID, LogIndex, RowId
from pouch.settings import Settings
from pouch.web.deps import (
    AppClock,
    AppLedger,
    AppLimits,
    AppSettings,
    AppTimetable,
    CurrentActor,
    DbSession,
    OfficeAdmin,
)

router = APIRouter(prefix="/api", tags=["messages"])

#: The longest page of an office's ledger: a year holds hundreds of thousands.
MAX_LEDGER_PAGE = 1000


def _base(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


@router.get("/messages", response_model=MessagePageOut)
def find_messages(
    query: Annotated[SearchIn, Query()], session: DbSession, actor: CurrentActor
) -> MessagePageOut:
    """Search and list the messages the caller may see (``messages.search``), a page at a
    time: pass the answer's ``next`` as ``after`` for the following page."""
    page = search.find(
        session,
        scope=search.for_reader(actor),
        criteria=query.criteria(),
        sort=query.sort,
        after=query.after,
        limit=query.limit,
    )
    names = message_service.office_names(session)
    return MessagePageOut(
        items=[views.message_out(session, m, viewer=actor, names=names) for m in page.rows],
        next=page.next,
    )


@router.get("/messages/{public_id}", response_model=MessageOut)
def get_message(public_id: str, session: DbSession, actor: CurrentActor) -> MessageOut:
    """The message, to its sender office, its addressee office and the operations staff."""
    message = message_service.visible(session, public_id=public_id, actor=actor)
    return views.message_out(session, message, viewer=actor)


@router.get("/messages/{public_id}/status", response_model=StatusOut)
def message_status(public_id: str, session: DbSession, actor: CurrentActor) -> StatusOut:
    """Every step with its time and log index; holds with who, since and until."""
    message = message_service.visible(session, public_id=public_id, actor=actor)
    return views.status_out(session, message, viewer=actor)


@router.get("/messages/{public_id}/events/{index}/receipt", response_model=ReceiptOut)
def event_receipt(
    public_id: str,
    index: LogIndex,
    ledger: AppLedger,
    session: DbSession,
    settings: AppSettings,
    actor: CurrentActor,
) -> ReceiptOut:
    """The opening of one of the message's events and, once published, its tlog-proof."""
    message = message_service.visible(session, public_id=public_id, actor=actor)
    return receipts.receipt_for(session, message, index, ledger=ledger, base_url=_base(settings))


def _signed(
    session: DbSession,
    settings: Settings,
    actor: identity_service.Actor,
    decision: passkeys.Decision,
    assertion: dict[str, Any] | None,
    now: datetime,
) -> str | None:
    return decisions.confirm(
        session,
        settings=settings,
        decision=decision,
        officer_id=actor.user_id,
        assertion=assertion,
        now=now,
    )


@router.post("/decision-challenges", response_model=DecisionChallengeOut, tags=["decisions"])
def decision_challenge(
    data: DecisionChallengeIn,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: WatchOfficer,
) -> DecisionChallengeOut:
    """The challenge an officer's passkey signs to confirm a decision: the SHA-256 of the
    canonical JSON of the action, message, hold, fields, officer, server time and nonce,
    valid for 5 minutes and once. Sign it with navigator.credentials.get(options) and send
    the PublicKeyCredential as the action's ``assertion``. ``sign`` is false when the
    decision goes unsigned (POUCH_SIGNED_DECISIONS, or the officer has no passkey)."""
    answer = decisions.challenge(
        session,
        settings=settings,
        decision=passkeys.Decision(
            action=data.action, message=data.message, hold=data.hold, fields=data.fields
        ),
        officer_id=actor.user_id,
        now=clock.now(),
    )
    return DecisionChallengeOut.model_validate(answer)


@router.get("/decisions/{sha256}", tags=["decisions"])
def decision_bundle(sha256: str, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """A signed decision, to anyone entitled to its event: the kept assertion, the opening
    of the decision's event (which logs the assertion's SHA-256) and the opening of the
    officer's passkey.registered (the public key). ``pouch decision verify`` checks it
    offline."""
    return decisions.bundle(session, sha256=sha256.lower(), actor=actor)


@router.post("/messages/{public_id}/route", response_model=MessageOut)
def route(
    public_id: str,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: WatchOfficer,
    data: SignedIn | None = None,
) -> MessageOut:
    """Deliver a message from the queue now."""
    now = clock.now()
    signed = _signed(
        session,
        settings,
        actor,
        passkeys.Decision(action="route", message=public_id),
        data.assertion if data else None,
        now,
    )
    message = message_service.route(
        session, public_id=public_id, actor_user_id=actor.user_id, now=now, assertion=signed
    )
    return views.message_out(session, message)


@router.post("/messages/{public_id}/holds", response_model=HoldOut, status_code=201)
def request_hold(
    public_id: str,
    data: HoldIn,
    session: DbSession,
    clock: AppClock,
    timetable: AppTimetable,
    settings: AppSettings,
    actor: WatchOfficer,
) -> HoldOut:
    """Ask for a hold; it takes effect only when a second officer approves it."""
    now = clock.now()
    decision = passkeys.Decision(
        action="hold.request",
        message=public_id,
        fields={"reason": data.reason, "minutes": data.duration_minutes},
    )
    hold = holds.request_hold(
        session,
        public_id=public_id,
        officer_id=actor.user_id,
        reason=data.reason,
        duration=timedelta(minutes=data.duration_minutes),
        now=now,
        timetable=timetable,
        assertion=_signed(session, settings, actor, decision, data.assertion, now),
    )
    return views.hold_view(session, hold)


HOLD_DECISIONS: dict[holds.HoldAction, passkeys.DecisionAction] = {
    "approve": "hold.approve",
    "release": "hold.release",
    "withdraw": "hold.withdraw",
}


def _hold_action(action: holds.HoldAction) -> Callable[..., HoldOut]:
    def endpoint(
        public_id: str,
        hold_id: RowId,
        session: DbSession,
        clock: AppClock,
        settings: AppSettings,
        actor: WatchOfficer,
        data: SignedIn | None = None,
    ) -> HoldOut:
        now = clock.now()
        decision = passkeys.Decision(action=HOLD_DECISIONS[action], message=public_id, hold=hold_id)
        hold = holds.act(
            session,
            action=action,
            public_id=public_id,
            hold_id=hold_id,
            officer_id=actor.user_id,
            now=now,
            assertion=_signed(
                session, settings, actor, decision, data.assertion if data else None, now
            ),
        )
        return views.hold_view(session, hold)

    endpoint.__name__ = f"{action}_hold"
    endpoint.__doc__ = {
        "approve": "Approve a hold (a second officer, never its requester): it takes effect now.",
        "release": "End a hold in force; the message is delivered at once.",
        "withdraw": "Take back a hold request that was never approved.",
    }[action]
    return endpoint


for _action in get_args(holds.HoldAction):
    router.add_api_route(
        f"/messages/{{public_id}}/holds/{{hold_id}}/{_action}",
        _hold_action(_action),
        methods=["POST"],
        response_model=HoldOut,
    )


@router.post(
    "/messages/{public_id}/attachments/{attachment_id}/quarantine", response_model=AttachmentOut
)
def quarantine(
    public_id: str,
    attachment_id: RowId,
    data: QuarantineIn,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: WatchOfficer,
) -> AttachmentOut:
    """Hold back one attachment; the message itself still goes through, with a notice."""
    now = clock.now()
    decision = passkeys.Decision(
        action="attachment.quarantine",
        message=public_id,
        fields={"attachment": attachment_id, "reason": data.reason},
    )
    attachment = holds.quarantine_attachment(
        session,
        public_id=public_id,
        attachment_id=attachment_id,
        officer_id=actor.user_id,
        reason=data.reason,
        now=now,
        assertion=_signed(session, settings, actor, decision, data.assertion, now),
    )
    return views.attachment_out(attachment)


@router.get("/messages/{public_id}/attachments/{attachment_id}", response_class=Response)
def download_attachment(
    public_id: str, attachment_id: RowId, session: DbSession, actor: CurrentActor
) -> Response:
    file = message_service.attachment_file(
        session, public_id=public_id, attachment_id=attachment_id, actor=actor
    )
    return Response(
        file.content,
        # Served as a download, never rendered: the sniffed type is informative only.
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{file.attachment.sha256[:16]}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/messages/{public_id}/read", response_model=MessageOut)
def mark_read(
    public_id: str, session: DbSession, clock: AppClock, actor: CurrentActor
) -> MessageOut:
    """A member of the addressee office opened the message (recorded once per member)."""
    message = message_service.read_by(session, public_id=public_id, actor=actor, now=clock.now())
    return views.message_out(session, message)


@router.post("/messages/{public_id}/acknowledge", response_model=MessageOut)
def acknowledge(
    public_id: str, session: DbSession, clock: AppClock, actor: CurrentActor
) -> MessageOut:
    """The addressee office acknowledges the message; the sender is told."""
    message = message_service.acknowledge_by(
        session, public_id=public_id, actor=actor, now=clock.now()
    )
    return views.message_out(session, message)


@router.post("/messages/{public_id}/replies", response_model=AcceptedOut, status_code=201)
def reply(
    public_id: str,
    data: ReplyIn,
    ledger: AppLedger,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    timetable: AppTimetable,
    limits: AppLimits,
    actor: CurrentActor,
) -> AcceptedOut:
    """Reply from the addressee office: the reply travels the same path back."""
    accepted = message_service.reply_by(
        session,
        public_id=public_id,
        actor=actor,
        body=data.body,
        body_format=data.body_format,
        language=data.language,
        precedence=data.precedence,
        subject=data.subject,
        now=clock.now(),
        timetable=timetable,
        limits=limits,
    )
    message = accepted.message
    return AcceptedOut.of(
        message,
        receipts.receipt_for(
            session,
            message,
            accepted.ledger_index,
            ledger=ledger,
            base_url=_base(settings),
        ),
    )


@router.get("/queue", response_model=list[MessageOut])
def watch_queue(session: DbSession, actor: QueueReader) -> list[MessageOut]:
    """The watch floor's queue: undelivered messages, most urgent first."""
    names = message_service.office_names(session)
    return [views.message_out(session, m, names=names) for m in message_service.queue(session)]


@router.get("/offices/{office_id}/inbox", response_model=list[MessageOut])
def inbox(
    office_id: RowId,
    session: DbSession,
    actor: CurrentActor,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_ROW_ID,
            description="Pages by sequence number instead: the last number of the page before.",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LEDGER_PAGE, description="A page's size, with after.")
    ] = MAX_LEDGER_PAGE,
) -> list[MessageOut]:
    """The office's inbox (its principal and staff): unread first; held messages shown as
    held. With ``after``, a page of it by sequence number (keyset), as ``pouch office
    check`` reads it beside the office's ledger."""
    if not access.answers_for(actor, office_id):
        raise PermissionDenied("only the principal and staff of this office read its inbox")
    names = message_service.office_names(session)
    if after is None:
        rows = message_service.inbox(session, office_id=office_id, user_id=actor.user_id)
        return [views.message_out(session, m, viewer=actor, names=names) for m, _ in rows]
    page = message_service.inbox_by_number(session, office_id=office_id, after=after, limit=limit)
    return [views.shown_out(m, viewer=actor, names=names) for m in page]


@router.get("/offices/{office_id}/ledger", response_model=list[LedgerOpeningOut])
def office_ledger(
    office_id: RowId,
    session: DbSession,
    actor: CurrentActor,
    after: Annotated[
        int,
        Query(ge=0, le=MAX_ROW_ID, description="The last sequence number of the page before."),
    ] = 0,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_LEDGER_PAGE, description="At most this many (a page).")
    ] = None,
) -> list[LedgerOpeningOut]:
    """The openings of the messages accepted for the office, by sequence number: with them
    the office checks the log and finds gaps (``pouch office check``). Every one, or a
    page: the ``limit`` numbered after ``after``."""
    if not access.may_read_office_ledger(actor, office_id):
        raise PermissionDenied("only members of this office and auditors see its ledger")
    listing = message_service.office_listing(session, office_id=office_id, after=after, limit=limit)
    return [views.listed_out(listed) for listed in listing]


@router.post("/offices/{office_id}/tag-key", response_model=TagKeyOut)
def rotate_tag_key(
    office_id: RowId, session: DbSession, clock: AppClock, actor: CurrentActor
) -> TagKeyOut:
    """A new tag key for the office (its administrators only), shown once and never
    again: with it the office finds, in the public log, every entry about it
    (docs/log-format.md). Recorded as tag-key.rotated, tagged with the old key; the
    first rotation also hands over the key Pouch made at the office's first event."""
    rotation = office_tags.rotate_key(session, office_id=office_id, actor=actor, now=clock.now())
    return views.tag_key_out(office_id, rotation)


@router.get("/log/openings/{index}", response_model=OpeningOut, tags=["log"])
def log_opening(index: LogIndex, session: DbSession, actor: CurrentActor) -> OpeningOut:
    """The opening of log entry index (its salt, event and tags), to a member of an office
    its event concerns, or an operations reader: what an office's monitor asks for
    each entry where it found its tag. 404 for an index not logged."""
    return OpeningOut.of(office_tags.opening_for(session, index=index, actor=actor))


@router.post("/log/openings", response_model=OpeningsOut, tags=["log"])
def log_openings(data: OpeningsIn, session: DbSession, actor: CurrentActor) -> OpeningsOut:
    """The openings of up to 500 log entries at once, each answered as
    GET /api/log/openings/{index} would (200 with the opening, or 403, 404, 500 with the
    reason): how an office's monitor opens the entries where it found its tags."""
    answers = office_tags.openings_for(session, indexes=data.indexes, actor=actor)
    return OpeningsOut(
        answers=[
            OpeningAnswer(
                index=a.index,
                status=a.status,
                opening=OpeningOut.of(a.opening) if a.opening is not None else None,
                problem=a.problem,
                type=a.type,
            )
            for a in answers
        ]
    )


@router.get("/offices/{office_id}/endpoint", response_model=EndpointOut)
def get_endpoint(office_id: RowId, session: DbSession, actor: CurrentActor) -> EndpointOut:
    """Where the office's notices go now: to its own members, administrators of Pouch and
    auditors (an office checks nobody pointed them elsewhere)."""
    if not access.may_read_endpoint(actor, office_id):
        raise PermissionDenied("only the office's members, administrators and auditors see this")
    endpoint = notify.endpoint_of(session, office_id)
    return EndpointOut(
        office_id=office_id,
        webhook_url=endpoint.webhook_url if endpoint else None,
        email=endpoint.email if endpoint else None,
    )


@router.put("/offices/{office_id}/endpoint", response_model=EndpointOut)
def set_endpoint(
    office_id: RowId,
    data: EndpointIn,
    session: DbSession,
    settings: AppSettings,
    clock: AppClock,
    actor: OfficeAdmin,
) -> EndpointOut:
    """Where the office is notified: a webhook (signed; the secret is shown once) and e-mail.
    The webhook must be https on a public host unless the operator allows otherwise. A
    change is logged and told to the office at its old and new addresses."""
    done = notify.set_endpoint(
        session,
        office_id=office_id,
        webhook_url=data.webhook_url,
        email=data.email,
        policy=outbox.policy_of(settings),
        by=actor.user_id,
        now=clock.now(),
    )
    return EndpointOut(
        office_id=office_id,
        webhook_url=done.endpoint.webhook_url,
        email=done.endpoint.email,
        webhook_secret=done.new_secret,
    )


@router.get("/outbox", response_model=list[NoticeOut])
def outbox_notices(
    session: DbSession, _: OperationsWatcher, state: Literal["waiting", "failed"] = "failed"
) -> list[NoticeOut]:
    """Notices not sent (auditors, administrators): those given up on, or still tried."""
    return [
        NoticeOut.model_validate(notice, from_attributes=True)
        for notice in outbox.pending(session, failed=state == "failed")
    ]


@router.get("/worker/failures", response_model=list[WorkFailureOut])
def worker_failures(session: DbSession, _: OperationsWatcher) -> list[WorkFailureOut]:
    """Rows the deadline worker failed on and is still trying, newest first."""
    return [
        WorkFailureOut.model_validate(failure, from_attributes=True)
        for failure in worker.open_failures(session)
    ]
