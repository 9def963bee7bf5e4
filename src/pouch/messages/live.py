"""The live feeds: each new step of a message, as Server-Sent Events. The watch floor
follows every message; an inbox or a tracking page follows those of its offices.

Every step is a row of ``message_events`` whose id only grows, whichever process or
host wrote it (the database is the one place all of them write): the feed reads the
rows after the last id it sent, every ``interval`` seconds, and sends each as an
event whose SSE id is the row's id, so that a browser that lost the connection
resumes where it was (``Last-Event-ID``) and misses nothing. The page refreshes its
list on each event; on the watch floor a FLASH message or an overdue one raises an
alert. An office's feed says only which of its messages moved and how: the page
then reads the message as its reader may see it.

When to read again: on PostgreSQL, as soon as the database says steps were written
(``NOTIFY pouch_steps``, sent by a trigger once per writing statement, migration
0014, whichever process wrote them); on SQLite, by polling every ``interval``
(``pouch.listen``). Either way the rows are the truth: a notification only says
"read now".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Header
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, or_, select
from sse_starlette import EventSourceResponse

from pouch import listen
from pouch.db import Database
from pouch.events import EventKind
from pouch.messages.models import Message, MessageEvent
from pouch.messages.rules import Precedence

#: The id of the last step the browser received, sent again when it reconnects.
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)]

#: At most this many steps per read: a browser far behind catches up in batches.
BATCH = 200


@dataclass(frozen=True)
class Step:
    """One step as the feed sends it."""

    id: int
    kind: str
    message: str
    subject: str
    precedence: str

    @property
    def alert(self) -> bool:
        """A step the watch officers must see at once, wherever they are looking.

        >>> Step(1, "accepted", "m-1", "s", "FLASH").alert
        True
        >>> Step(2, "read", "m-1", "s", "FLASH").alert
        False
        >>> Step(3, "overdue", "m-2", "s", "ROUTINE").alert
        True
        """
        flash = self.kind == EventKind.ACCEPTED and self.precedence == Precedence.FLASH
        return flash or self.kind == EventKind.OVERDUE

    def event(self) -> dict[str, str]:
        """As sse-starlette sends it: ``id``, ``event`` and ``data`` (JSON)."""
        data = {
            "kind": self.kind,
            "message": self.message,
            "subject": self.subject,
            "precedence": self.precedence,
            "alert": self.alert,
        }
        return {"id": str(self.id), "event": "step", "data": json.dumps(data)}

    def office_event(self) -> dict[str, str]:
        """As an office's feed sends it: which message, which step, nothing of its text."""
        data = {"kind": self.kind, "message": self.message}
        return {"id": str(self.id), "event": "step", "data": json.dumps(data)}


def newest_id(database: Database) -> int:
    with database.transaction(write=False) as session:
        return int(session.scalar(select(func.max(MessageEvent.id))) or 0)


def steps_after(
    database: Database,
    after: int,
    *,
    limit: int = BATCH,
    offices: frozenset[int] | None = None,
) -> list[Step]:
    """The steps written after the step ``after``, oldest first; with ``offices``, only
    those of messages the offices sent or were sent."""
    found = (
        select(
            MessageEvent.id,
            MessageEvent.kind,
            Message.public_id,
            Message.subject,
            Message.precedence,
        )
        .join(Message, Message.id == MessageEvent.message_id)
        .where(MessageEvent.id > after)
    )
    if offices is not None:
        ids = sorted(offices)
        found = found.where(
            or_(Message.sender_office_id.in_(ids), Message.addressee_office_id.in_(ids))
        )
    with database.transaction(write=False) as session:
        rows = session.execute(found.order_by(MessageEvent.id).limit(limit))
        return [Step(int(i), str(k), str(p), str(s), str(pr.value)) for i, k, p, s, pr in rows]


def resume_from(last_event_id: str | None, newest: Callable[[], int]) -> int:
    """Where a connection starts: after the browser's ``Last-Event-ID`` when it sent a
    valid one, else after the newest step (a new page has just rendered the queue).

    >>> resume_from("41", lambda: 99), resume_from(None, lambda: 99), resume_from("x", lambda: 7)
    (41, 99, 7)
    """
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return newest()


#: The channel PostgreSQL notifies when steps are written (migration 0014).
CHANNEL = "pouch_steps"


def wakeup_for(database: Database, *, interval: float) -> tuple[listen.Wakeup, float]:
    """The wakeup of the steps' feeds and how long one waits at most between reads."""
    return listen.wakeup_for(database, channel=CHANNEL, interval=interval)


async def feed(
    database: Database,
    *,
    after: int,
    interval: float,
    offices: frozenset[int] | None = None,
    wakeup: listen.Wakeup | None = None,
) -> AsyncIterator[dict[str, str]]:
    """Each step after ``after`` as it is written (of the ``offices``' messages when
    given), read outside the event loop (the database calls block) whenever the
    ``wakeup`` has news, and at least every ``interval`` seconds."""
    if wakeup is None:
        wakeup, interval = wakeup_for(database, interval=interval)
    while True:
        seen = wakeup.generation
        steps = await run_in_threadpool(partial(steps_after, database, after, offices=offices))
        for step in steps:
            after = step.id
            yield step.event() if offices is None else step.office_event()
        if len(steps) < BATCH:
            await wakeup.wait_past(seen, interval)


#: How often a live feed reads new steps (every process polls the same database).
INTERVAL_SECONDS = 1.0


async def stream(
    database: Database, *, last_event_id: str | None, offices: frozenset[int] | None = None
) -> EventSourceResponse:
    """The feed as a response: resumed after ``last_event_id`` when the browser sent one,
    kept open by a comment every 15 s, never cached."""
    after = await run_in_threadpool(resume_from, last_event_id, lambda: newest_id(database))
    return EventSourceResponse(
        feed(database, after=after, interval=INTERVAL_SECONDS, offices=offices),
        ping=15,
        headers={"Cache-Control": "no-store"},
    )
