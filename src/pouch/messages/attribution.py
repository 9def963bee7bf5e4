"""Who took each step of a message, said to each reader as far as they may know it.

A step is taken by a person (an officer of the operations center, someone of the
sender office, someone of the addressee office) or by Pouch itself (a delivery at
the deadline, a hold that expired, a deadline missed). The operations center, its
auditors and the addressee office it serves see every person's name; a foreign
office sees the names of its own people, and otherwise which side acted ("the
operations center", an office's name), never an officer's name.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.identity.models import Membership, User
from pouch.identity.service import Actor
from pouch.messages import access
from pouch.messages.models import Message, MessageEvent
from pouch.messages.service import OfficeNames


class Side(enum.StrEnum):
    SENDER = "sender"
    ADDRESSEE = "addressee"
    OPERATIONS = "operations"


@dataclass(frozen=True)
class Doer:
    """Who took a step: a person, on one side of the message."""

    name: str
    side: Side


def side_of(offices: Iterable[int], message: Message) -> Side:
    """The side of the message a person of ``offices`` acts on (the sender's before
    the addressee's, for an office writing to itself; anyone else is the center).

    >>> m = Message(sender_office_id=3, addressee_office_id=2)
    >>> side_of({3}, m), side_of({2, 9}, m), side_of({1}, m)
    (<Side.SENDER: 'sender'>, <Side.ADDRESSEE: 'addressee'>, <Side.OPERATIONS: 'operations'>)
    """
    held = set(offices)
    if message.sender_office_id in held:
        return Side.SENDER
    if message.addressee_office_id in held:
        return Side.ADDRESSEE
    return Side.OPERATIONS


def by_whom(
    doer: Doer | None,
    *,
    how: str | None,
    viewer_side: Side,
    names_everyone: bool,
    office_names: Mapping[Side, str],
) -> str:
    """What a reader on ``viewer_side`` is told of who took a step (``doer`` None:
    Pouch itself; ``how``: a delivery's reason).

    >>> names = {Side.SENDER: "Elysée", Side.ADDRESSEE: "President-elect",
    ...          Side.OPERATIONS: "the operations center"}
    >>> officer = Doer("Dana Watch", Side.OPERATIONS)
    >>> by_whom(officer, how="routed", viewer_side=Side.OPERATIONS, names_everyone=True,
    ...         office_names=names)
    'routed by Dana Watch (the operations center)'
    >>> by_whom(officer, how="routed", viewer_side=Side.SENDER, names_everyone=False,
    ...         office_names=names)
    'routed by the operations center'
    >>> by_whom(None, how="automatic", viewer_side=Side.SENDER, names_everyone=False,
    ...         office_names=names)
    'by Pouch, automatically at its delivery time'
    >>> by_whom(Doer("Staff Member", Side.ADDRESSEE), how=None, viewer_side=Side.SENDER,
    ...         names_everyone=False, office_names=names)
    'by President-elect'
    >>> by_whom(Doer("Clerk", Side.SENDER), how=None, viewer_side=Side.SENDER,
    ...         names_everyone=False, office_names=names)
    'by Clerk (Elysée)'
    """
    if doer is None:
        return (
            "by Pouch, automatically at its delivery time"
            if how == "automatic"
            else "by Pouch, automatically"
        )
    verb = "routed by" if how == "routed" else "by"
    where = office_names[doer.side]
    if names_everyone or doer.side is viewer_side:
        return f"{verb} {doer.name} ({where})"
    return f"{verb} {where}"


def doers(session: Session, message: Message, user_ids: Iterable[int | None]) -> dict[int, Doer]:
    """Each of ``user_ids`` (None ignored) as a Doer of the message: their display name,
    and their side by the offices they hold a role in (two queries)."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    names = {int(user_id): str(name) for user_id, name in rows}
    offices: dict[int, set[int]] = {}
    for user_id, office_id in session.execute(
        select(Membership.user_id, Membership.office_id).where(Membership.user_id.in_(wanted))
    ):
        offices.setdefault(int(user_id), set()).add(int(office_id))
    return {
        user_id: Doer(name, side_of(offices.get(user_id, set()), message))
        for user_id, name in names.items()
    }


@dataclass(frozen=True)
class Attributed:
    event: MessageEvent
    by: str


def attribute(
    session: Session,
    message: Message,
    events: list[MessageEvent],
    *,
    viewer_offices: Iterable[int],
    names_everyone: bool,
    office_names: OfficeNames,
) -> list[Attributed]:
    """The message's steps, each with who took it as this reader may know it."""
    known = doers(session, message, (e.actor_user_id for e in events))
    sides = {
        Side.SENDER: office_names.of(message.sender_office_id, "the sender office"),
        Side.ADDRESSEE: office_names.of(message.addressee_office_id, "the addressee office"),
        Side.OPERATIONS: office_names.operations,
    }
    viewer_side = side_of(viewer_offices, message)

    def doer(user_id: int | None) -> Doer | None:
        if user_id is None:
            return None
        return known.get(user_id, Doer(f"user {user_id}", Side.OPERATIONS))

    return [
        Attributed(
            event,
            by_whom(
                doer(event.actor_user_id),
                how=event.details.get("how") if isinstance(event.details, dict) else None,
                viewer_side=viewer_side,
                names_everyone=names_everyone,
                office_names=sides,
            ),
        )
        for event in events
    ]


def for_reader(
    session: Session,
    message: Message,
    events: list[MessageEvent],
    *,
    reader: Actor,
    office_names: OfficeNames,
) -> list[Attributed]:
    """``attribute`` as ``reader`` may know it (``access.names_everyone``)."""
    return attribute(
        session,
        message,
        events,
        viewer_offices={office for office, _ in reader.roles},
        names_everyone=access.names_everyone(reader),
        office_names=office_names,
    )
