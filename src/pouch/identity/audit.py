"""What auditors read of identity: every user with their roles, and every change to
identity and the directory, newest first, from the log's own openings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.events import label_of
from pouch.identity.record import IDENTITY_KINDS
from pouch.ledger.store import LedgerOpening

MAX_PAGE = 500


@dataclass(frozen=True)
class IdentityEvent:
    index: int
    kind: str
    label: str
    time: str
    event: dict[str, Any]


def identity_events(
    session: Session,
    *,
    before: int | None = None,
    limit: int = 100,
    kinds: frozenset[str] = IDENTITY_KINDS,
    user: int | None = None,
    office: int | None = None,
) -> list[IdentityEvent]:
    """Changes to identity and the directory, newest first, from before log index
    ``before`` (keyset pages); only those naming ``user`` or ``office`` when given."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(LedgerOpening.idx, LedgerOpening.kind, LedgerOpening.event).where(
        LedgerOpening.kind.in_(sorted(kinds & IDENTITY_KINDS))
    )
    if before is not None:
        query = query.where(LedgerOpening.idx < before)
    found: list[IdentityEvent] = []
    # Filtering by user or office reads the event itself: pages of the kinds, then a filter.
    for index, kind, body in session.execute(query.order_by(LedgerOpening.idx.desc())):
        event = json.loads(body)
        if user is not None and event.get("user") != user and event.get("by") != user:
            continue
        if office is not None and event.get("office") != office:
            continue
        found.append(IdentityEvent(index, kind, label_of(kind), str(event.get("time")), event))
        if len(found) >= limit:
            break
    return found
