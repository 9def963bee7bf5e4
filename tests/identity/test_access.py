"""Identity's access rules, for every role held in the operations office or elsewhere:
each predicate says what its route's gate says, and what it adds besides."""

from __future__ import annotations

from pouch.identity import access
from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.web.deps import Authorize

OPERATIONS, EMBASSY = 1, 2


def _actor(role: Role, office: int, *, user_id: int = 7) -> Actor:
    return Actor(
        user_id=user_id,
        username="someone",
        roles=frozenset({(office, role)}),
        operations_offices=frozenset({OPERATIONS}),
    )


def test_administers_pouch_agrees_with_the_administration_gate() -> None:
    gate = Authorize(*access.ADMINISTRATOR_ROLES)
    for role in Role:
        for office in (OPERATIONS, EMBASSY):
            actor = _actor(role, office)
            allowed = any(gate.allows(actor, r) for r in gate.roles)
            assert access.administers_pouch(actor) == allowed, (role, office)


def test_an_office_is_administered_by_its_administrators_and_pouchs() -> None:
    assert access.administers(_actor(Role.ADMINISTRATOR, EMBASSY), EMBASSY)
    assert access.administers(_actor(Role.ADMINISTRATOR, OPERATIONS), EMBASSY)
    assert not access.administers(_actor(Role.ADMINISTRATOR, EMBASSY), 3)
    assert not access.administers(_actor(Role.SENDER, EMBASSY), EMBASSY)


def test_a_token_passes_on_only_what_its_holder_holds() -> None:
    sender = _actor(Role.SENDER, EMBASSY)
    assert access.may_issue_token(sender, EMBASSY, Role.SENDER)
    assert not access.may_issue_token(sender, EMBASSY, Role.ADMINISTRATOR)
    assert not access.may_issue_token(sender, OPERATIONS, Role.SENDER)
    # An administrator of Pouch does not hold every role for that.
    assert not access.may_issue_token(_actor(Role.ADMINISTRATOR, OPERATIONS), EMBASSY, Role.SENDER)


def test_tokens_are_seen_by_their_owner_and_pouchs_administrators() -> None:
    assert access.may_see_token(_actor(Role.SENDER, EMBASSY, user_id=7), 7)
    assert not access.may_see_token(_actor(Role.SENDER, EMBASSY, user_id=7), 8)
    assert access.may_see_token(_actor(Role.ADMINISTRATOR, OPERATIONS, user_id=7), 8)
    assert not access.may_see_token(_actor(Role.ADMINISTRATOR, EMBASSY, user_id=7), 8)
