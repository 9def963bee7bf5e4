"""A call's papers: the briefing (talking points and background) and the memcon.

Both follow one clearance (``states``): drafted, every save a new version kept;
submitted; then the call's designated clearing officer clears it or returns it
with comments, never a version they wrote. A briefing cleared issues a packet:
its PDF typeset, kept, and its SHA-256 logged (``packet.issued``). A memcon
cleared is filed: the SHA-256 of its filed version's document
(``memcon_document``) is logged (``memcon.filed``). Events about papers carry
the principal's office only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.briefings import access, packet, progress, typeset
from pouch.briefings.models import Packet, Paper, PaperVersion
from pouch.briefings.progress import CallContext
from pouch.briefings.states import (
    EDITABLE,
    MEMCON_STATES,
    CallState,
    Clearance,
    may_clear,
)
from pouch.errors import Conflict, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.identity.service import Actor
from pouch.ledger import service as ledger_service

BRIEFING = "briefing"
MEMCON = "memcon"
KINDS = (BRIEFING, MEMCON)

_EVENTS = {
    (BRIEFING, Clearance.SUBMITTED): EventKind.BRIEFING_SUBMITTED,
    (BRIEFING, Clearance.RETURNED): EventKind.BRIEFING_RETURNED,
    (BRIEFING, Clearance.CLEARED): EventKind.PACKET_ISSUED,
    (MEMCON, Clearance.SUBMITTED): EventKind.MEMCON_SUBMITTED,
    (MEMCON, Clearance.RETURNED): EventKind.MEMCON_RETURNED,
    (MEMCON, Clearance.CLEARED): EventKind.MEMCON_FILED,
}


@dataclass(frozen=True)
class PaperView:
    kind: str
    clearance: Clearance | None
    comments: str
    versions: list[PaperVersion]
    cleared_sha256: str | None
    cleared_version: int | None

    @property
    def latest(self) -> PaperVersion | None:
        return self.versions[-1] if self.versions else None


def _paper(session: Session, context: CallContext, kind: str) -> Paper | None:
    if context.record is None:
        return None
    return session.scalar(
        select(Paper).where(Paper.record_id == context.record.id, Paper.kind == kind)
    )


def view(session: Session, context: CallContext, kind: str) -> PaperView:
    """The paper as it stands, with every version (none yet: no clearance)."""
    paper = _paper(session, context, kind)
    if paper is None:
        return PaperView(kind, None, "", [], None, None)
    return PaperView(
        kind,
        paper.clearance,
        paper.comments,
        list(paper.versions),
        paper.cleared_sha256,
        paper.cleared_version,
    )


def memcon_document(public_id: str, version: PaperVersion) -> bytes:
    """The bytes a filed memcon's SHA-256 is taken over: its version as canonical JSON.

    >>> v = PaperVersion(number=2, content={"summary": "Agreed", "conversation": "…"})
    >>> memcon_document("c-1", v)
    b'{"call":"c-1","content":{"conversation":"\\xe2\\x80\\xa6","summary":"Agreed"},"version":2}'
    """
    document = {"call": public_id, "version": version.number, "content": version.content}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _save(
    session: Session,
    context: CallContext,
    kind: str,
    content: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> PaperView:
    record = progress.ensure_record(session, context, now=now)
    paper = _paper(session, context, kind)
    if paper is None:
        paper = Paper(record_id=record.id, kind=kind, clearance=Clearance.DRAFT, updated_at=now)
        session.add(paper)
        session.flush()
    if paper.clearance == Clearance.SUBMITTED:
        raise Conflict(f"the {kind} is with the clearing officer: wait until it is returned")
    if paper.clearance == Clearance.CLEARED and kind == MEMCON:
        raise Conflict("the memcon is filed: it is not changed any more")
    number = (paper.versions[-1].number if paper.versions else 0) + 1
    paper.versions.append(
        PaperVersion(number=number, content=content, author_user_id=actor.user_id, created_at=now)
    )
    if paper.clearance not in EDITABLE or paper.clearance == Clearance.RETURNED:
        paper.clearance = Clearance.DRAFT  # a cleared briefing edited: a new draft
    paper.updated_at = now
    session.flush()
    return view(session, context, kind)


def save_briefing(
    session: Session,
    public_id: str,
    *,
    talking_points: list[str],
    background: str,
    pronunciation: str,
    actor: Actor,
    now: datetime,
) -> PaperView:
    """A new version of the call's briefing, by the desk or the principal's staff."""
    context = progress.load(session, public_id, actor=actor)
    if not access.writes_briefing(actor, principal_office_id=context.request.principal_office_id):
        raise PermissionDenied("the call desk and the principal's staff write the briefing")
    if context.state in {CallState.CANCELLED, CallState.RESCHEDULED, CallState.MISSED}:
        raise Conflict(f"the call is {context.state}: its briefing is closed")
    content = {
        "talking_points": [p.strip() for p in talking_points if p.strip()],
        "background": background.strip(),
        "pronunciation": pronunciation.strip(),
    }
    return _save(session, context, BRIEFING, content, actor, now)


def save_memcon(
    session: Session,
    public_id: str,
    *,
    participants: str,
    date_time_place: str,
    conversation: str,
    summary: str,
    actor: Actor,
    now: datetime,
) -> PaperView:
    """A new version of the call's memcon, by one of its notetakers, during or after it."""
    context = progress.load(session, public_id, actor=actor)
    if not access.takes_notes(actor, context.participants):
        raise PermissionDenied("the call's notetakers write its memcon")
    if context.state not in MEMCON_STATES:
        raise Conflict(f"the call is {context.state}: a memcon is written once it is connected")
    content = {
        "participants": participants.strip(),
        "date_time_place": date_time_place.strip(),
        "conversation": conversation.strip(),
        "summary": summary.strip(),
    }
    return _save(session, context, MEMCON, content, actor, now)


