"""The call-day sheet live: an event whenever the principal's office's call desk
changes (a request, a run of the scheduler, a call confirmed or cancelled, a call's
step or check-in), as
Server-Sent Events.

What the desk looks like is summed up in a stamp (the newest request, run and
confirmation, and how many of each state), read from the database every process
writes, so a change by any process or host changes it: on PostgreSQL as soon as
the database notifies ``pouch_calls`` (a trigger on the desk's tables, migration
0015), on SQLite every ``interval`` seconds (``pouch.listen``).
The stamp is the event's SSE id, so a browser that reconnects sends the last one
it saw (``Last-Event-ID``) and hears at once of a change it missed; a page starts
from the stamp it was drawn at. The event says only "read the page again": what
the reader sees is the page's own business (``calls.access``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch import listen
from pouch.briefings.models import CallParticipant, CallRecord, CallStep
from pouch.calls.models import CallRequest, ScheduledCall, ScheduleRun
from pouch.db import Database

#: How often the sheet's feed reads the stamp when the database cannot notify.
INTERVAL_SECONDS = 2.0
#: The channel PostgreSQL notifies when the desk's tables are written (migration 0015).
CHANNEL = "pouch_calls"


def stamp(session: Session, *, office_id: int) -> str:
    """The desk's state in a few numbers: changes whenever anything on the sheet does."""
    requests = session.execute(
        select(CallRequest.status, func.count(), func.max(CallRequest.id))
        .where(CallRequest.principal_office_id == office_id)
        .group_by(CallRequest.status)
        .order_by(CallRequest.status)
    ).all()
    run = session.scalar(
        select(func.max(ScheduleRun.id)).where(ScheduleRun.principal_office_id == office_id)
    )
    confirmed = session.scalar(
        select(func.count())
        .select_from(ScheduledCall)
        .where(ScheduledCall.run_id == run, ScheduledCall.confirmed.is_(True))
    )
    # A call's run: its newest step, and how many have checked in (pouch.briefings).
    steps, checked_in = session.execute(
        select(
            select(func.max(CallStep.id))
            .join(CallRecord, CallRecord.id == CallStep.record_id)
            .join(CallRequest, CallRequest.id == CallRecord.request_id)
            .where(CallRequest.principal_office_id == office_id)
            .scalar_subquery(),
            select(func.count())
            .select_from(CallParticipant)
            .join(CallRecord, CallRecord.id == CallParticipant.record_id)
            .join(CallRequest, CallRequest.id == CallRecord.request_id)
            .where(
                CallRequest.principal_office_id == office_id,
                CallParticipant.checked_in_at.is_not(None),
            )
            .scalar_subquery(),
        )
    ).one()
    parts = [f"r{run or 0}", f"c{confirmed or 0}", f"s{steps or 0}", f"i{checked_in or 0}"]
    parts += [f"{status.value[:2]}{count}-{newest}" for status, count, newest in requests]
    return ".".join(parts)


async def changes(
    database: Database,
    *,
    office_id: int,
    since: str,
    interval: float = INTERVAL_SECONDS,
    wakeup: listen.Wakeup | None = None,
) -> AsyncIterator[dict[str, str]]:
    """An event each time the stamp differs from the last one sent (at first, ``since``),
    read whenever the ``wakeup`` has news and at least every ``interval`` seconds."""
    if wakeup is None:
        wakeup, interval = listen.wakeup_for(database, channel=CHANNEL, interval=interval)

    def read() -> str:
        with database.transaction(write=False) as session:
            return stamp(session, office_id=office_id)

    last = since
    while True:
        seen = wakeup.generation
        now = await run_in_threadpool(read)
        if now != last:
            last = now
            yield {"id": now, "event": "step", "data": json.dumps({"kind": "calls"})}
        await wakeup.wait_past(seen, interval)
