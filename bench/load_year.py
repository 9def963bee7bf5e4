"""A year of data: a database filled with a year of a ministry's traffic, as Pouch writes it.

    uv run python bench/load_year.py --database year.db [--messages 1000000] [--offices 200]
    uv run python bench/load_year.py --database postgresql+psycopg://postgres@127.0.0.1/year

Not a benchmark itself (``bench_scale.py`` measures on what it loads). The
database is migrated, then filled with ``--messages`` messages over the year
that ends now (UTC): letters from ``--offices`` foreign offices to the
principal's office, and the principal's replies to them (a quarter). Each is
accepted through ``messages.acceptance.accept_many`` (a group of acceptances
per ten minutes of the year, as a group commit writes them), then walks its
path: delivered when its triage window ends (the worker's ``automatic``) or
routed earlier by a watch officer, read by one to three members of the
addressee office, acknowledged; some are held (two officers, then released:
``messages.holds``), some delivered late (``overdue`` first, as
``service.deliver`` records it), some translated (``language.translations``).
What the year's last hours have not reached yet stays where it is: queued,
held, unread.

The steps after acceptance are written as ``messages.service.record`` writes
them (the message's event row and its log event, tagged for both offices,
through ``ledger.service.record_events``) but many at a time: one log append
per minute of the year for deliveries, per hour for reads and
acknowledgements, each at that minute's or hour's time. Record one step at a
time and the load runs at the speed of one append per event (about a
millisecond each on SQLite): the hot spot at a year's scale. No office has
an endpoint, so no notice is queued, as in a Pouch whose offices never gave
one. Every message's language is declared, so the server's language desk has
nothing to catch up on. The log is integrated and its checkpoint signed as
the load goes; the key is written to ``--key`` (``pouch serve`` on the
database needs it), and ``pouch log verify`` and ``pouch office check`` pass
on the result.
"""

from __future__ import annotations

import argparse
import enum
import itertools
import json
import random
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pycountry
from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import COMMON
from pouch import migrations
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.directory.countries import get_country
from pouch.directory.models import OfficeKind
from pouch.directory.schemas import OfficeIn
from pouch.events import EventKind
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.language import translations
from pouch.language.models import LanguageDetection, Translation, TranslationStatus
from pouch.ledger import service as ledger_service
from pouch.ledger.events import format_time
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.ledger.store import LedgerEntry
from pouch.messages import acceptance, holds
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageEvent, MessageRead, MessageState
from pouch.messages.rules import Precedence, Timetable
from pouch.postgres import psycopg_of
from pouch.settings import Settings

ORIGIN = "bench.pouch.example/log"
YEAR = timedelta(days=365)
#: Acceptances share a time per half hour (a group commit's), deliveries per ten
#: minutes (FLASH and IMMEDIATE per minute: their deadlines are 10 and 30),
#: reads and acknowledgements per hour: fewer, larger log appends.
ACCEPT_GRID = timedelta(minutes=30)
DELIVER_GRID = timedelta(minutes=10)
URGENT_GRID = timedelta(minutes=1)
READ_GRID = timedelta(hours=1)
#: Foreign offices with a reader of the principal's replies (each user's password
#: hash costs a quarter of a second); the replies to the others stay unread.
READING_OFFICES = 20
#: Messages per transaction (then the log is integrated and a checkpoint signed).
SLICE = 2_000
STAFF = 4
PRECEDENCES = [Precedence.ROUTINE] * 12 + [Precedence.PRIORITY] * 5
PRECEDENCES += [Precedence.IMMEDIATE] * 2 + [Precedence.FLASH]
#: The words of the letters: those every letter of the kind uses.
WORDS = COMMON
#: Where a step stands in a message's path: equal times are written in this order.
RANK = {EventKind.OVERDUE: 0, EventKind.DELIVERED: 1, EventKind.READ: 2, EventKind.ACKNOWLEDGED: 3}


def ceil(moment: datetime, grid: timedelta) -> datetime:
    """``moment`` rounded up to the grid (UTC epoch-aligned)."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    steps = -(-(moment - epoch) // grid)
    return epoch + steps * grid


@dataclass
class People:
    """Who acts in the year: the offices, the principal's staff, the watch officers."""

    principal: int
    foreign: list[int]
    staff: list[int]
    watch: tuple[int, int]
    translator: int
    #: A reader in each foreign office (the principal's replies are read there).
    readers: dict[int, int]


