"""An office's monitor shows it each change to who acts for it (invariant 6): an
administrator of Pouch pointing its notices elsewhere is seen at the next poll, with
the actor named, and is not mistaken for an event of another office."""

from __future__ import annotations

from pouch.identity.models import Role
from pouch.messages import destinations, notify
from tests.monitor.helpers import Party, Pouch


def test_an_endpoint_diverted_by_an_administrator_shows_at_the_next_poll(
    pouch: Pouch, office: Party
) -> None:
    pouch.publish()
    assert office.poll().code == 0
    admin = pouch.world.users[Role.ADMINISTRATOR].id
    with pouch.database.transaction() as session:
        notify.set_endpoint(
            session,
            office_id=pouch.office_id("president-elect"),
            webhook_url=None,
            email="attacker@evil.example",
            policy=destinations.Policy(allow_private=True),
            by=admin,
            now=pouch.clock.now(),
        )
    pouch.publish()
    result = office.poll()
    assert result.code == 0, result.output
    assert f"change on the record: endpoint.changed by user {admin}" in result.output
    # Seen once: the next poll has nothing new to show.
    assert "change on the record" not in office.poll().output
