"""A call's page: its state and steps, the briefing and its packets, the memcon.

``/briefings/{call_id}`` shows whoever may see the call (``briefings.access``)
what it may see, and the forms of what it may do; a refused form comes back
with the page, the text as typed and the reason beside the form. The packet's
PDF is ``/briefings/{call_id}/packet.pdf``. Same services, same rules, as the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pouch.briefings import access, papers, progress, views
from pouch.briefings.states import NEXT, CallState, ParticipantKind
from pouch.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pouch.identity import service as identity_service
from pouch.identity.service import Actor
from pouch.settings import Settings
from pouch.web import render
from pouch.web.deps import AppClock, AppSettings, AuthorizePage, DbSession

router = APIRouter(tags=["pages"], include_in_schema=False)

Reader = Annotated[Actor, Depends(AuthorizePage(*access.READER_ROLES, where="any"))]
Participant = Annotated[Actor, Depends(AuthorizePage(*access.PARTICIPANT_ROLES, where="any"))]

NOTICES = {
    "moved": "The call's state is recorded.",
    "briefing": "The briefing is saved as a new version.",
    "memcon": "The memcon is saved as a new version.",
    "submitted": "Submitted to the clearing officer.",
    "cleared": "Cleared.",
    "returned": "Returned to its writers with your comments.",
    "checked-in": "You are checked in.",
    "designated": "Designated.",
}
#: Form errors that come back inline with the page, rather than as an error page.
INLINE = (InvalidInput, Conflict, PermissionDenied)


def _context(
    session: DbSession, call_id: str, actor: Actor, settings: Settings, **extra: Any
) -> dict[str, Any]:
    context = progress.load(session, call_id, actor=actor)
    office = context.request.principal_office_id
    state = context.state
    briefing = views.briefing_out(session, context, max_points=settings.briefing_max_talking_points)
    issued = papers.packets(session, context)
    return {
        "actor": actor,
        "call": context,
        "run": views.run_out(session, context),
        "briefing": briefing,
        # The principal reads the packet as issued; the draft only until there is one.
        "packet": issued[-1].content if issued else briefing.packet,
        "as_issued": bool(issued),
        "memcon": papers.view(session, context, papers.MEMCON),
        "moves": sorted(NEXT[state]) if state is not None else [],
        "can_run": access.runs_calls(actor),
        "can_brief": access.writes_briefing(actor, principal_office_id=office),
        "takes_notes": access.takes_notes(actor, context.participants),
        "clears": access.clears(actor, context.participants),
        "checks_in": bool(access.checks_in_as(actor, context.participants)),
        "kinds": list(ParticipantKind),
        **extra,
    }


@router.get("/briefings/{call_id}")
def call_page(
    call_id: str, request: Request, session: DbSession, settings: AppSettings, actor: Reader
) -> Response:
    return render.page(
        request, "briefing.html", _context(session, call_id, actor, settings), notices=NOTICES
    )


@router.get("/briefings/{call_id}/packet.pdf")
def packet_pdf(call_id: str, session: DbSession, actor: Reader) -> Response:
    issued = papers.latest_packet(session, progress.load(session, call_id, actor=actor))
    return Response(
        issued.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{call_id}-packet-{issued.number}.pdf"'
        },
    )


def _refused(
    request: Request,
    session: DbSession,
    settings: Settings,
    call_id: str,
    actor: Actor,
    form: str,
    error: Exception,
    **typed: Any,
) -> Response:
    # The page again with what was typed; the error beside the form it concerns. Nothing
    # of the refused action is kept (a record it began, a step): its writes roll back.
    session.rollback()
    detail = getattr(error, "detail", str(error))
    context = _context(session, call_id, actor, settings, errors={form: detail}, typed=typed)
    status = getattr(error, "status", 400)
    return render.page(request, "briefing.html", context, status_code=status)


@router.post("/briefings/{call_id}/steps")
def move(
    call_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Participant,
    state: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        progress.move(
            session, call_id, target=CallState(state), actor=actor, note=note, now=clock.now()
        )
    except ValueError:
        error = InvalidInput(f"{state!r} is not a state of a call")
        return _refused(request, session, settings, call_id, actor, "steps", error)
    except INLINE as error:
        return _refused(request, session, settings, call_id, actor, "steps", error)
    return render.back(f"/briefings/{call_id}", "/calls", "moved")


@router.post("/briefings/{call_id}/participants")
def designate(
    call_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Participant,
    username: Annotated[str, Form(max_length=64)],
    kind: Annotated[ParticipantKind, Form()],
) -> Response:
    try:
        try:
            user = identity_service.get_user_by_username(session, username.strip())
        except NotFound:
            raise InvalidInput(f"no user {username!r}") from None
        progress.designate(
            session, call_id, user_id=user.id, kind=kind, actor=actor, now=clock.now()
        )
    except INLINE as error:
        return _refused(request, session, settings, call_id, actor, "participants", error)
    return render.back(f"/briefings/{call_id}", "/calls", "designated")


@router.post("/briefings/{call_id}/check-in")
def check_in(
    call_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Participant,
) -> Response:
    try:
        progress.check_in(session, call_id, actor=actor, now=clock.now())
    except INLINE as error:
        return _refused(request, session, settings, call_id, actor, "check-in", error)
    return render.back(f"/briefings/{call_id}", "/calls", "checked-in")


@router.post("/briefings/{call_id}/briefing")
def save_briefing(
    call_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Participant,
    talking_points: Annotated[str, Form(max_length=50_000)] = "",
    background: Annotated[str, Form(max_length=100_000)] = "",
    pronunciation: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        papers.save_briefing(
            session,
            call_id,
            talking_points=talking_points.replace("\r", "").split("\n"),
            background=background.replace("\r", ""),
            pronunciation=pronunciation,
            actor=actor,
            now=clock.now(),
        )
    except INLINE as error:
        return _refused(
            request,
            session,
            settings,
            call_id,
            actor,
            "briefing",
            error,
            talking_points=talking_points,
            background=background,
            pronunciation=pronunciation,
        )
    return render.back(f"/briefings/{call_id}", "/calls", "briefing")


@router.post("/briefings/{call_id}/memcon")
def save_memcon(
    call_id: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Participant,
    participants: Annotated[str, Form(max_length=10_000)] = "",
    date_time_place: Annotated[str, Form(max_length=1000)] = "",
    conversation: Annotated[str, Form(max_length=100_000)] = "",
    summary: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    try:
        if not conversation.strip():
            raise InvalidInput("write the conversation before saving")
        papers.save_memcon(
            session,
            call_id,
            participants=participants.replace("\r", ""),
            date_time_place=date_time_place,
            conversation=conversation.replace("\r", ""),
            summary=summary.replace("\r", ""),
            actor=actor,
            now=clock.now(),
        )
    except INLINE as error:
        return _refused(
            request,
            session,
            settings,
            call_id,
            actor,
            "memcon",
            error,
            participants=participants,
            date_time_place=date_time_place,
            conversation=conversation,
            summary=summary,
        )
    return render.back(f"/briefings/{call_id}", "/calls", "memcon")


@router.post("/briefings/{call_id}/{kind}/{action}")
def clearance(
    call_id: str,
    kind: str,
    action: str,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Participant,
    comments: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    form = f"{kind}-clearance"
    try:
        if kind not in papers.KINDS or action not in ("submit", "clear", "return"):
            raise InvalidInput(f"no action {action!r} on a {kind!r}")
        now = clock.now()
        if action == "submit":
            papers.submit(session, call_id, kind=kind, actor=actor, now=now)
        elif action == "clear":
            papers.clear(
                session,
                call_id,
                kind=kind,
                actor=actor,
                now=now,
                max_points=settings.briefing_max_talking_points,
            )
        else:
            if not comments.strip():
                raise InvalidInput("say what is to change before returning it")
            papers.return_paper(
                session, call_id, kind=kind, comments=comments, actor=actor, now=now
            )
    except INLINE as error:
        return _refused(request, session, settings, call_id, actor, form, error, comments=comments)
    notice = {"submit": "submitted", "clear": "cleared", "return": "returned"}[action]
    return render.back(f"/briefings/{call_id}", "/calls", notice)
