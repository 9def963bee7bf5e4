"""Keyset pagination: a long list is read a page at a time, each page starting after
the last row of the one before, never at an offset.

An offset reads and throws away every row before the page (page 2,000 of an
inbox costs 2,000 pages), and a row accepted while someone pages moves every
offset by one, so a row is shown twice or never. A keyset reads from the index
where the last page ended, and what arrives meanwhile cannot shift it.

A list's order is a tuple of keys, the last of them unique (a row's id). The
cursor a page hands out is the last row's key values, as opaque URL-safe text;
a cursor that does not parse is a 400 naming it, never a database error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_
from sqlalchemy.orm import QueryableAttribute

from pouch.errors import FieldError, InvalidInput

#: What a key's values are, to write them in a cursor and read them back.
KeyKind = Literal["int", "datetime", "bool"]

#: The longest cursor read: a handful of values, never a document.
MAX_CURSOR_LENGTH = 400


@dataclass(frozen=True)
class Key:
    """One term of a list's order."""

    column: ColumnElement[Any] | QueryableAttribute[Any]
    kind: KeyKind
    descending: bool = False

    def ordered(self) -> ColumnElement[Any]:
        return self.column.desc() if self.descending else self.column.asc()


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next (None on the last page)."""

    rows: list[T]
    next: str | None


def encode(values: Sequence[Any]) -> str:
    """The cursor after a row whose keys are ``values``."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    text = json.dumps(plain, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, keys: Sequence[Key], *, field: str = "after") -> list[Any]:
    """The key values a cursor holds, checked against the keys' kinds."""

    def refuse() -> InvalidInput:
        return InvalidInput(
            f"{field} is not a cursor of this list: start again from the first page",
            field_errors=[FieldError(field, "not a cursor of this list")],
        )

    if len(cursor) > MAX_CURSOR_LENGTH:
        raise refuse()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise refuse() from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise refuse()
    parsed: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        match key.kind:
            case "int" if isinstance(value, int) and not isinstance(value, bool):
                if abs(value) > 2**53:
                    raise refuse()
                parsed.append(value)
            case "bool" if isinstance(value, bool):
                parsed.append(value)
            case "datetime" if isinstance(value, str):
                try:
                    parsed.append(datetime.fromisoformat(value))
                except ValueError:
                    raise refuse() from None
            case _:
                raise refuse()
    return parsed


def after(keys: Sequence[Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """The rows that come after ``values`` in the keys' order: the first key past its
    value, or equal to it and the rest past theirs (written out, not as a row value,
    so that each key may run its own direction)."""
    condition: ColumnElement[bool] = false()
    for position in reversed(range(len(keys))):
        key, value = keys[position], values[position]
        past = key.column < value if key.descending else key.column > value
        if position == len(keys) - 1:
            condition = past
        else:
            condition = or_(past, and_(key.column == value, condition))
    return condition


def ordered(statement: Select[Any], keys: Sequence[Key], cursor: str | None) -> Select[Any]:
    """The statement in the keys' order, from after ``cursor``, with the keys' values
    selected after its own columns (``page`` reads them back)."""
    statement = statement.add_columns(*(key.column for key in keys)).order_by(
        *(key.ordered() for key in keys)
    )
    if cursor is not None:
        statement = statement.where(after(keys, decode(cursor, keys)))
    return statement


def page(rows: Sequence[Any], keys: Sequence[Key], *, limit: int) -> Page[Any]:
    """A page out of up to ``limit + 1`` rows read by ``ordered(...).limit(limit + 1)``:
    the extra row only says whether there is a next page."""
    width = len(keys)
    shown = rows[:limit]
    items = [row[0] for row in shown]
    more = len(rows) > limit
    return Page(rows=items, next=encode(list(shown[-1][-width:])) if more and shown else None)
