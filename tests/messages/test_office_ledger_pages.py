"""An office's ledger a page at a time (issue 19): a year holds hundreds of thousands."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from tests.factories import World
from tests.messages.helpers import submit


def test_an_office_ledger_pages_by_sequence_number(
    app_client: TestClient, world: World, database: Database, clock: ManualClock
) -> None:
    for n in range(5):
        submit(database, clock, world, subject=f"Letter {n}")
    principal = world.offices["president-elect"].id
    staff = world.auth(Role.PRINCIPAL_STAFF)
    path = f"/api/offices/{principal}/ledger"

    whole = app_client.get(path, headers=staff).json()
    pages = [
        app_client.get(path, params={"after": after, "limit": 2}, headers=staff).json()
        for after in (0, 2, 4)
    ]

    assert [row["office_sequence"] for row in whole] == [1, 2, 3, 4, 5]
    assert [[row["office_sequence"] for row in page] for page in pages] == [[1, 2], [3, 4], [5]]
    assert [row for page in pages for row in page] == whole
    too_long = app_client.get(path, params={"limit": 1001}, headers=staff)
    assert too_long.status_code == 400