@dataclass
class Loaded:
    messages: int = 0
    entries: int = 0
    holds: int = 0
    overdue: int = 0
    translations: int = 0
    replies: int = 0
    seconds: float = 0.0
    vkey: str = ""
    principal: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


@dataclass
class Step:
    at: datetime
    kind: EventKind
    row: dict[str, Any]  # the message: id, public_id, offices, deliver_by, ...
    actor: int | None
    details: dict[str, Any]


def directory(session: Session, offices: int, now: datetime) -> People:
    """The principal's office, ``offices`` foreign offices, and the people of the year."""

    def office(slug: str, name: str, kind: OfficeKind, country: str) -> int:
        data = OfficeIn(slug=slug, name=name, kind=kind, country_code=country)
        return directory_service.create_office(session, data=data, now=now).id

    def person(username: str, role: Role, office_id: int) -> int:
        user = identity_service.create_user(
            session,
            username=username,
            display_name=username.replace("-", " ").title(),
            password=secrets.token_urlsafe(16),  # never used: the bench issues tokens
            email=None,
            now=now,
        )
        identity_service.grant_role(
            session, user_id=user.id, office_id=office_id, role=role, now=now
        )
        return user.id

    ops = office("ops", "Operations Center", OfficeKind.OPERATIONS, "US")
    principal = office(
        "president-elect", "Office of the President-elect", OfficeKind.PRINCIPAL, "US"
    )
    # Countries of one time zone (the directory asks the zone of the others).
    countries = sorted(
        c.alpha_2
        for c in pycountry.countries
        if (known := get_country(c.alpha_2)) is not None
        and known.capital_zone is not None
        and c.alpha_2 != "US"
    )
    foreign = [
        office(
            f"office-{i:03d}",
            f"Foreign office {i}",
            OfficeKind.FOREIGN,
            countries[i % len(countries)],
        )
        for i in range(offices)
    ]
    return People(
        principal=principal,
        foreign=foreign,
        staff=[person(f"staff-{i}", Role.PRINCIPAL_STAFF, principal) for i in range(STAFF)],
        watch=(
            person("watch-1", Role.WATCH_OFFICER, ops),
            person("watch-2", Role.WATCH_OFFICER, ops),
        ),
        translator=person("translator-1", Role.TRANSLATOR, ops),
        readers={o: person(f"reader-{o}", Role.SENDER, o) for o in foreign[:READING_OFFICES]},
    )


