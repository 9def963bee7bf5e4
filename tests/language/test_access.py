"""The language desk's access rules: each predicate says what its route's gate says, for
every role held in the operations office or elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.language import access
from pouch.web.deps import Authorize

OPERATIONS, EMBASSY = 1, 2

RULES: list[tuple[Callable[[Actor], bool], tuple[Role, ...]]] = [
    (access.reads_queue, access.QUEUE_READER_ROLES),
    (access.translates, access.TRANSLATOR_ROLES),
    (access.reads_roster, access.ROSTER_READER_ROLES),
    (access.edits_roster, access.ROSTER_EDITOR_ROLES),
    (access.interprets, access.INTERPRETER_ROLES),
]


def _actor(role: Role, office: int) -> Actor:
    return Actor(
        user_id=7,
        username="someone",
        roles=frozenset({(office, role)}),
        operations_offices=frozenset({OPERATIONS}),
    )


@pytest.mark.parametrize(("rule", "roles"), RULES, ids=[r.__name__ for r, _ in RULES])
def test_each_predicate_agrees_with_its_gate(
    rule: Callable[[Actor], bool], roles: tuple[Role, ...]
) -> None:
    gate = Authorize(*roles)
    for role in Role:
        for office in (OPERATIONS, EMBASSY):
            actor = _actor(role, office)
            assert rule(actor) == any(gate.allows(actor, r) for r in gate.roles), (role, office)


def test_only_a_watch_officer_releases_another_translators_claim() -> None:
    allowed = {
        (role, office)
        for role in Role
        for office in (OPERATIONS, EMBASSY)
        if access.releases_any_claim(_actor(role, office))
    }
    assert allowed == {(Role.WATCH_OFFICER, OPERATIONS)}
