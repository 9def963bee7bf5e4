"""Who may administer what: pure predicates over the actor."""

from __future__ import annotations

from pouch.identity.models import Role
from pouch.identity.service import Actor


def administers(actor: Actor, office_id: int) -> bool:
    """An administrator of the office, or of Pouch itself (the operations office)."""
    return actor.holds_in_operations(Role.ADMINISTRATOR) or actor.holds(
        Role.ADMINISTRATOR, office_id
    )
