"""The server checks itself: the newest tiles and openings, in the background.

An operator who edits the database (an event's row, an opening's salt, a
stored tile) makes the log disagree with itself. Outside parties find that
with their monitors; this loop finds it first, on the server, so that the
operator's own monitoring says so: ``/readyz`` answers 503 naming what does
not check, and ``/metrics`` reports it.

Each round, in one read transaction: the published checkpoint's signature,
its root recomputed from the stored tiles, the newest entries against their
tile (``service.quick_verification``), and the newest openings, each of which
must rebuild its entry byte for byte.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.ledger import service
from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.events import InvalidEvent
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.store import LedgerOpening, TileCache

logger = logging.getLogger("pouch.ledger.integrity")

#: How many of the newest openings each round rebuilds.
RECENT_OPENINGS = 256


@dataclass(frozen=True)
class IntegrityReport:
    """One round's outcome: what did not check, in words (empty when all did)."""

    checked_at: datetime
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_recent(
    session: Session,
    *,
    verifier: Ed25519Verifier,
    cache: TileCache,
    openings: int = RECENT_OPENINGS,
) -> list[str]:
    """What does not check among the newest tiles, entries and openings."""
    latest = service.latest_checkpoint(session)
    if latest is None:  # nothing published yet: nothing to check
        return []
    verification = service.quick_verification(session, verifier=verifier, cache=cache)
    problems = [text for ok, text in verification.steps if not ok]
    indexes = list(
        session.scalars(
            select(LedgerOpening.idx)
            .where(LedgerOpening.idx < latest.size)
            .order_by(LedgerOpening.idx.desc())
            .limit(openings)
        )
    )
    stored = service.entries(session, indexes=indexes)
    try:
        opened = service.openings(session, indexes=indexes)
    except (InvalidEvent, LedgerFormatError, ValueError) as error:
        return [*problems, f"An opening cannot be read: {error}."]
    for index in sorted(indexes):
        opening = opened.get(index)
        entry = stored.get(index)
        if opening is None or entry is None:
            problems.append(f"Log entry {index} has no stored entry or opening.")
            continue
        try:
            rebuilt = opening.entry()
        except InvalidEvent as error:
            problems.append(f"The opening of log entry {index} is damaged: {error}.")
            continue
        if rebuilt != entry:
            problems.append(
                f"The opening of log entry {index} does not rebuild its entry: the event, its "
                "salt or the entry was altered after it was logged."
            )
    return problems


class IntegrityChecker:
    """The background loop: a round every ``interval`` seconds; ``last`` is its report."""

    def __init__(
        self,
        database: Database,
        *,
        verifier: Ed25519Verifier,
        cache: TileCache,
        clock: Clock,
        interval: float,
    ) -> None:
        self.database = database
        self.verifier = verifier
        self.cache = cache
        self.clock = clock
        self.interval = interval
        self.last: IntegrityReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> IntegrityReport:
        with self.database.transaction(write=False) as session:
            problems = check_recent(session, verifier=self.verifier, cache=self.cache)
        report = IntegrityReport(self.clock.now(), tuple(problems))
        if problems and (self.last is None or self.last.problems != report.problems):
            logger.error("the log does not check: %s", " ".join(problems))
        self.last = report
        return report

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pouch-integrity", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # the database away: the next round tries again
                logger.warning("integrity check round failed", exc_info=True)
            if self._stop.wait(self.interval):
                return
