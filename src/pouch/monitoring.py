"""What operators watch: readiness (``/readyz``) and metrics (``/metrics``).

Readiness says whether this process should get traffic: the database answers,
its schema is at the latest migration, and (when the process runs background
work) the deadline worker and the outbox have each finished a round within
three intervals. A stuck or dead worker means no automatic delivery, no hold
expiry and no ``overdue``: the process is then not ready, and says why.

Metrics are read from the database at each scrape (so every process of
``pouch serve --workers N`` reports the same totals) plus what only this
process knows: its workers' last rounds and how long its write transactions
held the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from pouch import migrations
from pouch.clock import Clock
from pouch.db import Database
from pouch.ledger import service as ledger_service
from pouch.messages import outbox as outbox_service
from pouch.messages import worker as worker_service
from pouch.messages.models import Hold, HoldStatus, Message

#: Background work older than this many intervals makes the process not ready.
STALE_ROUNDS = 3


@dataclass(frozen=True)
class Loop:
    """A background loop as readiness sees it."""

    name: str
    last_round: datetime | None
    interval: timedelta


@dataclass(frozen=True)
class Readiness:
    ready: bool
    body: dict[str, Any] = field(default_factory=dict)


def loop_problem(loop: Loop, *, started: datetime, now: datetime) -> str | None:
    """Why a background loop counts as stuck, or None.

    >>> from datetime import UTC
    >>> t = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
    >>> worker = Loop("worker", t, timedelta(seconds=5))
    >>> loop_problem(worker, started=t, now=t + timedelta(seconds=15)) is None
    True
    >>> loop_problem(worker, started=t, now=t + timedelta(seconds=16))
    'worker: no round finished for 16 s (every 5 s expected)'
    """
    since = loop.last_round or started
    late = now - since
    if late <= STALE_ROUNDS * loop.interval:
        return None
    return (
        f"{loop.name}: no round finished for {late.total_seconds():.0f} s "
        f"(every {loop.interval.total_seconds():.0f} s expected)"
    )


def readiness(
    database: Database,
    *,
    loops: list[Loop],
    started: datetime | None,
    now: datetime,
    findings: list[str] | None = None,
) -> Readiness:
    """Whether this process should get traffic, and the reasons when it should not:
    ``findings`` are what the log's own integrity check found wrong."""
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current, head = migrations.revisions(connection)
    except Exception:  # any failure to reach the database means "not ready"
        return Readiness(False, {"status": "unavailable", "database": "unreachable"})
    if current != head:
        return Readiness(
            False,
            {"status": "unavailable", "database": "ok", "migration": current, "expected": head},
        )
    body: dict[str, Any] = {"status": "ok", "database": "ok", "migration": current}
    problems = [f"integrity: {finding}" for finding in findings or []]
    if started is not None:
        body["background"] = {
            loop.name: {
                "last_round": loop.last_round.isoformat() if loop.last_round else None,
                "every_seconds": loop.interval.total_seconds(),
            }
            for loop in loops
        }
        problems += [p for loop in loops if (p := loop_problem(loop, started=started, now=now))]
    if problems:
        body["status"] = "unavailable"
        body["problems"] = problems
        return Readiness(False, body)
    return Readiness(True, body)


class Metrics(Collector):
    """Pouch's metrics, computed at each scrape, and this process's own."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        loops: Callable[[], list[Loop]],
        findings: Callable[[], list[str]] = list,
    ) -> None:
        self.database = database
        self.clock = clock
        self.loops = loops
        self.findings = findings
        self.registry = CollectorRegistry()
        self.write_holds = Histogram(
            "pouch_write_transaction_seconds",
            "How long this process's write transactions held the database.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.registry.register(self)
        database.observers.append(self._observe)

    def _observe(self, write: bool, held: float) -> None:
        if write:
            self.write_holds.observe(held)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        with self.database.transaction(write=False) as session:
            accepted = session.scalar(select(func.count()).select_from(Message))
            delivered = session.scalar(
                select(func.count()).select_from(Message).where(Message.delivered_at.is_not(None))
            )
            overdue = session.scalar(
                select(func.count()).select_from(Message).where(Message.overdue_at.is_not(None))
            )
            held = session.scalar(
                select(func.count()).select_from(Hold).where(Hold.status == HoldStatus.ACTIVE)
            )
            depth = outbox_service.depth(session)
            failures = worker_service.count_open_failures(session)
            checkpoint = ledger_service.latest_checkpoint(session)
            signed = ledger_service.signed_checkpoint(session)
            published = ledger_service.published_at(session)
            witnessing = ledger_service.publication(session)
            alarms = ledger_service.witness_alarms(session)
        yield CounterMetricFamily(
            "pouch_messages_accepted", "Messages accepted.", value=accepted or 0
        )
        yield CounterMetricFamily(
            "pouch_messages_delivered", "Messages delivered.", value=delivered or 0
        )
        yield CounterMetricFamily(
            "pouch_messages_overdue", "Messages recorded overdue.", value=overdue or 0
        )
        yield GaugeMetricFamily("pouch_holds_in_force", "Holds in force.", value=held or 0)
        yield GaugeMetricFamily(
            "pouch_outbox_waiting", "Notices not yet sent, still tried.", value=depth.waiting
        )
        yield GaugeMetricFamily(
            "pouch_outbox_failed", "Notices given up on (auditors see them).", value=depth.failed
        )
        oldest = (now - depth.oldest).total_seconds() if depth.oldest is not None else 0.0
        yield GaugeMetricFamily(
            "pouch_outbox_oldest_age_seconds", "Age of the oldest notice not sent.", value=oldest
        )
        yield GaugeMetricFamily(
            "pouch_worker_failures_open",
            "Rows the worker failed on and is still trying.",
            value=failures,
        )
        yield GaugeMetricFamily(
            "pouch_log_size",
            "Entries in the latest checkpoint.",
            value=checkpoint.size if checkpoint else 0,
        )
        age = (now - published).total_seconds() if published is not None else 0.0
        yield GaugeMetricFamily(
            "pouch_checkpoint_age_seconds", "Age of the latest checkpoint.", value=age
        )
        yield GaugeMetricFamily(
            "pouch_log_unpublished_entries",
            "Entries signed by the log but not yet published (waiting for the witnesses).",
            value=max(0, (signed.size if signed else 0) - (checkpoint.size if checkpoint else 0)),
        )
        yield GaugeMetricFamily(
            "pouch_checkpoint_without_quorum",
            "1 when the latest checkpoint was published without the witnesses' quorum.",
            value=1 if witnessing == "without-quorum" else 0,
        )
        yield GaugeMetricFamily(
            "pouch_integrity_problems",
            "What the log's own integrity check (newest tiles and openings) found wrong.",
            value=len(self.findings()),
        )
        yield CounterMetricFamily(
            "pouch_witness_alarms",
            "Witness refusals only a fork or a rollback of the log explains.",
            value=alarms,
        )
        lag = GaugeMetricFamily(
            "pouch_background_lag_seconds",
            "Time since this process's background loop last finished a round.",
            labels=["loop"],
        )
        for loop in self.loops():
            if loop.last_round is not None:
                lag.add_metric([loop.name], (now - loop.last_round).total_seconds())
        yield lag
