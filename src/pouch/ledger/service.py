"""The ledger as the rest of Pouch sees it.

``record_event`` is the one function through which anything in Pouch writes
an event: it commits to the event in the log (in the caller's transaction)
and keeps the opening. ``Ledger`` is the running log: its signer, its tile
cache and the integrator thread. Appends join the caller's transaction,
which the application's group committer commits (``pouch.groupcommit``,
built in ``create_app`` to wake the integrator and, on SQLite, to take
``Ledger.turns`` with it). Reads (checkpoint, proofs, receipts, tiles) take
a session.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import httpx
from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from pouch import postgres
from pouch.clock import Clock
from pouch.db import Database
from pouch.errors import IntegrityFailure
from pouch.groupcommit import Turns
from pouch.ledger import events, keys, sequencer, tagkeys, witnessing
from pouch.ledger.checkpoint import open_checkpoint
from pouch.ledger.errors import LedgerFormatError, MalformedTile
from pouch.ledger.layout import (
    TILE_WIDTH,
    BundleID,
    TileID,
    bundles_for_size,
    encode_bundle,
    parse_bundle,
    parse_path,
    parse_tile,
)
from pouch.ledger.merkle import CompactRange, consistency_proof, inclusion_proof, leaf_hash
from pouch.ledger.note import Ed25519Signer, Ed25519Verifier
from pouch.ledger.policy import Policy
from pouch.ledger.receipt import build_receipt
from pouch.ledger.store import (
    CHECKPOINT_ROW,
    HEAD_ROW,
    PUBLISHED_ROW,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerOpening,
    LedgerWitness,
    LedgerWitnessRefusal,
    TileCache,
    TileNodeReader,
    read_tile,
)
from pouch.ledger.verify import LogInconsistent, verify_log
from pouch.settings import Settings


class NotIntegrated(LookupError):
    """The entry or tree size asked for is beyond the latest checkpoint."""


@dataclass(frozen=True)
class RecordedEvent:
    index: int
    entry: bytes
    opening: events.Opening


_OPENINGS = cast(Table, LedgerOpening.__table__)

#: An event to record: its kind, its details, and the parties (ids) it concerns,
#: whose tags its entry carries.
ToRecord = tuple[str, Mapping[str, Any], Collection[int]]


def record_event(
    session: Session,
    *,
    kind: str,
    at: datetime,
    details: Mapping[str, Any],
    parties: Collection[int] = (),
    faults: sequencer.Faults = sequencer.NO_FAULTS,
) -> RecordedEvent:
    """Write one event to the log, in the caller's transaction.

    The event is ``details`` plus its ``kind`` and ``time``; the log gets the
    salted commitment with a tag for each of ``parties``, the opening is kept
    for the parties entitled to it.
    """
    (recorded,) = record_events(session, [(kind, details, parties)], at=at, faults=faults)
    return recorded


def record_events(
    session: Session,
    events_to_record: Sequence[ToRecord],
    *,
    at: datetime,
    faults: sequencer.Faults = sequencer.NO_FAULTS,
) -> list[RecordedEvent]:
    """Write several events at ``at`` to the log, in order, in the caller's
    transaction: one append and one insert of openings for all of them, each
    party's counter bumped once."""
    recorded, openings = append_events(session, events_to_record, at=at, faults=faults)
    # Written now, rather than at the session's next flush.
    postgres.insert_many(session.connection(), *openings)
    return recorded


#: The rows of ``ledger_openings`` that ``append_events`` leaves to its caller.
Openings = tuple[Table, list[dict[str, Any]]]


