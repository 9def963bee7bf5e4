"""Who may change the directory: a pure predicate over the actor.

The one owner of this rule. Anyone signed in reads countries, offices and
people; administrators and protocol officers of the operations office add,
change and remove offices and people (the API's gate is ``EDITOR_ROLES``,
which ``web.deps.Authorize`` checks; ``edits_directory`` says the same).
``pouch directory import`` is the operator's, at the machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pouch.identity.models import Role

if TYPE_CHECKING:
    from pouch.identity.service import Actor

#: Who keeps the directory, held in the operations office.
EDITOR_ROLES = (Role.ADMINISTRATOR, Role.PROTOCOL_OFFICER)


def edits_directory(actor: Actor) -> bool:
    return any(actor.holds_in_operations(role) for role in EDITOR_ROLES)