def _existing(session: Session, context: CallContext, kind: str) -> Paper:
    paper = _paper(session, context, kind)
    if paper is None or not paper.versions:
        raise NotFound(f"the call {context.public_id} has no {kind} yet")
    return paper


def _move_paper(paper: Paper, kind: str, target: Clearance) -> None:
    if not may_clear(paper.clearance, target):
        raise Conflict(f"a {paper.clearance} {kind} cannot become {target}")


def _record(
    session: Session,
    context: CallContext,
    kind: str,
    target: Clearance,
    details: dict[str, Any],
    now: datetime,
) -> int:
    return ledger_service.record_event(
        session,
        kind=_EVENTS[(kind, target)],
        at=now,
        details={"call": context.public_id, **details},
        parties=[context.request.principal_office_id],
    ).index


def submit(
    session: Session, public_id: str, *, kind: str, actor: Actor, now: datetime
) -> PaperView:
    """Send the paper's latest version to the clearing officer, logged."""
    context = progress.load(session, public_id, actor=actor)
    may_write = (
        access.takes_notes(actor, context.participants)
        if kind == MEMCON
        else access.writes_briefing(actor, principal_office_id=context.request.principal_office_id)
    )
    if not may_write:
        raise PermissionDenied(f"only those who write the {kind} submit it")
    paper = _existing(session, context, kind)
    _move_paper(paper, kind, Clearance.SUBMITTED)
    version = paper.versions[-1].number
    _record(
        session, context, kind, Clearance.SUBMITTED, {"version": version, "by": actor.user_id}, now
    )
    paper.clearance, paper.comments, paper.updated_at = Clearance.SUBMITTED, "", now
    session.flush()
    return view(session, context, kind)