class Year:
    """The year's traffic, slice by slice; ``rng`` makes it the same on every run."""

    def __init__(self, database: Database, people: People, count: int, *, end: datetime) -> None:
        self.database = database
        self.people = people
        self.count = count
        self.end = end
        self.start = end - YEAR
        self.rng = random.Random(19)
        self.settings = Settings()
        self.timetable = Timetable.from_settings(self.settings)
        self.limits = acceptance.Limits.from_settings(self.settings)
        # Letters come mostly from a few offices (Zipf), as a year's do.
        weights = [1 / (k + 1) for k in range(len(people.foreign))]
        self.weights = list(itertools.accumulate(weights))
        #: Letters delivered, which a reply may answer: (delivered at, id, sender office).
        self.answerable: list[tuple[datetime, int, int]] = []
        self.loaded = Loaded(principal=people.principal)

    def accepted_at(self, n: int) -> datetime:
        return ceil(self.start + YEAR * n / self.count, ACCEPT_GRID)

    def submissions(
        self, first: int, last: int
    ) -> Iterator[tuple[datetime, list[acceptance.Acceptance]]]:
        """The acceptances of messages ``first``..``last - 1``, a group per grid time."""
        for grid_time, numbers in itertools.groupby(range(first, last), self.accepted_at):
            at = min(grid_time, self.end)
            group = [
                acceptance.Acceptance(self.submission(at), submitted_by_user_id=None)
                for _ in numbers
            ]
            yield at, group

    def submission(self, at: datetime) -> acceptance.Submission:
        rng = self.rng
        subject = " ".join(rng.choices(WORDS, k=rng.randint(4, 9))).capitalize()
        body = " ".join(rng.choices(WORDS, k=rng.randint(60, 200)))
        precedence = rng.choice(PRECEDENCES)
        pick = rng.randrange(len(self.answerable)) if self.answerable else -1
        if pick >= 0 and self.answerable[pick][0] < at and rng.random() < 0.25:
            _, original, office = self.answerable.pop(pick)
            self.loaded.replies += 1
            return acceptance.Submission(
                sender_office_id=self.people.principal,
                addressee_office_id=office,
                subject=f"Re: {subject}",
                body=body,
                body_format="text",
                language="en",
                precedence=precedence,
                security_label=None,
                in_reply_to_id=original,
            )
        sender = rng.choices(self.people.foreign, cum_weights=self.weights)[0]
        return acceptance.Submission(
            sender_office_id=sender,
            addressee_office_id=self.people.principal,
            subject=subject,
            body=body,
            body_format="text",
            language="en",
            precedence=precedence,
            security_label=None,
        )

    def load_slice(self, session: Session, first: int, last: int) -> None:
        rows: list[dict[str, Any]] = []
        for at, group in self.submissions(first, last):
            outcomes = acceptance.accept_many(
                session, group, now=at, timetable=self.timetable, limits=self.limits
            )
            for outcome in outcomes:
                assert isinstance(outcome, acceptance.Accepted), outcome
                m = outcome.message
                rows.append(
                    {
                        "id": m.id,
                        "public_id": m.public_id,
                        "sender_office_id": m.sender_office_id,
                        "addressee_office_id": m.addressee_office_id,
                        "precedence": m.precedence,
                        "subject": m.subject,
                        "body_text": m.body_text,
                        "accepted_at": m.accepted_at,
                        "auto_deliver_at": m.auto_deliver_at,
                        "deliver_by": m.deliver_by,
                    }
                )
        self.loaded.messages += len(rows)
        # Declared languages, as the language desk records them at once.
        copy_rows(
            session,
            LanguageDetection.__table__,
            [
                {
                    "message_id": row["id"],
                    "language": "en",
                    "confidence": 1.0,
                    "status": "declared",
                    "alternatives": [],
                    "reason": "declared by the sender",
                    "detected_at": row["accepted_at"],
                }
                for row in rows
            ],
        )
        steps: list[Step] = []
        for row in rows:
            steps += self.path(session, row)
        self.write_steps(session, steps)

    def path(self, session: Session, row: dict[str, Any]) -> list[Step]:
        """The message's steps after acceptance; holds and translations written now,
        through their services; the rest returned, to be written many at a time."""
        rng = self.rng
        accepted: datetime = row["accepted_at"]
        deliver_by: datetime = row["deliver_by"]
        to_principal = row["addressee_office_id"] == self.people.principal
        steps: list[Step] = []
        fate = rng.random()
        urgent = row["precedence"] in (Precedence.FLASH, Precedence.IMMEDIATE)
        grid = URGENT_GRID if urgent else DELIVER_GRID
        if to_principal and rng.random() < 0.01:
            self.translate(session, row, at=accepted + timedelta(minutes=rng.randint(1, 30)))
        delivered: datetime | None
        if fate < 0.005 and to_principal and row["precedence"] is Precedence.ROUTINE:
            delivered = self.hold(session, row)
            if delivered is None:
                return steps
        else:
            if fate < 0.02:  # the watch floor missed it: overdue, routed late
                due = deliver_by + timedelta(minutes=rng.randint(1, 90))
                when, how, actor = ceil(due, grid), "routed", self.people.watch[0]
            elif fate < 0.35:  # routed by a watch officer within its triage window
                window = row["auto_deliver_at"] - accepted
                when = ceil(accepted + window * rng.random(), grid)
                how, actor = "routed", self.people.watch[rng.randrange(2)]
            else:
                when, how, actor = ceil(row["auto_deliver_at"], grid), "automatic", None
            if when > self.end:
                return steps  # still in the queue at the year's end
            if when > deliver_by:
                self.loaded.overdue += 1
                overdue_details = {"deliver_by": format_time(deliver_by), "state": "accepted"}
                overdue_at = min(ceil(deliver_by, grid), when)
                steps.append(Step(overdue_at, EventKind.OVERDUE, row, None, overdue_details))
            steps.append(Step(when, EventKind.DELIVERED, row, actor, {"how": how}))
            delivered = when
        if to_principal:
            self.answerable.append((delivered, row["id"], row["sender_office_id"]))
            readers = rng.sample(self.people.staff, rng.choice((0, 1, 1, 2, 2, 3)))
            acknowledges = rng.random() < 0.7
        else:
            reader = self.people.readers.get(row["addressee_office_id"])
            readers = [reader] if reader is not None and rng.random() < 0.8 else []
            acknowledges = rng.random() < 0.5
        last = delivered
        for reader in readers:
            last = ceil(last + timedelta(minutes=rng.randint(5, 600)), READ_GRID)
            steps.append(Step(last, EventKind.READ, row, reader, {"reader": reader}))
        if readers and acknowledges:
            by = readers[0]
            last = ceil(last + timedelta(minutes=rng.randint(10, 1440)), READ_GRID)
            steps.append(Step(last, EventKind.ACKNOWLEDGED, row, by, {"by": by}))
        return [step for step in steps if step.at <= self.end]

    def hold(self, session: Session, row: dict[str, Any]) -> datetime | None:
        """Held by two watch officers, then released (delivered): the services' path.
        Returns when it was delivered (None: still held at the year's end)."""
        first, second = self.people.watch
        asked = row["accepted_at"] + timedelta(minutes=1)
        if asked > self.end:
            return None
        hold = holds.request_hold(
            session,
            public_id=row["public_id"],
            officer_id=first,
            reason="Confirm the letter's provenance with the embassy",
            duration=timedelta(hours=1),
            now=asked,
            timetable=self.timetable,
        )
        approved = asked + timedelta(minutes=2)
        if approved > self.end:
            return None
        holds.approve_hold(
            session, public_id=row["public_id"], hold_id=hold.id, officer_id=second, now=approved
        )
        released = approved + timedelta(minutes=20)
        if released > self.end:
            return None
        holds.release_hold(
            session, public_id=row["public_id"], hold_id=hold.id, officer_id=first, now=released
        )
        self.loaded.holds += 1
        session.flush()
        return released

    def translate(self, session: Session, row: dict[str, Any], *, at: datetime) -> None:
        """A translator's French version, logged as ``translation.added``."""
        message = message_service.get_message(session, row["public_id"])
        version = Translation(
            message_id=row["id"],
            source="en",
            target="fr",
            status=TranslationStatus.REVIEWED,
            text=translations.join_text(row["subject"], "Traduction. " + row["body_text"][:400]),
            translator_user_id=self.people.translator,
            created_at=at,
            claimed_at=at,
            completed_at=at,
        )
        session.add(version)
        session.flush()
        translations.record_added(
            session, message, version, now=at, actor_user_id=self.people.translator
        )
        self.loaded.translations += 1

    def write_steps(self, session: Session, steps: list[Step]) -> None:
        """Each step as ``messages.service`` writes it (the message's event row, its log
        event tagged for both offices), one log append per time."""
        session.flush()
        steps.sort(key=lambda s: (s.at, RANK[s.kind]))
        events_table = MessageEvent.__table__
        for at, same_time in itertools.groupby(steps, key=lambda s: s.at):
            group = list(same_time)
            details = [{"message": s.row["public_id"], **s.details} for s in group]
            recorded = ledger_service.record_events(
                session,
                [
                    (s.kind, d, (s.row["addressee_office_id"], s.row["sender_office_id"]))
                    for s, d in zip(group, details, strict=True)
                ],
                at=at,
            )
            copy_rows(
                session,
                events_table,
                [
                    {
                        "message_id": s.row["id"],
                        "kind": s.kind.value,
                        "at": at,
                        "actor_user_id": s.actor,
                        "ledger_index": r.index,
                        "details": d,
                    }
                    for s, d, r in zip(group, details, recorded, strict=True)
                ],
            )
            self.apply(session, group, at)

    def apply(self, session: Session, group: list[Step], at: datetime) -> None:
        """The messages' columns after these steps, as the services set them."""
        by_kind: dict[EventKind, list[Step]] = {}
        for step in group:
            by_kind.setdefault(step.kind, []).append(step)
        table = Message.__table__
        changes = {
            EventKind.OVERDUE: {"overdue_at": at},
            EventKind.DELIVERED: {"state": MessageState.DELIVERED, "delivered_at": at},
            EventKind.ACKNOWLEDGED: {"state": MessageState.ACKNOWLEDGED, "acknowledged_at": at},
        }
        for kind, values in changes.items():
            if kind in by_kind:
                session.execute(
                    update(table).where(table.c.id == bindparam("message")).values(values),
                    [{"message": s.row["id"]} for s in by_kind[kind]],
                )
        if EventKind.READ in by_kind:
            copy_rows(
                session,
                MessageRead.__table__,
                [
                    {"message_id": s.row["id"], "user_id": s.actor, "at": at}
                    for s in by_kind[EventKind.READ]
                ],
            )