def append_events(
    session: Session,
    events_to_record: Sequence[ToRecord],
    *,
    at: datetime,
    faults: sequencer.Faults = sequencer.NO_FAULTS,
) -> tuple[list[RecordedEvent], Openings]:
    """``record_events``, leaving its openings to the caller to insert before its
    transaction's next read of them (a group commit of acceptances sends them
    with its messages, ``postgres.insert_together``)."""
    if not events_to_record:
        return [], (_OPENINGS, [])
    time = events.format_time(at)
    # Every event is checked and committed to before anything is written.
    made: list[tuple[dict[str, Any], bytes, events.Committed, list[int]]] = []
    for kind, details, parties in events_to_record:
        event = {**details, "kind": kind, "time": time}
        salt = events.new_salt()
        made.append((event, salt, events.commit(event, salt), sorted(set(parties))))
    tagged: list[list[bytes]] = []  # each event's tags, in its entry's order
    built: list[bytes] = []
    of_events = [p for *_, p in made]

    def build(bumped: sequencer.Bumped) -> list[bytes]:
        # The head row is held now: the parties' counters were bumped with it, in
        # log order (on PostgreSQL, in the head row's round trip).
        (counters,) = bumped
        for entry_tags in tagkeys.tags_from(session.connection(), of_events, counters):
            tagged.append(sorted(entry_tags, key=base64.b64encode))
        built.extend(
            committed.entry(entry_tags)
            for (_, _, committed, _), entry_tags in zip(made, tagged, strict=True)
        )
        return built

    indexes = sequencer.append_built(
        session,
        len(made),
        build,
        now=at,
        faults=faults,
        along=[tagkeys.counter_bumps(of_events)],
    )
    openings = [
        {
            "idx": index,
            "kind": event["kind"],
            "salt": salt,
            "event": committed.event_json,
            "tags": b"".join(entry_tags),
            "parties": json.dumps(of_event),
        }
        for index, (event, salt, committed, of_event), entry_tags in zip(
            indexes, made, tagged, strict=True
        )
    ]
    recorded = [
        RecordedEvent(
            index=index, entry=entry, opening=events.Opening(index, salt, event, tuple(entry_tags))
        )
        for index, (event, salt, _, _), entry_tags, entry in zip(
            indexes, made, tagged, built, strict=True
        )
    ]
    return recorded, (_OPENINGS, openings)


@dataclass(frozen=True)
class TagKeyRotation:
    """A party's new tag key, the counter it applies from, and the event recorded; with
    the key in force until now (and its first counter) when it had never been handed
    to the party (the one made at the party's first event)."""

    recorded: RecordedEvent
    key: bytes
    from_counter: int
    previous: tuple[bytes, int] | None


def rotate_tag_key(
    session: Session,
    *,
    party: int,
    kind: str,
    at: datetime,
    details: Mapping[str, Any],
    faults: sequencer.Faults = sequencer.NO_FAULTS,
) -> TagKeyRotation:
    """Give ``party`` a new tag key, recording the event ``kind``: it is tagged with
    the old key, and says (``from_counter``) from which of the party's counters the
    new key applies, which is the next one after it."""
    # Held first, as an append would: the counter read here is this event's.
    sequencer.hold_head(session)
    connection = session.connection()
    kept = tagkeys.current(connection, party)
    from_counter = kept.next_counter + 1
    recorded = record_event(
        session,
        kind=kind,
        at=at,
        details={**details, "from_counter": from_counter},
        parties=[party],
        faults=faults,
    )
    key = tagkeys.new_key()
    tagkeys.replace(connection, party, key=key, key_from=from_counter)
    previous = None if kept.disclosed else (kept.key, kept.key_from)
    return TagKeyRotation(recorded=recorded, key=key, from_counter=from_counter, previous=previous)


def opening(session: Session, index: int) -> events.Opening | None:
    row = session.get(LedgerOpening, index)
    if row is None:
        return None
    return _opening_of(row)


@dataclass(frozen=True)
class KeptOpening:
    """An opening as kept, with the parties its event concerns (none known for a v1 entry)."""

    opening: events.Opening
    parties: frozenset[int]


def kept_opening(session: Session, index: int) -> KeptOpening | None:
    row = session.get(LedgerOpening, index)
    if row is None:
        return None
    opening = _opening_of(row)
    try:
        parties = json.loads(row.parties) if row.parties is not None else []
        if not isinstance(parties, list) or not all(isinstance(p, int) for p in parties):
            raise ValueError("not a list of ids")
    except ValueError as error:
        raise IntegrityFailure(f"the parties of log entry {row.idx} are damaged") from error
    return KeptOpening(opening=opening, parties=frozenset(parties))


class _KeptRow(Protocol):
    """An opening as kept: a ``LedgerOpening``, or a row of its columns."""

    @property
    def idx(self) -> int: ...
    @property
    def salt(self) -> bytes: ...
    @property
    def event(self) -> str | bytes: ...
    @property
    def tags(self) -> bytes | None: ...


