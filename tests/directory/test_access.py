"""Who may change the directory: the predicate says what the API's gate says, for
every role held in the operations office or elsewhere."""

from __future__ import annotations

from pouch.directory import access
from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.web.deps import Authorize

OPERATIONS, EMBASSY = 1, 2


def test_edits_directory_agrees_with_the_editors_gate() -> None:
    gate = Authorize(*access.EDITOR_ROLES)
    for role in Role:
        for office in (OPERATIONS, EMBASSY):
            actor = Actor(
                user_id=7,
                username="someone",
                roles=frozenset({(office, role)}),
                operations_offices=frozenset({OPERATIONS}),
            )
            allowed = any(gate.allows(actor, r) for r in gate.roles)
            assert access.edits_directory(actor) == allowed, (role, office)
            assert allowed == (
                office == OPERATIONS and role in (Role.ADMINISTRATOR, Role.PROTOCOL_OFFICER)
            )
