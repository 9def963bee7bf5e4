"""The order of precedence the schedules follow: versions, rankings, files.

Each change is a new version of the whole ranking (tiers, and positions
within a tier; no two leaders share a place), logged as ``precedence.changed``
with its author and reason; earlier versions stay readable. A ranking can be
read from and written to YAML (``tiers:`` lists of leaders) or read from CSV
(``person,tier,position``). Leaders the current version does not rank come
after every ranked one (``UNRANKED_TIER``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import yaml
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pouch.calls import invalid
from pouch.calls import parties as party_service
from pouch.calls.models import PrecedenceRank, PrecedenceVersion
from pouch.calls.schemas import PrecedenceIn, RankIn
from pouch.directory.models import Person
from pouch.errors import Conflict, NotFound, invalid_input
from pouch.events import EventKind
from pouch.ledger import service as ledger_service

#: Leaders missing from the order of precedence come after every ranked one.
UNRANKED_TIER = 1_000_000


@dataclass(frozen=True)
class PrecedenceView:
    version: PrecedenceVersion
    ranks: tuple[tuple[PrecedenceRank, Person], ...]


def current_version(session: Session) -> PrecedenceVersion | None:
    """The newest version of the order of precedence, if any."""
    return session.scalar(
        select(PrecedenceVersion).order_by(PrecedenceVersion.number.desc()).limit(1)
    )


def get_precedence(session: Session, *, number: int | None = None) -> PrecedenceView:
    """The current order of precedence, or an earlier version by number."""
    if number is None:
        version = current_version(session)
        if version is None:
            raise NotFound("no order of precedence has been set yet")
    else:
        version = session.scalar(
            select(PrecedenceVersion).where(PrecedenceVersion.number == number)
        )
        if version is None:
            raise NotFound(f"no version {number} of the order of precedence")
    rows = session.execute(
        select(PrecedenceRank, Person)
        .join(Person, Person.id == PrecedenceRank.person_id)
        .where(PrecedenceRank.version_id == version.id)
        .order_by(PrecedenceRank.tier, PrecedenceRank.position)
    ).all()
    return PrecedenceView(version=version, ranks=tuple((rank, person) for rank, person in rows))


def list_precedence_versions(session: Session) -> list[tuple[PrecedenceVersion, int]]:
    """Every version, newest first, with how many leaders it ranks."""
    rows = session.execute(
        select(PrecedenceVersion, func.count(PrecedenceRank.id))
        .outerjoin(PrecedenceRank, PrecedenceRank.version_id == PrecedenceVersion.id)
        .group_by(PrecedenceVersion.id)
        .order_by(PrecedenceVersion.number.desc())
    ).all()
    return [(version, count) for version, count in rows]


def set_precedence(
    session: Session, *, data: PrecedenceIn, author_user_id: int | None, now: datetime
) -> PrecedenceView:
    """A new version of the order of precedence, from the whole ranking; logged with its
    author and reason."""
    persons: dict[int, int] = {}
    places: dict[tuple[int, int], int] = {}
    for i, rank in enumerate(data.ranks):
        if rank.person_id in persons:
            raise invalid.field(
                f"ranks.{i}.person_id",
                f"person {rank.person_id} is ranked twice (also ranks.{persons[rank.person_id]})",
            )
        place = (rank.tier, rank.position)
        if place in places:
            raise invalid.field(
                f"ranks.{i}.position",
                f"tier {rank.tier}, position {rank.position} is also given to "
                f"ranks.{places[place]}: two leaders cannot share a place",
            )
        persons[rank.person_id] = i
        places[place] = i
    known = set(session.scalars(select(Person.id).where(Person.id.in_(persons))))
    for person_id, i in persons.items():
        if person_id not in known:
            raise invalid.field(f"ranks.{i}.person_id", f"no person with id {person_id}")
    current = current_version(session)
    number = (current.number if current else 0) + 1
    recorded = ledger_service.record_event(
        session,
        kind=EventKind.PRECEDENCE_CHANGED,
        at=now,
        details={
            "version": number,
            "by": author_user_id,
            "reason": data.reason,
            "leaders": len(data.ranks),
        },
    )
    version = PrecedenceVersion(
        number=number,
        reason=data.reason,
        author_user_id=author_user_id,
        created_at=now,
        ledger_index=recorded.index,
        ranks=[
            PrecedenceRank(person_id=r.person_id, tier=r.tier, position=r.position)
            for r in data.ranks
        ],
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "the order of precedence changed meanwhile: read it again and resubmit"
        ) from None
    return get_precedence(session, number=number)


def set_from_text(
    session: Session,
    *,
    text: str,
    format: Literal["yaml", "csv"],
    reason: str,
    author_user_id: int | None,
    now: datetime,
) -> PrecedenceView:
    """A new version from a ranking file (see :func:`ranking_from_text`) and a reason."""
    ranks = ranking_from_text(session, text=text, format=format)
    try:
        data = PrecedenceIn(reason=reason, ranks=ranks)
    except ValidationError as error:
        raise invalid_input(error.errors()) from None
    return set_precedence(session, data=data, author_user_id=author_user_id, now=now)


@dataclass(frozen=True)
class Overview:
    """The order of precedence for its editor: the current version (None before the
    first), its YAML to edit, and every version with how many leaders it ranks."""

    current: PrecedenceView | None
    text: str
    versions: list[tuple[PrecedenceVersion, int]]


def overview(session: Session) -> Overview:
    """What the precedence editor shows."""
    try:
        current: PrecedenceView | None = get_precedence(session)
    except NotFound:
        current = None
    return Overview(
        current=current,
        text=ranking_to_yaml(current) if current else "tiers:\n  - []\n",
        versions=list_precedence_versions(session),
    )


def ranking_from_text(
    session: Session, *, text: str, format: Literal["yaml", "csv"]
) -> list[RankIn]:
    """A ranking from a file: YAML ``tiers:`` (lists of leaders, in order) or CSV
    ``person,tier,position``; a leader is an id or an exact name."""
    entries: list[tuple[str, str, int, int]] = []  # (where, person, tier, position)
    if format == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or not {"person", "tier", "position"} <= set(
            reader.fieldnames
        ):
            raise invalid.field("file", "a CSV ranking needs the columns person, tier, position")
        for line, row in enumerate(reader, start=2):
            try:
                entries.append(
                    (f"line {line}", row["person"], int(row["tier"]), int(row["position"]))
                )
            except (TypeError, ValueError):
                raise invalid.field(
                    f"line {line}", "tier and position must be whole numbers"
                ) from None
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise invalid.field("file", f"not valid YAML: {error}") from None
        tiers = document.get("tiers") if isinstance(document, dict) else None
        if not isinstance(tiers, list) or not all(isinstance(t, list) for t in tiers):
            raise invalid.field("file", "a YAML ranking is 'tiers:', a list of lists of leaders")
        for tier, leaders in enumerate(tiers, start=1):
            for position, leader in enumerate(leaders, start=1):
                entries.append((f"tiers[{tier}][{position}]", str(leader), tier, position))
    ranks = []
    for where, key, tier, position in entries:
        person = party_service.find_leader(session, key, field=where)
        ranks.append(RankIn(person_id=person.id, tier=tier, position=position))
    return ranks


def ranking_from_list(entries: list[tuple[int, int, int]]) -> list[RankIn]:
    """A ranking from the editor's list of (person, tier, order), as written: ordered by
    tier, then order, then where each was written; tiers renumbered 1, 2, … in that
    order and positions 1, 2, … within each, so gaps and ties mean nothing.

    >>> [(r.person_id, r.tier, r.position) for r in ranking_from_list(
    ...     [(7, 3, 1), (8, 1, 5), (9, 1, 5), (10, 3, 0)])]
    [(8, 1, 1), (9, 1, 2), (10, 2, 1), (7, 2, 2)]
    """
    written = sorted(enumerate(entries), key=lambda e: (e[1][1], e[1][2], e[0]))
    tiers: dict[int, int] = {}
    filled: dict[int, int] = {}
    ranks = []
    for _, (person_id, tier, _) in written:
        number = tiers.setdefault(tier, len(tiers) + 1)
        filled[number] = filled.get(number, 0) + 1
        ranks.append(RankIn(person_id=person_id, tier=number, position=filled[number]))
    return ranks


def ranking_to_yaml(view: PrecedenceView) -> str:
    """The ranking in the YAML form :func:`ranking_from_text` reads."""
    tiers: dict[int, list[str]] = {}
    for rank, person in view.ranks:
        tiers.setdefault(rank.tier, []).append(person.name)
    header = (
        f"# Order of precedence, version {view.version.number}: {view.version.reason}\n"
        "# Tiers in order; within a tier, leaders in order. Names or person ids.\n"
    )
    body = yaml.safe_dump(
        {"tiers": [tiers[t] for t in sorted(tiers)]}, allow_unicode=True, sort_keys=False
    )
    return header + body


def ranks(session: Session) -> dict[int, tuple[int, int]]:
    """Each ranked leader's (tier, position) in the current order of precedence."""
    version = current_version(session)
    if version is None:
        return {}
    return {
        rank.person_id: (rank.tier, rank.position)
        for rank in session.scalars(
            select(PrecedenceRank).where(PrecedenceRank.version_id == version.id)
        )
    }
