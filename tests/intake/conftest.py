"""The sender office every intake test submits as."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from tests.factories import World
from tests.intake.helpers import Sender, register_sender


@pytest.fixture
def sender(app_client: TestClient, database: Database, clock: ManualClock, world: World) -> Sender:
    return register_sender(app_client, database, clock, world)
