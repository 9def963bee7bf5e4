"""JSON API of a call's run and papers, under ``/api/calls/{call_id}``.

``call_id`` is the call request's id (``c-…``). Who may do what is
``pouch.briefings.access``'s; the gates below admit the roles that could, and
the service decides for the call at hand (to a caller who may not see the call
it does not exist). No sender role passes any gate here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from pouch.briefings import access, papers, progress, views
from pouch.briefings.schemas import (
    BriefingIn,
    BriefingOut,
    CallRunOut,
    LogisticsIn,
    MemconIn,
    PacketOut,
    PaperOut,
    ParticipantIn,
    ReturnIn,
    StepIn,
)
from pouch.calls import access as calls_access
from pouch.identity.service import Actor
from pouch.web.deps import AppClock, AppSettings, Authorize, DbSession

router = APIRouter(prefix="/api/calls/{call_id}", tags=["briefings"])

PDF = "application/pdf"

Reader = Annotated[Actor, Depends(Authorize(*access.READER_ROLES, where="any"))]
Participant = Annotated[Actor, Depends(Authorize(*access.PARTICIPANT_ROLES, where="any"))]
Writer = Annotated[Actor, Depends(Authorize(*access.BRIEFING_WRITER_ROLES, where="any"))]
Desk = Annotated[Actor, Depends(Authorize(*calls_access.MANAGER_ROLES))]


# --- the call itself ---------------------------------------------------------------


@router.get("/run", response_model=CallRunOut)
def get_run(call_id: str, session: DbSession, actor: Reader) -> CallRunOut:
    """The call's state, steps (each with its time, actor and log index) and participants."""
    return views.run_out(session, progress.load(session, call_id, actor=actor))


@router.post("/run/steps", response_model=CallRunOut)
def move_call(
    call_id: str, data: StepIn, session: DbSession, clock: AppClock, actor: Desk
) -> CallRunOut:
    """Move the call: confirmed, placing, connected, completed, missed, rescheduled or
    cancelled (the call desk). An illegal move is 409 and says which moves are allowed; a
    missed or rescheduled call goes back to the scheduler as a follow-up request."""
    context = progress.move(
        session, call_id, target=data.state, actor=actor, note=data.note, now=clock.now()
    )
    return views.run_out(session, context)


@router.put("/run/logistics", response_model=CallRunOut)
def set_logistics(
    call_id: str, data: LogisticsIn, session: DbSession, clock: AppClock, actor: Desk
) -> CallRunOut:
    """Phone or video, and who places the call (the call desk)."""
    context = progress.set_logistics(
        session, call_id, mode=data.mode, placed_by=data.placed_by, actor=actor, now=clock.now()
    )
    return views.run_out(session, context)


@router.post("/run/participants", response_model=CallRunOut)
def designate(
    call_id: str, data: ParticipantIn, session: DbSession, clock: AppClock, actor: Desk
) -> CallRunOut:
    """Designate an interpreter, a notetaker or the clearing officer (the call desk)."""
    context = progress.designate(
        session, call_id, user_id=data.user_id, kind=data.kind, actor=actor, now=clock.now()
    )
    return views.run_out(session, context)


@router.post("/run/check-in", response_model=CallRunOut)
def check_in(call_id: str, session: DbSession, clock: AppClock, actor: Participant) -> CallRunOut:
    """The caller checks in as the call's interpreter or notetaker."""
    return views.run_out(session, progress.check_in(session, call_id, actor=actor, now=clock.now()))


# --- the briefing and its packets ----------------------------------------------------------


@router.get("/briefing", response_model=BriefingOut)
def get_briefing(
    call_id: str, session: DbSession, settings: AppSettings, actor: Reader
) -> BriefingOut:
    """The briefing with every version, the packet as it would read now, and the packets
    issued."""
    context = progress.load(session, call_id, actor=actor)
    return views.briefing_out(session, context, max_points=settings.briefing_max_talking_points)


@router.put("/briefing", response_model=PaperOut)
def save_briefing(
    call_id: str, data: BriefingIn, session: DbSession, clock: AppClock, actor: Writer
) -> Any:
    """A new version of the talking points and background (the desk, the principal's staff)."""
    view = papers.save_briefing(
        session,
        call_id,
        talking_points=data.talking_points,
        background=data.background,
        pronunciation=data.pronunciation,
        actor=actor,
        now=clock.now(),
    )
    return views.paper_out(progress.load(session, call_id, actor=None), view)


