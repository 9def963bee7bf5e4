"""The call desk's access rules: each predicate says what its route's gate says, for
every role held in the operations office or elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pouch.calls import access
from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.web.deps import Authorize, Where

OPERATIONS, EMBASSY = 1, 2

RULES: list[tuple[Callable[[Actor], bool], tuple[Role, ...], Where]] = [
    (access.manages_calls, access.MANAGER_ROLES, "operations"),
    (access.edits_precedence, access.PRECEDENCE_EDITOR_ROLES, "operations"),
    (access.reads_precedence, access.PRECEDENCE_READER_ROLES, "operations"),
    (access.requests_calls, access.REQUESTER_ROLES, "any"),
    (access.reads_requests, access.REQUEST_READER_ROLES, "any"),
    (access.reads_schedules, access.SCHEDULE_READER_ROLES, "any"),
]


def _actor(role: Role, office: int) -> Actor:
    return Actor(
        user_id=7,
        username="someone",
        roles=frozenset({(office, role)}),
        operations_offices=frozenset({OPERATIONS}),
    )


@pytest.mark.parametrize(("rule", "roles", "where"), RULES, ids=[r.__name__ for r, _, _ in RULES])
def test_each_predicate_agrees_with_its_gate(
    rule: Callable[[Actor], bool], roles: tuple[Role, ...], where: Where
) -> None:
    gate = Authorize(*roles, where=where)
    for role in Role:
        for office in (OPERATIONS, EMBASSY):
            actor = _actor(role, office)
            assert rule(actor) == any(gate.allows(actor, r) for r in gate.roles), (role, office)


def test_viewer_of_each_kind_of_caller() -> None:
    desk = access.viewer_of(_actor(Role.WATCH_OFFICER, OPERATIONS))
    assert (desk.desk, desk.manager, desk.leader_offices()) == (True, True, None)
    auditor = access.viewer_of(_actor(Role.AUDITOR, OPERATIONS))
    assert (auditor.desk, auditor.manager) == (True, False)
    sender = access.viewer_of(_actor(Role.SENDER, EMBASSY))
    assert not sender.desk and sender.leader_offices() == frozenset({EMBASSY})
    principal = access.viewer_of(_actor(Role.PRINCIPAL_STAFF, EMBASSY))
    assert principal.sees_schedule(EMBASSY) and not principal.sees_schedule(OPERATIONS)
    # A watch officer of another office is no part of the call desk.
    elsewhere = access.viewer_of(_actor(Role.WATCH_OFFICER, EMBASSY))
    assert (elsewhere.desk, elsewhere.manager) == (False, False)
