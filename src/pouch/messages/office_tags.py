"""An office's tags: its key, and the openings its monitor asks for.

Every event about a message carries, in its log entry, a tag of its
addressee office and one of its sender office (``pouch.ledger.tags``); an
office walking the public log with its key finds every entry about it,
those the server hides included. Its key is given to the office's
administrators once, at each rotation (``rotate_key``), never served
again; the entries its monitor finds, it asks to open (``opening_for``):
a refusal, or an opening that does not match, is evidence.

The rules (who holds the key, who may open) are ``messages/access.py``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.errors import IntegrityFailure, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.identity.service import Actor
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening
from pouch.messages import access
from pouch.messages.models import Message


def rotate_key(
    session: Session, *, office_id: int, actor: Actor, now: datetime
) -> ledger_service.TagKeyRotation:
    """A new tag key for the office, by one of its administrators, recorded as
    ``tag-key.rotated`` (tagged with the old key, so the office finds it too): 404 for
    an office that does not exist, 403 for anyone but its administrators."""
    directory_service.get_office(session, office_id)  # the directory is no secret: 404
    if not access.holds_tag_key(actor, office_id):
        raise PermissionDenied("only an administrator of this office receives its tag key")
    return ledger_service.rotate_tag_key(
        session,
        party=office_id,
        kind=EventKind.TAG_KEY_ROTATED,
        at=now,
        details={"office": office_id, "by": actor.user_id},
    )


def opening_for(session: Session, *, index: int, actor: Actor) -> Opening:
    """The opening of log entry ``index``, to an actor its event concerns: 404 for an
    index not logged, 403 for an actor not entitled, and an integrity error when the
    entry is logged but its opening is not kept."""
    kept = ledger_service.kept_opening(session, index)
    if kept is None:
        if index < ledger_service.sequenced_size(session):
            raise IntegrityFailure(f"log entry {index} is logged but its opening is not kept")
        raise NotFound(f"log entry {index} is not logged")
    # A change to a user's identity is the user's to read too (invariant 6).
    named = kept.opening.event.get("user") == actor.user_id
    if not named and not access.may_open(
        actor, kept.parties | _offices_of_message(session, kept.opening)
    ):
        raise PermissionDenied(f"the event of log entry {index} does not concern your office")
    return kept.opening


@dataclass(frozen=True)
class OpeningAnswer:
    """One entry asked for in bulk: its opening, or the status and reason it is refused."""

    index: int
    status: int
    opening: Opening | None = None
    problem: str | None = None
    type: str | None = None  # the problem type the one-by-one endpoint would answer


def openings_for(session: Session, *, indexes: Sequence[int], actor: Actor) -> list[OpeningAnswer]:
    """``opening_for`` for many entries at once, each answered on its own (a refusal of
    one is its answer, as the one-by-one endpoint would give it): what a monitor asks
    for the entries where it found its tags, a few hundred per request."""
    answers = []
    for index in indexes:
        try:
            opening = opening_for(session, index=index, actor=actor)
            answers.append(OpeningAnswer(index, 200, opening))
        except (NotFound, PermissionDenied, IntegrityFailure) as error:
            answers.append(
                OpeningAnswer(index, error.status, problem=str(error), type=error.type_uri())
            )
    return answers


def _offices_of_message(session: Session, opening: Opening) -> set[int]:
    """The sender and addressee office of the message the event names, if it still
    exists: entries logged before tags (v1) keep no parties."""
    public_id = opening.event.get("message")
    if not isinstance(public_id, str):
        return set()
    row = session.execute(
        select(Message.sender_office_id, Message.addressee_office_id).where(
            Message.public_id == public_id
        )
    ).first()
    return set(row) if row is not None else set()
