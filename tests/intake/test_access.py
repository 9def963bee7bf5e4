"""Who may submit for an office: a sender of that office, and nobody else."""

from __future__ import annotations

from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.intake import access

OPERATIONS, EMBASSY = 1, 2


def test_only_a_sender_of_the_office_sends_for_it() -> None:
    for role in Role:
        for office in (OPERATIONS, EMBASSY):
            actor = Actor(
                user_id=7,
                username="someone",
                roles=frozenset({(office, role)}),
                operations_offices=frozenset({OPERATIONS}),
            )
            expected = role == Role.SENDER and office == EMBASSY
            assert access.may_send_for(actor, EMBASSY) == expected, (role, office)