def copy_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """``rows`` (each with the same keys) into ``table``: on PostgreSQL by COPY, the
    fastest way in, for the rows the loader writes itself (what the services write
    goes through them); elsewhere by the driver's ``executemany``."""
    if not rows:
        return
    driver = psycopg_of(session.connection())
    if driver is None:
        session.execute(insert(table), rows)
        return

    def cell(value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value)  # a JSON column's text, as COPY reads it
        return value.value if isinstance(value, enum.Enum) else value

    columns = list(rows[0])
    named = ", ".join(f'"{column}"' for column in columns)
    statement = f'COPY "{table.name}" ({named}) FROM STDIN'
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([cell(row[column]) for column in columns])


def load(
    database: Database,
    *,
    messages: int,
    offices: int,
    signer: Ed25519Signer,
    progress: Callable[[str], None] = print,
) -> Loaded:
    """Fill a migrated, empty ``database`` with a year that ends now."""
    started = time.perf_counter()
    end = datetime.now(UTC).replace(microsecond=0)
    with database.transaction() as session:
        people = directory(session, offices, end - YEAR - timedelta(days=1))
    year = Year(database, people, messages, end=end)
    ledger = ledger_service.Ledger(
        database, signer=signer, origin=ORIGIN, clock=ManualClock(end), integrate_interval=3600
    )
    for first in range(0, messages, SLICE):
        with database.transaction() as session:
            year.load_slice(session, first, min(messages, first + SLICE))
        ledger.integrate_now()
        done = min(messages, first + SLICE)
        if done % (SLICE * 10) == 0 or done == messages:
            seconds = time.perf_counter() - started
            progress(f"  {done:,} messages, {done / seconds:,.0f}/s")
    if database.backend == "postgresql":
        # What autovacuum does after a bulk load, done now (and where it is off, as on
        # this project's CI machines): the planner's statistics, and the visibility
        # map that index-only scans need. The year's updates leave each message's
        # row dead once or twice over: without it, a scan of the messages' ids at a
        # million read 1.5 million dead rows (2.2 s against 0.34 s).
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM (ANALYZE)"
            )
    loaded = year.loaded
    loaded.seconds = time.perf_counter() - started
    loaded.vkey = signer.verifier.vkey
    with database.transaction() as session:
        loaded.entries = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        loaded.by_state = {
            str(state): count
            for state, count in session.execute(
                select(Message.state, func.count()).group_by(Message.state)
            )
        }
    return loaded


