"""Claiming due work, so that several processes share it (deadlines, holds, the outbox).

Each worker claims the rows whose time has come, the earliest first and at
most a batch of them, with ``SELECT … FOR UPDATE SKIP LOCKED``: a row another
transaction holds is left to it, and what one claims the others skip until
it commits. (SQLite has one writer at a time and ignores the clause.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import QueryableAttribute, Session

Row = TypeVar("Row")


def claim(
    session: Session, query: Select[Row], *, first: QueryableAttribute[Any], limit: int
) -> Sequence[Row]:
    """The rows of ``query``, ordered by ``first``, at most ``limit``, locked for this
    transaction and skipped by any other."""
    return session.scalars(
        query.order_by(first).limit(limit).with_for_update(skip_locked=True)
    ).all()
