"""Who may read the ledger page: a pure predicate over the actor.

The log's tiles and proofs are public; the page that reads them for people is
for auditors and administrators, unless ``POUCH_PUBLIC_LEDGER`` opens it to all.
"""

from __future__ import annotations

from pouch.identity.models import Role
from pouch.identity.service import Actor

READER_ROLES = (Role.AUDITOR, Role.ADMINISTRATOR)


def reads_ledger_page(actor: Actor) -> bool:
    return any(actor.holds_in_operations(role) for role in READER_ROLES)