def _opening_of(row: _KeptRow) -> events.Opening:
    try:
        return events.Opening.kept(
            index=int(row.idx),
            salt=bytes(row.salt),
            event=json.loads(row.event),
            tags=None if row.tags is None else bytes(row.tags),
        )
    except (ValueError, TypeError) as error:
        raise IntegrityFailure(f"the opening of log entry {row.idx} is damaged") from error


_KEPT = select(LedgerOpening.idx, LedgerOpening.salt, LedgerOpening.event, LedgerOpening.tags)


#: How many indexes one query of ``openings`` or ``entries`` asks for.
_CHUNK = 500


def openings(session: Session, *, indexes: Sequence[int]) -> dict[int, events.Opening]:
    """The openings kept at ``indexes`` (a few queries for any number of them); an index
    with none, or with one that is not well-formed, is left out."""
    found: dict[int, events.Opening] = {}
    for start in range(0, len(indexes), _CHUNK):
        chunk = indexes[start : start + _CHUNK]
        # Rows, not ORM objects: a page of an office's ledger asks for a thousand.
        for row in session.execute(_KEPT.where(LedgerOpening.idx.in_(chunk))):
            with contextlib.suppress(events.InvalidEvent):
                found[row.idx] = _opening_of(row)
    return found


def entries(session: Session, *, indexes: Sequence[int]) -> dict[int, bytes]:
    """The log's entries at ``indexes`` (a few queries for any number of them)."""
    sequencer.write_pending(session)
    found: dict[int, bytes] = {}
    for start in range(0, len(indexes), _CHUNK):
        chunk = indexes[start : start + _CHUNK]
        rows = session.execute(
            select(LedgerEntry.idx, LedgerEntry.data).where(LedgerEntry.idx.in_(chunk))
        )
        found.update((int(index), bytes(data)) for index, data in rows)
    return found


@dataclass(frozen=True)
class Published:
    size: int
    root: bytes
    note: bytes


_CHECKPOINT = cast(Table, LedgerCheckpoint.__table__)
_ENTRIES = cast(Table, LedgerEntry.__table__)
# Built once: building a statement costs more than running these.
_LATEST = select(_CHECKPOINT.c.size, _CHECKPOINT.c.root, _CHECKPOINT.c.note).where(
    _CHECKPOINT.c.id == PUBLISHED_ROW
)
_SIGNED = select(_CHECKPOINT.c.size, _CHECKPOINT.c.root, _CHECKPOINT.c.note).where(
    _CHECKPOINT.c.id == CHECKPOINT_ROW
)
_ENTRY = select(_ENTRIES.c.data).where(_ENTRIES.c.idx == bindparam("index"))


def latest_checkpoint(session: Session) -> Published | None:
    """The latest published checkpoint: what ``/log/checkpoint`` serves and receipts carry."""
    size, root, note = session.connection().execute(_LATEST).one()
    if note is None:
        return None
    return Published(size=int(size), root=bytes(root), note=note.encode())


def signed_checkpoint(session: Session) -> Published | None:
    """The latest checkpoint the log signed, published or still waiting for witnesses."""
    size, root, note = session.connection().execute(_SIGNED).one()
    if note is None:
        return None
    return Published(size=int(size), root=bytes(root), note=note.encode())


def publication(session: Session) -> str | None:
    """How the latest checkpoint was published (see ``witnessing``)."""
    return session.scalar(
        select(LedgerCheckpoint.witnessing).where(LedgerCheckpoint.id == PUBLISHED_ROW)
    )


@dataclass(frozen=True)
class WitnessState:
    name: str
    vkey: str
    url: str | None
    size: int | None
    cosigned_at: datetime | None
    error: str | None
    alarms: int


def witness_alarms(session: Session) -> int:
    """How many witness refusals only a fork or a rollback of this log explains."""
    count = session.scalar(
        select(func.count())
        .select_from(LedgerWitnessRefusal)
        .where(LedgerWitnessRefusal.alarm.is_(True))
    )
    return int(count or 0)