def _clearing(session: Session, context: CallContext, kind: str, actor: Actor) -> Paper:
    if not access.clears(actor, context.participants):
        raise PermissionDenied(f"only the call's designated clearing officer clears its {kind}")
    paper = _existing(session, context, kind)
    if paper.versions[-1].author_user_id == actor.user_id:
        raise PermissionDenied(f"you wrote this version of the {kind}: another officer clears it")
    return paper


def return_paper(
    session: Session, public_id: str, *, kind: str, comments: str, actor: Actor, now: datetime
) -> PaperView:
    """Send the paper back to its writers with the clearing officer's comments, logged."""
    context = progress.load(session, public_id, actor=actor)
    paper = _clearing(session, context, kind, actor)
    _move_paper(paper, kind, Clearance.RETURNED)
    _record(
        session,
        context,
        kind,
        Clearance.RETURNED,
        {"version": paper.versions[-1].number, "by": actor.user_id},
        now,
    )
    paper.clearance, paper.comments, paper.updated_at = Clearance.RETURNED, comments.strip(), now
    session.flush()
    return view(session, context, kind)


def clear(
    session: Session,
    public_id: str,
    *,
    kind: str,
    actor: Actor,
    now: datetime,
    max_points: int,
) -> PaperView:
    """Clear the paper: a briefing issues its packet (PDF kept, SHA-256 logged), a memcon
    is filed (its document's SHA-256 logged)."""
    context = progress.load(session, public_id, actor=actor)
    paper = _clearing(session, context, kind, actor)
    _move_paper(paper, kind, Clearance.CLEARED)
    version = paper.versions[-1]
    if kind == MEMCON:
        if context.state != CallState.COMPLETED:
            raise Conflict(f"the call is {context.state}: a memcon is filed once it is completed")
        digest = hashlib.sha256(memcon_document(public_id, version)).hexdigest()
        _record(
            session,
            context,
            kind,
            Clearance.CLEARED,
            {"version": version.number, "sha256": digest, "by": actor.user_id},
            now,
        )
    else:
        content = packet.gather(session, context, max_points=max_points, issued_at=now)
        document = typeset.pdf(packet.printable(content), at=now)
        digest = hashlib.sha256(document).hexdigest()
        assert context.record is not None
        number = (
            session.scalar(
                select(func.max(Packet.number)).where(Packet.record_id == context.record.id)
            )
            or 0
        ) + 1
        index = _record(
            session,
            context,
            kind,
            Clearance.CLEARED,
            {"packet": number, "version": version.number, "sha256": digest, "by": actor.user_id},
            now,
        )
        session.add(
            Packet(
                record_id=context.record.id,
                number=number,
                briefing_version=version.number,
                content=content,
                pdf=document,
                sha256=digest,
                issued_at=now,
                cleared_by_user_id=actor.user_id,
                ledger_index=index,
            )
        )
    paper.clearance, paper.comments, paper.updated_at = Clearance.CLEARED, "", now
    paper.cleared_sha256, paper.cleared_version = digest, version.number
    session.flush()
    return view(session, context, kind)


def packets(session: Session, context: CallContext) -> list[Packet]:
    """The packets issued for the call, oldest first."""
    if context.record is None:
        return []
    return list(
        session.scalars(
            select(Packet).where(Packet.record_id == context.record.id).order_by(Packet.number)
        )
    )


def latest_packet(session: Session, context: CallContext) -> Packet:
    issued = packets(session, context)
    if not issued:
        raise NotFound(
            f"no packet has been issued for {context.public_id}: the briefing is not cleared"
        )
    return issued[-1]


def filed_memcon(session: Session, context: CallContext) -> bytes:
    """The filed memcon's document (``memcon_document``), as hashed when it was filed."""
    paper = _paper(session, context, MEMCON)
    if paper is None or paper.clearance != Clearance.CLEARED or paper.cleared_version is None:
        raise NotFound(f"the memcon of {context.public_id} is not filed")
    version = next(v for v in paper.versions if v.number == paper.cleared_version)
    return memcon_document(context.public_id, version)
