"""The inbox's sequence check on the server: the same comparison as ``pouch office check``,
each opening compared with the entry the log stores."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger.store import LedgerOpening
from pouch.messages import service as message_service
from pouch.messages.models import Message, OfficeSequence
from tests.factories import World
from tests.messages.helpers import submit


def test_every_number_accounted_for_then_a_gap_and_a_tampered_opening(
    database: Database, clock: ManualClock, world: World
) -> None:
    accepted = [submit(database, clock, world) for _ in range(3)]
    office = world.offices["president-elect"].id
    with database.transaction(write=False) as session:
        found = message_service.office_check(session, office_id=office)
    assert (found.check.verified, found.check.issued, found.check.gaps) == (3, 3, [])
    assert found.check.mismatched == []
    assert [m.office_sequence for m in found.waiting] == [1, 2, 3]

    with database.transaction() as session:
        # Two numbers issued that no message carries, and an opening that lies.
        session.execute(
            update(OfficeSequence)
            .where(OfficeSequence.office_id == office)
            .values(next_sequence=OfficeSequence.next_sequence + 2)
        )
        row = session.scalars(
            select(LedgerOpening).where(LedgerOpening.idx == accepted[1].ledger_index)
        ).one()
        event = json.loads(row.event)
        row.event = json.dumps({**event, "subject": "not what was committed"}).encode()
    with database.transaction(write=False) as session:
        found = message_service.office_check(session, office_id=office)
    assert [m.listed.message for m in found.check.mismatched] == [accepted[1].message.public_id]
    assert found.check.gaps == [(2, 2), (4, 5)]
    assert [m.office_sequence for m in found.waiting] == [1, 3]


def test_the_numbers_before_the_latest_are_counted_and_a_gap_among_them_still_shows(
    database: Database, clock: ManualClock, world: World
) -> None:
    accepted = [submit(database, clock, world) for _ in range(6)]
    office = world.offices["president-elect"].id
    with database.transaction(write=False) as session:
        found = message_service.office_check(session, office_id=office, recent=2)
    # 5 and 6 recomputed, 1 to 4 counted; every waiting one checked in full, however old.
    assert (found.counted_through, found.check.verified, found.check.gaps) == (4, 6, [])
    assert [m.office_sequence for m in found.waiting] == [1, 2, 3, 4, 5, 6]

    with database.transaction() as session:
        # An operator deletes number 2, and 4 and 5 across the window's edge, and makes
        # the opening of number 1 (old, still waiting) lie.
        for number in (2, 4, 5):
            session.delete(session.get(Message, accepted[number - 1].message.id))
        row = session.scalars(
            select(LedgerOpening).where(LedgerOpening.idx == accepted[0].ledger_index)
        ).one()
        row.event = json.dumps({**json.loads(row.event), "office_sequence": 9}).encode()
    with database.transaction(write=False) as session:
        found = message_service.office_check(session, office_id=office, recent=2)
    assert found.check.gaps == [(2, 2), (4, 5)]
    assert [m.listed.message for m in found.check.mismatched] == [accepted[0].message.public_id]
    assert [m.office_sequence for m in found.waiting] == [3, 6]
    assert found.check.verified == 3