def witness_states(session: Session, policy: Policy) -> list[WitnessState]:
    """The policy's witnesses as this log last found them."""
    rows = {row.name: row for row in session.scalars(select(LedgerWitness))}
    alarms = dict(
        session.execute(
            select(LedgerWitnessRefusal.witness, func.count())
            .where(LedgerWitnessRefusal.alarm.is_(True))
            .group_by(LedgerWitnessRefusal.witness)
        ).all()
    )
    states = []
    for witness in policy.witnesses:
        row = rows.get(witness.name)
        states.append(
            WitnessState(
                name=witness.name,
                vkey=witness.verifier.vkey,
                url=witness.url,
                size=row.size if row else None,
                cosigned_at=row.cosigned_at if row else None,
                error=row.error if row else None,
                alarms=int(alarms.get(witness.name, 0)),
            )
        )
    return states


def sequenced_size(session: Session) -> int:
    """How many entries have been sequenced (integrated or not)."""
    sequencer.write_pending(session)
    head = session.get(LedgerHead, HEAD_ROW)
    return head.next_index if head is not None else 0


def entry(session: Session, index: int) -> bytes | None:
    sequencer.write_pending(session)
    data = session.connection().execute(_ENTRY, {"index": index}).scalar()
    return bytes(data) if data is not None else None


def _published_or_raise(session: Session, size: int) -> Published:
    latest = latest_checkpoint(session)
    if latest is None or size > latest.size:
        have = 0 if latest is None else latest.size
        raise NotIntegrated(f"tree size {size} is beyond the latest checkpoint ({have})")
    return latest


def prove_inclusion(session: Session, *, index: int, size: int, cache: TileCache) -> list[bytes]:
    _published_or_raise(session, size)
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    return inclusion_proof(index, size, TileNodeReader(session, cache))


def prove_consistency(session: Session, *, old: int, new: int, cache: TileCache) -> list[bytes]:
    _published_or_raise(session, new)
    if not 0 <= old <= new:
        raise ValueError(f"cannot prove a tree of size {old} consistent with one of size {new}")
    if old == 0 or old == new:
        return []
    return consistency_proof(old, new, TileNodeReader(session, cache))


def receipt(session: Session, *, index: int, cache: TileCache) -> bytes:
    """A c2sp.org/tlog-proof@v1 receipt for ``index`` under the latest checkpoint."""
    latest = latest_checkpoint(session)
    if latest is None or index >= latest.size:
        raise NotIntegrated(f"entry {index} is not yet covered by a checkpoint")
    data = entry(session, index)
    if data is None:
        raise IntegrityFailure(f"log entry {index} is covered by a checkpoint but not stored")
    proof = inclusion_proof(index, latest.size, TileNodeReader(session, cache))
    return build_receipt(
        index=index, proof=proof, checkpoint=latest.note, leaf_hash=leaf_hash(data)
    )


def receipt_once_published(session: Session, *, index: int, cache: TileCache) -> str | None:
    """``receipt`` as text, or None while no checkpoint covers ``index`` yet."""
    try:
        return receipt(session, index=index, cache=cache).decode()
    except NotIntegrated:
        return None


def tile_body(session: Session, tile: TileID, *, cache: TileCache) -> bytes | None:
    """The body of ``tile`` as published: only within the latest checkpoint."""
    latest = latest_checkpoint(session)
    if latest is None:
        return None
    stored = read_tile(session, tile.level, tile.index, cache)
    if stored is None:
        return None
    width, data = stored
    # The stored partial tile may be ahead of the checkpoint; never serve that.
    published_width = min(width, _published_width(latest.size, tile))
    if published_width < tile.width:
        return None
    return data[: tile.width * 32]


def _published_width(size: int, tile: TileID) -> int:
    hashes_on_level = size >> (8 * tile.level)
    return max(0, min(TILE_WIDTH, hashes_on_level - tile.index * TILE_WIDTH))


def bundle_body(session: Session, bundle: BundleID) -> bytes | None:
    sequencer.write_pending(session)
    latest = latest_checkpoint(session)
    if latest is None:
        return None
    first = bundle.index * TILE_WIDTH
    last = first + bundle.width
    if last > latest.size:
        return None
    rows = list(
        session.scalars(
            select(LedgerEntry.data)
            .where(LedgerEntry.idx >= first, LedgerEntry.idx < last)
            .order_by(LedgerEntry.idx)
        )
    )
    return encode_bundle([bytes(r) for r in rows])


