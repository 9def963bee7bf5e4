"""The live feed across processes: a step written by another connection reaches a
waiting feed, on PostgreSQL at once through ``NOTIFY pouch_steps`` (migration 0014)
long before the feed's poll would, on SQLite at its next poll."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import anyio
import pytest

from pouch import listen
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.messages import live
from tests.factories import build_world
from tests.messages.helpers import submit

#: Far longer than a notification takes: a step seen sooner was notified, not polled.
LONG_POLL = 30.0


def _first_step(database: Database, *, after: int, write: threading.Timer) -> tuple[dict, float]:
    """The first event of a feed started after step ``after``, and how long it took
    from the moment the step was written."""
    wakeup, interval = live.wakeup_for(database, interval=0.2)
    if isinstance(wakeup, listen.Listener):
        interval = LONG_POLL
        wakeup.start()
        assert wakeup.listening.wait(10), "the listener did not connect"
    written: list[float] = []

    def write_step() -> None:
        write.function()
        written.append(time.monotonic())

    async def main() -> dict:
        with anyio.fail_after(LONG_POLL - 5):
            async for event in live.feed(database, after=after, interval=interval, wakeup=wakeup):
                return event
        raise AssertionError("the feed ended")

    timer = threading.Timer(0.5, write_step)
    timer.start()
    try:
        event = anyio.run(main)
    finally:
        timer.cancel()
    return event, time.monotonic() - written[0]


def test_a_step_written_elsewhere_reaches_a_waiting_feed(
    fresh_database: Database, backend: str
) -> None:
    clock = ManualClock(datetime(2026, 11, 5, 14, 0, tzinfo=UTC))
    world = build_world(fresh_database, clock)
    after = live.newest_id(fresh_database)
    subject = "Written by another connection"
    write = threading.Timer(0, lambda: submit(fresh_database, clock, world, subject=subject))
    try:
        event, waited = _first_step(fresh_database, after=after, write=write)
    finally:
        listen.close_listeners()
    step = json.loads(event["data"])
    assert (step["kind"], step["subject"]) == ("accepted", subject)
    assert int(event["id"]) > after
    if backend == "postgresql":
        # Notified: within seconds, where the poll would have taken 30.
        assert waited < 5, waited
    else:
        assert isinstance(live.wakeup_for(fresh_database, interval=0.2)[0], listen.Poll)


@pytest.mark.parametrize("generation_moved", [True, False])
def test_news_during_a_read_is_not_missed(generation_moved: bool) -> None:
    """A notification heard while the feed was reading (the generation moved since it
    looked) sends it to read again at once, not after its poll."""
    listener = listen.Listener("postgresql+psycopg://nobody@127.0.0.1:1/none", live.CHANNEL)
    listener.start = lambda: None  # type: ignore[method-assign]  # no connection here
    seen = listener.generation
    if generation_moved:
        listener._news()

    async def wait() -> float:
        started = time.monotonic()
        await listener.wait_past(seen, 2.0)
        return time.monotonic() - started

    waited = anyio.run(wait)
    assert (waited < 0.5) is generation_moved, waited
