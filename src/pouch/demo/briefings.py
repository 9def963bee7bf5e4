"""The demo's prepared calls: the first confirmed call has a cleared briefing packet;
the second was held (placed, connected, completed) and its memcon is filed.

Every step goes through the services an officer's click would call, as that officer:
the desk (watch1) designates and moves, staff write the briefing and take the notes,
the protocol officer clears.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.briefings import papers, progress
from pouch.briefings.models import CallRecord
from pouch.briefings.states import CallState, ParticipantKind
from pouch.calls.models import CallRequest, CallStatus
from pouch.identity import service as identity_service

TALKING_POINTS = [
    "Thank the leader for the early congratulations and the letter of last week.",
    "Propose a working visit in the first hundred days.",
    "Raise the shared interest in energy security; ask for their view.",
    "Avoid commitments on tariffs before the transition team's review.",
]
BACKGROUND = (
    "Relations are close and the leader's office writes often; their letters of the last "
    "weeks are listed below.\n\n"
    "The leader will ask about the trade framework; the answer is that the review starts "
    "after inauguration."
)


def load_briefings(session: Session, *, now: datetime, max_points: int) -> str:
    """Prepare two of the demo's confirmed calls; returns one sentence for the summary."""
    if session.scalar(select(func.count()).select_from(CallRecord)):
        return "Briefings: already loaded."
    calls = list(
        session.scalars(
            select(CallRequest.public_id)
            .where(CallRequest.status == CallStatus.CONFIRMED)
            .order_by(CallRequest.id)
            .limit(2)
        )
    )
    if not calls:
        return "Briefings: no confirmed call to prepare."

    def actor(username: str) -> identity_service.Actor:
        user = identity_service.get_user_by_username(session, username)
        return identity_service.actor_for_user(session, user)

    desk, staff, protocol = actor("watch1"), actor("staff"), actor("protocol")
    for call in calls:
        for username, kind in [
            ("interpreter", ParticipantKind.INTERPRETER),
            ("staff", ParticipantKind.NOTETAKER),
            ("protocol", ParticipantKind.CLEARING),
        ]:
            progress.designate(
                session,
                call,
                user_id=identity_service.get_user_by_username(session, username).id,
                kind=kind,
                actor=desk,
                now=now,
            )
        papers.save_briefing(
            session,
            call,
            talking_points=TALKING_POINTS,
            background=BACKGROUND,
            pronunciation="",
            actor=staff,
            now=now,
        )
        papers.submit(session, call, kind=papers.BRIEFING, actor=staff, now=now)
        papers.clear(
            session, call, kind=papers.BRIEFING, actor=protocol, now=now, max_points=max_points
        )
    summary = f"Briefings: a cleared packet for {calls[0]}"
    if len(calls) > 1:
        held = calls[1]
        progress.check_in(session, held, actor=staff, now=now)
        for state in (CallState.PLACING, CallState.CONNECTED, CallState.COMPLETED):
            progress.move(session, held, target=state, actor=desk, note="", now=now)
        papers.save_memcon(
            session,
            held,
            participants="The President-elect; the leader; Ines Interpreter; Sam Staff (notes)",
            date_time_place=f"{now:%d %B %Y, %H:%M} UTC, by phone, the operations center",
            conversation=(
                "The President-elect thanked the leader for the congratulations.\n\n"
                "The leader raised the trade framework and proposed a working visit."
            ),
            summary="Warm call; a working visit to be arranged; trade after the review.",
            actor=staff,
            now=now,
        )
        papers.submit(session, held, kind=papers.MEMCON, actor=staff, now=now)
        papers.clear(
            session, held, kind=papers.MEMCON, actor=protocol, now=now, max_points=max_points
        )
        summary += f"; {held} held, its memcon filed"
    return summary + "."