# -- reading the log back: its growth, and whether it verifies --------------------


def published_at(session: Session) -> datetime | None:
    """When the latest checkpoint was published."""
    return session.scalar(
        select(LedgerCheckpoint.published_at).where(LedgerCheckpoint.id == PUBLISHED_ROW)
    )


def growth(session: Session, *, since: datetime | None = None) -> list[tuple[datetime, int]]:
    """(each hour with entries, entries appended by its end): the log's size over time;
    with ``since``, from that time on only (the hours before are counted, not listed),
    so that the page of a log a year old groups a week of entries, not a year."""
    sequencer.write_pending(session)
    hour = _hour_bucket(session)
    listed = select(hour, func.count()).group_by(hour).order_by(hour)
    total = 0
    if since is not None:
        total = first_appended_since(session, since)
        listed = listed.where(LedgerEntry.idx >= total)
    rows = session.execute(listed).all()
    points = []
    for text, count in rows:
        total += int(count)
        start = datetime.strptime(str(text), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        points.append((start, total))
    return points


def first_appended_since(session: Session, since: datetime) -> int:
    """The index of the first entry appended at or after ``since`` (the log's size when
    none was): entries are appended in order, so a binary search over the index finds
    it in a few dozen lookups by primary key, however long the log."""
    low, high = 0, sequenced_size(session)
    while low < high:
        middle = (low + high) // 2
        at = session.scalar(select(LedgerEntry.appended_at).where(LedgerEntry.idx == middle))
        if at is not None and at >= since:
            high = middle
        else:
            low = middle + 1
    return low


def _hour_bucket(session: Session) -> Any:
    column = LedgerEntry.appended_at
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00", column)
    return func.to_char(func.date_trunc("hour", func.timezone("UTC", column)), "YYYY-MM-DD HH24:00")


@dataclass(frozen=True)
class Verification:
    """Whether the log verifies, and each step said plainly (its outcome, its sentence)."""

    ok: bool
    steps: list[tuple[bool, str]]


class DatabaseSource:
    """The log exactly as ``/log/`` serves it, read from the database (a ``TileSource``)."""

    def __init__(self, session: Session, cache: TileCache) -> None:
        self.session = session
        self.cache = cache

    def read(self, path: str) -> bytes | None:
        if path == "checkpoint":
            latest = latest_checkpoint(self.session)
            return latest.note if latest is not None else None
        try:
            resource = parse_path(path)
        except MalformedTile:
            return None
        if isinstance(resource, TileID):
            return tile_body(self.session, resource, cache=self.cache)
        return bundle_body(self.session, resource)


def quick_verification(
    session: Session, *, verifier: Ed25519Verifier, cache: TileCache
) -> Verification:
    """Cheap enough for every view: the checkpoint's signature, the root recomputed from
    the stored tiles (O(log n) tile reads), the newest entries (at most 256) against
    their tile."""
    latest = latest_checkpoint(session)
    if latest is None:
        return Verification(False, [(False, "The log has not published a checkpoint yet.")])
    steps: list[tuple[bool, str]] = []
    try:
        checkpoint = open_checkpoint(latest.note, log=verifier).checkpoint
    except LedgerFormatError as error:
        return Verification(False, [(False, f"The checkpoint does not verify: {error}.")])
    steps.append(
        (True, f"The checkpoint is signed by the log's key {verifier.vkey.split('+')[0]}.")
    )
    if checkpoint.size == 0:
        return Verification(True, steps)
    try:
        root = CompactRange.load(checkpoint.size, TileNodeReader(session, cache)).root()
    except LookupError as error:
        return Verification(False, [*steps, (False, f"A tile the tree needs is missing: {error}.")])
    if root != checkpoint.root_hash:
        steps.append(
            (False, f"The stored tiles give root {root.hex()}, not the checkpoint's root.")
        )
        return Verification(False, steps)
    steps.append((True, "The root recomputed from the stored tiles is the checkpoint's root."))
    newest = bundles_for_size(checkpoint.size)[-1]
    bundle = bundle_body(session, newest)
    tile = TileID(0, newest.index, newest.width)
    body = tile_body(session, tile, cache=cache)
    try:
        if bundle is None or body is None:
            raise LogInconsistent(f"{newest.path} or {tile.path} is not served")
        hashes = parse_tile(body, tile)
        bundled = parse_bundle(bundle, newest)
        if [leaf_hash(e) for e in bundled] != hashes:
            raise LogInconsistent(f"the entries of {newest.path} do not hash to {tile.path}")
    except (LogInconsistent, LedgerFormatError) as error:
        return Verification(False, [*steps, (False, f"The newest entries do not check: {error}.")])
    steps.append((True, f"The newest {len(bundled)} entries hash to their tile."))
    return Verification(True, steps)


def full_verification(
    session: Session, *, verifier: Ed25519Verifier, cache: TileCache
) -> Verification:
    """Every entry rehashed and every tile compared, as ``pouch log verify`` does, over
    the resources ``/log/`` serves, read straight from the database."""
    started = time.perf_counter()
    try:
        verified = verify_log(DatabaseSource(session, cache), verifier)
    except LogInconsistent as error:
        return Verification(False, [(False, f"The log does not verify: {error}.")])
    seconds = time.perf_counter() - started
    return Verification(
        True,
        [
            (
                True,
                f"All {verified.entries} entries rehashed and {verified.tiles} tiles compared "
                f"with what /log/ serves, up to the signed root ({seconds:.2f} s).",
            )
        ],
    )


class Ledger:
    """The running log of one Pouch process."""

    def __init__(
        self,
        database: Database,
        *,
        signer: Ed25519Signer,
        origin: str,
        clock: Clock,
        batch_window: float = 0.1,
        integrate_interval: float = 0.5,
        faults: sequencer.Faults | None = None,
        policy: Policy | None = None,
        witness_timeout: float = 5.0,
        publish_without_quorum: bool = False,
        witness_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.database = database
        self.signer = signer
        self.origin = origin
        self.clock = clock
        self.cache = TileCache()
        self.faults = faults if faults is not None else sequencer.Faults.from_environment()
        # SQLite has one writer at a time: the integrator and the writers of this
        # process (the group committer) take turns rather than poll for its lock.
        self.turns = Turns() if database.backend == "sqlite" else None
        self.policy = policy
        self.witnessing = (
            witnessing.Witnessing(
                database,
                policy=policy,
                client=witnessing.WitnessClient(
                    policy, timeout=witness_timeout, transport=witness_transport
                ),
                log=signer.verifier,
                clock=clock,
                cache=self.cache,
                without_quorum=publish_without_quorum,
                turns=self._turn,
            )
            if policy is not None
            else None
        )
        # Under load, one checkpoint per batch window, as appends share one
        # commit per batch window.
        self.integrator = sequencer.Integrator(
            self.integrate_now, interval=integrate_interval, spacing=batch_window
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, database: Database, clock: Clock) -> Ledger:
        """The log as the settings describe it: its key, origin, pace and witnesses."""
        signer = keys.load_signer(settings)
        return cls(
            database,
            signer=signer,
            origin=settings.log_origin,
            clock=clock,
            batch_window=settings.log_batch_window.total_seconds(),
            integrate_interval=settings.log_integrate_interval.total_seconds(),
            policy=keys.load_policy(settings, signer.verifier),
            witness_timeout=settings.witness_timeout.total_seconds(),
            publish_without_quorum=settings.witness_publish_without_quorum,
        )

    @property
    def vkey(self) -> str:
        return self.signer.verifier.vkey

    def start(self) -> None:
        """Start the background integrator."""
        if self.witnessing is not None:
            self.witnessing.register()
        self.integrator.start()

    def stop(self) -> None:
        self.integrator.stop()
        if self.witnessing is not None:
            self.witnessing.client.close()

    def _turn(self) -> contextlib.AbstractContextManager[None]:
        return self.turns or contextlib.nullcontext()

    def integrate_now(self) -> sequencer.Integrated | None:
        """Integrate what was sequenced; with witnesses, then ask them to cosign the
        latest signed checkpoint (outside any transaction) and publish it with a quorum."""
        with self._turn():
            done = sequencer.integrate(
                self.database,
                signer=self.signer,
                origin=self.origin,
                clock=self.clock,
                cache=self.cache,
                faults=self.faults,
                publish=self.witnessing is None,
            )
        if self.witnessing is not None:
            self.witnessing.publish()
        return done