@router.get("/packets", response_model=list[PacketOut])
def list_packets(call_id: str, session: DbSession, actor: Reader) -> list[PacketOut]:
    """The packets issued for the call, each with the SHA-256 logged for it."""
    context = progress.load(session, call_id, actor=actor)
    return [PacketOut.model_validate(p) for p in papers.packets(session, context)]


@router.get(
    "/packet.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}, "description": "The latest packet issued."}},
)
def packet_pdf(call_id: str, session: DbSession, actor: Reader) -> Response:
    """The latest packet's PDF, byte for byte the one whose SHA-256 was logged."""
    issued = papers.latest_packet(session, progress.load(session, call_id, actor=actor))
    return Response(
        issued.pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{call_id}-packet-{issued.number}.pdf"',
            "Digest-SHA256": issued.sha256,
        },
    )


# --- the memorandum of conversation ------------------------------------------------------


@router.get("/memcon", response_model=PaperOut)
def get_memcon(call_id: str, session: DbSession, actor: Reader) -> Any:
    """The memcon with every version (the principal's office, auditors, the desk, the call's
    participants; never a sender office)."""
    context = progress.load(session, call_id, actor=actor)
    return views.paper_out(context, papers.view(session, context, papers.MEMCON))


@router.put("/memcon", response_model=PaperOut)
def save_memcon(
    call_id: str, data: MemconIn, session: DbSession, clock: AppClock, actor: Participant
) -> Any:
    """A new version of the memcon (the call's notetakers, once it is connected)."""
    view = papers.save_memcon(
        session,
        call_id,
        participants=data.participants,
        date_time_place=data.date_time_place,
        conversation=data.conversation,
        summary=data.summary,
        actor=actor,
        now=clock.now(),
    )
    return views.paper_out(progress.load(session, call_id, actor=None), view)


@router.get(
    "/memcon/filed",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "The filed memcon."}},
)
def filed_memcon(call_id: str, session: DbSession, actor: Reader) -> Response:
    """The filed version's document, byte for byte the one whose SHA-256 was logged."""
    context = progress.load(session, call_id, actor=actor)
    return Response(papers.filed_memcon(session, context), media_type="application/json")


def _clearance_routes(kind: str) -> None:
    """Submit, clear, return: the same three steps for both papers."""

    @router.post(f"/{kind}/submit", response_model=PaperOut, name=f"submit_{kind}")
    def submit(call_id: str, session: DbSession, clock: AppClock, actor: Participant) -> Any:
        view = papers.submit(session, call_id, kind=kind, actor=actor, now=clock.now())
        return views.paper_out(progress.load(session, call_id, actor=None), view)

    @router.post(f"/{kind}/clear", response_model=PaperOut, name=f"clear_{kind}")
    def clear(
        call_id: str,
        session: DbSession,
        clock: AppClock,
        settings: AppSettings,
        actor: Participant,
    ) -> Any:
        view = papers.clear(
            session,
            call_id,
            kind=kind,
            actor=actor,
            now=clock.now(),
            max_points=settings.briefing_max_talking_points,
        )
        return views.paper_out(progress.load(session, call_id, actor=None), view)

    @router.post(f"/{kind}/return", response_model=PaperOut, name=f"return_{kind}")
    def return_paper(
        call_id: str, data: ReturnIn, session: DbSession, clock: AppClock, actor: Participant
    ) -> Any:
        view = papers.return_paper(
            session, call_id, kind=kind, comments=data.comments, actor=actor, now=clock.now()
        )
        return views.paper_out(progress.load(session, call_id, actor=None), view)

    submit.__doc__ = f"Send the {kind}'s latest version to the clearing officer."
    clear.__doc__ = f"Clear the {kind} (the call's clearing officer, not its writer): " + (
        "the packet is issued." if kind == papers.BRIEFING else "it is filed."
    )
    return_paper.__doc__ = f"Return the {kind} to its writers with comments."


for _kind in papers.KINDS:
    _clearance_routes(_kind)
