"""Who may submit for which office: a pure predicate over the actor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pouch.identity.models import Role

if TYPE_CHECKING:
    from pouch.identity.service import Actor


def may_send_for(actor: Actor, office_id: int) -> bool:
    """A sender of the office (through an API token: the token's one role there)."""
    return actor.holds(Role.SENDER, office_id)


def sends_for_an_office(actor: Actor) -> bool:
    """A sender of some office: who may write on the compose page."""
    return actor.holds(Role.SENDER)
