"""Who may administer what, and whose tokens: pure predicates over the actor.

The one owner of these rules; the API, the pages, the command line and the
identity service all ask here. The gate of administration's routes is
``ADMINISTRATOR_ROLES`` held in the operations office (``web.deps.Authorize``
and ``AuthorizePage`` check it; ``administers_pouch`` says the same).

- An administrator *of Pouch* holds the role in the operations office: it
  manages users, roles, offices and everyone's tokens.
- An administrator of an office manages that office's sender keys and
  endpoint.
- A token passes on only what its holder holds: through a web session, any
  of the user's roles; through an API token, that token's one role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pouch.identity.models import Role

if TYPE_CHECKING:
    from pouch.identity.service import Actor


#: Who administers Pouch, held in the operations office.
ADMINISTRATOR_ROLES = (Role.ADMINISTRATOR,)


def administers_pouch(actor: Actor) -> bool:
    """An administrator in the operations office."""
    return any(actor.holds_in_operations(role) for role in ADMINISTRATOR_ROLES)


def administers(actor: Actor, office_id: int) -> bool:
    """An administrator of the office, or of Pouch itself (the operations office)."""
    return administers_pouch(actor) or actor.holds(Role.ADMINISTRATOR, office_id)


def may_issue_token(actor: Actor, office_id: int, role: Role) -> bool:
    """A new token acts with a role the caller itself holds there: no escalation."""
    return actor.holds(role, office_id)


def may_see_token(actor: Actor, owner_user_id: int) -> bool:
    """One's own tokens; an administrator of Pouch, everyone's."""
    return owner_user_id == actor.user_id or administers_pouch(actor)


#: Who reads the audit of identity (users, roles, every change on the record).
AUDIT_ROLES = (Role.AUDITOR, *ADMINISTRATOR_ROLES)


def audits_identity(actor: Actor) -> bool:
    """An auditor or administrator in the operations office."""
    return any(actor.holds_in_operations(role) for role in AUDIT_ROLES)