def database_bytes(database: Database) -> int:
    """The database's size on disk (SQLite: the file and its WAL)."""
    if database.backend == "postgresql":
        with database.engine.connect() as connection:
            size = connection.execute(text("SELECT pg_database_size(current_database())"))
            return int(size.scalar() or 0)
    path = Path(database.engine.url.database or "")
    return sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a SQLite file or a PostgreSQL URL")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--offices", type=int, default=200, help="foreign offices")
    parser.add_argument("--key", type=Path, help="where the log's signing key goes")
    args = parser.parse_args()
    url = args.database if "://" in args.database else f"sqlite:///{args.database}"
    key_file = args.key or Path(f"{args.database.rsplit('/', 1)[-1]}.skey")
    database = Database.from_url(url)
    migrations.upgrade(database)
    skey, vkey = generate_key(ORIGIN)
    key_file.write_text(skey + "\n")
    key_file.with_suffix(".vkey").write_text(vkey + "\n")
    print(f"Loading {args.messages:,} messages to {args.offices} offices into {database.backend}")
    loaded = load(
        database,
        messages=args.messages,
        offices=args.offices,
        signer=Ed25519Signer.from_skey(skey),
    )
    size = database_bytes(database)
    print(
        f"{loaded.messages:,} messages ({loaded.replies:,} replies, {loaded.holds} held and "
        f"released, {loaded.overdue:,} overdue, {loaded.translations:,} translated) and "
        f"{loaded.entries:,} log entries in {loaded.seconds:.0f} s: "
        f"{loaded.messages / loaded.seconds:,.0f} messages/s, "
        f"{loaded.entries / loaded.seconds:,.0f} entries/s"
    )
    print(f"states: {loaded.by_state}")
    print(
        f"database: {size / 2**20:,.0f} MiB, {size / max(1, loaded.messages):,.0f} bytes per "
        f"message; signing key in {key_file}, verifier key in {key_file.with_suffix('.vkey')}"
    )
    database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
