"""The call-day sheet's feed across processes: a request written by another
connection reaches a waiting sheet, on PostgreSQL at once through
``NOTIFY pouch_calls`` (migration 0015) long before the feed's poll would, on
SQLite at its next poll."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import anyio

from pouch import listen
from pouch.calls import live
from pouch.clock import ManualClock
from pouch.db import Database
from tests.calls.helpers import build_desk, request

#: Far longer than a notification takes: a change seen sooner was notified, not polled.
LONG_POLL = 30.0


def test_a_request_written_elsewhere_reaches_a_waiting_sheet(
    fresh_database: Database, backend: str
) -> None:
    clock = ManualClock(datetime(2026, 11, 5, 14, 0, tzinfo=UTC))
    with fresh_database.transaction() as session:
        desk = build_desk(session, clock)
        office_id = desk.principal.id
        before = live.stamp(session, office_id=office_id)
    wakeup, interval = listen.wakeup_for(fresh_database, channel=live.CHANNEL, interval=0.2)
    if backend == "postgresql":
        assert isinstance(wakeup, listen.Listener)
        interval = LONG_POLL
        wakeup.start()
        assert wakeup.listening.wait(10), "the listener did not connect"
    else:
        assert isinstance(wakeup, listen.Poll)
    written: list[float] = []

    def write() -> None:
        with fresh_database.transaction() as session:
            request(session, desk, "jp", clock)
        written.append(time.monotonic())

    async def first() -> dict[str, str]:
        with anyio.fail_after(LONG_POLL - 5):
            async for event in live.changes(
                fresh_database, office_id=office_id, since=before, interval=interval, wakeup=wakeup
            ):
                return event
        raise AssertionError("the feed ended")

    timer = threading.Timer(0.5, write)
    timer.start()
    try:
        event = anyio.run(first)
    finally:
        timer.cancel()
        listen.close_listeners()
    waited = time.monotonic() - written[0]
    with fresh_database.transaction(write=False) as session:
        assert event["id"] == live.stamp(session, office_id=office_id) != before
    if backend == "postgresql":
        # Notified: within seconds, where the poll would have taken 30.
        assert waited < 5, waited


def test_a_sheet_resumed_from_the_current_stamp_hears_nothing_new(
    fresh_database: Database,
) -> None:
    """``Last-Event-ID`` equal to the desk's stamp: no event until something changes."""
    clock = ManualClock(datetime(2026, 11, 5, 14, 0, tzinfo=UTC))
    with fresh_database.transaction() as session:
        office_id = build_desk(session, clock).principal.id
        now = live.stamp(session, office_id=office_id)

    async def first() -> dict[str, str] | None:
        with anyio.move_on_after(1.0):
            async for event in live.changes(
                fresh_database, office_id=office_id, since=now, interval=0.1, wakeup=listen.Poll()
            ):
                return event
        return None

    assert anyio.run(first) is None
