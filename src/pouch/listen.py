"""When a live feed should read the database again.

On PostgreSQL, as soon as the database says rows it follows were written: a trigger
sends ``NOTIFY <channel>`` once per writing statement, whichever process or host
wrote (migrations 0014 for the steps of messages, 0015 for the call desk), heard by
one listening connection per process and channel (``Listener``), with a slow poll
behind it in case that connection is lost. On SQLite, which has no channel, by
polling (``Poll``). Either way the rows are the truth: a notification only says
"read now", and carries nothing.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol

import anyio
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from pouch.db import Database

#: With notifications, a feed still reads at least this often: a listening connection
#: lost costs a delay, never a change.
NOTIFIED_POLL_SECONDS = 15.0


class Wakeup(Protocol):
    """When a feed should read again."""

    #: Grows with each "rows were written"; read before reading the rows.
    generation: int

    async def wait_past(self, generation: int, timeout: float) -> None:
        """Return once there is news after ``generation``, or after ``timeout``."""


class Poll:
    """SQLite's: no news but the clock; read again every ``timeout``."""

    generation = 0

    async def wait_past(self, generation: int, timeout: float) -> None:
        await anyio.sleep(timeout)


class Listener:
    """One ``LISTEN <channel>`` connection for this process, in a thread of its own,
    waking every feed waiting in any event loop when PostgreSQL notifies. It
    reconnects by itself; each (re)connection counts as news, since rows may have
    been written while nobody listened."""

    def __init__(self, url: str, channel: str) -> None:
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        self.channel = channel
        self.generation = 0
        self.listening = threading.Event()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"pouch-{self.channel}", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.listening.set()
                    self._news()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._news()
            except psycopg.Error:
                self.listening.clear()
                self._stop.wait(1.0)
        self.listening.clear()

    def _news(self) -> None:
        with self._lock:
            self.generation += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait_past(self, generation: int, timeout: float) -> None:
        self.start()
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self.generation != generation:
                return
            self._waiters.add(waiter)
        try:
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)


_listeners: dict[tuple[str, str], Listener] = {}
_listeners_lock = threading.Lock()


def wakeup_for(database: Database, *, channel: str, interval: float) -> tuple[Wakeup, float]:
    """The wakeup of ``channel`` on ``database`` and how long a feed waits at most
    between reads."""
    if database.engine.dialect.name != "postgresql":
        return Poll(), interval
    url = database.engine.url.render_as_string(hide_password=False)
    with _listeners_lock:
        listener = _listeners.setdefault((url, channel), Listener(url, channel))
    return listener, max(interval, NOTIFIED_POLL_SECONDS)


def close_listeners() -> None:
    """Stop every listening connection of this process (at shutdown)."""
    with _listeners_lock:
        listeners = list(_listeners.values())
        _listeners.clear()
    for listener in listeners:
        listener.close()
