"""A call's run and papers as the API and the pages show them (shared below both)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.briefings import packet, papers
from pouch.briefings.progress import CallContext
from pouch.briefings.schemas import (
    BriefingOut,
    CallRunOut,
    PacketOut,
    PaperOut,
    ParticipantOut,
    StepOut,
    VersionOut,
)
from pouch.calls.models import CallRequest
from pouch.web.render import display_names


def run_out(session: Session, context: CallContext) -> CallRunOut:
    record = context.record
    follow_up = None
    if record is not None and record.follow_up_request_id is not None:
        follow_up = session.scalar(
            select(CallRequest.public_id).where(CallRequest.id == record.follow_up_request_id)
        )
    participants = list(record.participants) if record is not None else []
    names = display_names(session, [p.user_id for p in participants])
    return CallRunOut(
        call_id=context.public_id,
        state=context.state,
        mode=record.mode if record is not None else "phone",
        placed_by=record.placed_by if record is not None else "us",
        start=context.slot.start if context.slot is not None else None,
        end=context.slot.end if context.slot is not None else None,
        follow_up_call_id=follow_up,
        steps=[StepOut.model_validate(step) for step in (record.steps if record else [])],
        participants=[
            ParticipantOut(
                user_id=p.user_id,
                name=names.get(p.user_id, str(p.user_id)),
                kind=p.kind,
                checked_in_at=p.checked_in_at,
            )
            for p in participants
        ],
    )


def paper_out(context: CallContext, view: papers.PaperView) -> dict[str, Any]:
    return PaperOut(
        call_id=context.public_id,
        kind=view.kind,
        clearance=view.clearance,
        comments=view.comments,
        cleared_version=view.cleared_version,
        cleared_sha256=view.cleared_sha256,
        versions=[VersionOut.model_validate(v) for v in view.versions],
    ).model_dump()


def briefing_out(session: Session, context: CallContext, *, max_points: int) -> BriefingOut:
    draft = packet.gather(session, context, max_points=max_points, issued_at=None)
    return BriefingOut(
        **paper_out(context, papers.view(session, context, papers.BRIEFING)),
        flag=draft["flag"],
        packet=draft,
        packets=[PacketOut.model_validate(p) for p in papers.packets(session, context)],
    )
