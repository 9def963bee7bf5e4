"""The watch floor's live feed: each new step of any message, as Server-Sent Events.

Every step is a row of ``message_events`` whose id only grows, whichever process or
host wrote it (the database is the one place all of them write): the feed reads the
rows after the last id it sent, every ``interval`` seconds, and sends each as an
event whose SSE id is the row's id, so that a browser that lost the connection
resumes where it was (``Last-Event-ID``) and misses nothing. The page refreshes its
queue on each event; a FLASH message or an overdue one raises an alert.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from pouch.db import Database
from pouch.events import EventKind
from pouch.messages.models import Message, MessageEvent
from pouch.messages.rules import Precedence

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


def newest_id(database: Database) -> int:
    with database.transaction(write=False) as session:
        return int(session.scalar(select(func.max(MessageEvent.id))) or 0)


def steps_after(database: Database, after: int, *, limit: int = BATCH) -> list[Step]:
    """The steps written after the step ``after``, oldest first."""
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(
                MessageEvent.id,
                MessageEvent.kind,
                Message.public_id,
                Message.subject,
                Message.precedence,
            )
            .join(Message, Message.id == MessageEvent.message_id)
            .where(MessageEvent.id > after)
            .order_by(MessageEvent.id)
            .limit(limit)
        )
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


async def feed(database: Database, *, after: int, interval: float) -> AsyncIterator[dict[str, str]]:
    """Each step after ``after`` as it is written, read every ``interval`` seconds
    outside the event loop (the database calls block)."""
    while True:
        steps = await run_in_threadpool(steps_after, database, after)
        for step in steps:
            after = step.id
            yield step.event()
        if len(steps) < BATCH:
            await anyio.sleep(interval)
