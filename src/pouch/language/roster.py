"""The interpreter roster: who interprets which language pairs, when, and how much a day.

The language desk owns it; the call desk's scheduler reads it (active entries,
with ``windows_of``) and the interpreters' page finds a user's entries here.
Pairs are unordered and stored normalised (``normalise_pairs``); availability
windows are stored in UTC, in order. An entry may be linked to a Pouch user,
one active entry per user. Retiring an entry keeps its row, for the calls it
was booked on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.errors import Conflict, FieldError, InvalidInput, NotFound
from pouch.identity.models import User
from pouch.language.models import Interpreter


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class RosterEntry:
    """What a roster entry holds, validated (by the API's schema or the caller)."""

    name: str
    email: str | None
    user_id: int | None
    language_pairs: Sequence[Sequence[str]]
    availability: Sequence[Window]
    max_minutes_per_day: int | None
    time_zone: str | None
    active: bool


def normalise_pairs(pairs: Sequence[Sequence[str]]) -> list[list[str]]:
    """Unordered pairs, each sorted, without repeats, in order.

    >>> normalise_pairs([["fr", "en"], ["en", "fr"], ["ja", "en"]])
    [['en', 'fr'], ['en', 'ja']]
    """
    seen: list[list[str]] = []
    for pair in pairs:
        first, second = sorted(code.lower() for code in pair)
        if [first, second] not in seen:
            seen.append([first, second])
    return seen


def _stored_windows(windows: Sequence[Window]) -> list[list[str]]:
    return [
        [window.start.astimezone(UTC).isoformat(), window.end.astimezone(UTC).isoformat()]
        for window in sorted(windows, key=lambda w: w.start)
    ]


def windows_of(interpreter: Interpreter) -> list[Window]:
    """The availability windows as aware datetimes."""
    return [
        Window(datetime.fromisoformat(start), datetime.fromisoformat(end))
        for start, end in interpreter.availability
    ]


def _check_user(session: Session, user_id: int | None, *, interpreter_id: int | None) -> None:
    if user_id is None:
        return
    if session.get(User, user_id) is None:
        raise InvalidInput(
            f"no user with id {user_id}", field_errors=[FieldError("body.user_id", "unknown user")]
        )
    other = session.scalar(
        select(Interpreter.id).where(Interpreter.user_id == user_id, Interpreter.active)
    )
    if other is not None and other != interpreter_id:
        raise Conflict(
            f"user {user_id} is already on the roster as interpreter {other}",
            field_errors=[FieldError("body.user_id", "already on the roster")],
        )


def list_interpreters(session: Session, *, include_inactive: bool = False) -> list[Interpreter]:
    """The roster by name; only active entries unless ``include_inactive``."""
    query = select(Interpreter).order_by(Interpreter.name, Interpreter.id)
    if not include_inactive:
        query = query.where(Interpreter.active)
    return list(session.scalars(query))


def get_interpreter(session: Session, interpreter_id: int) -> Interpreter:
    """One roster entry, active or not."""
    interpreter = session.get(Interpreter, interpreter_id)
    if interpreter is None:
        raise NotFound(f"no interpreter with id {interpreter_id}")
    return interpreter


def find_by_email(session: Session, email: str) -> Interpreter | None:
    """The roster entry with this e-mail address, active or not, if there is one."""
    return session.scalar(
        select(Interpreter).where(Interpreter.email == email).order_by(Interpreter.id).limit(1)
    )


def create_interpreter(session: Session, *, entry: RosterEntry) -> Interpreter:
    """Put an interpreter on the roster; a linked user may have one active entry."""
    _check_user(session, entry.user_id if entry.active else None, interpreter_id=None)
    interpreter = Interpreter(
        user_id=entry.user_id,
        name=entry.name,
        email=entry.email,
        language_pairs=normalise_pairs(entry.language_pairs),
        availability=_stored_windows(entry.availability),
        max_minutes_per_day=entry.max_minutes_per_day,
        time_zone=entry.time_zone,
        active=entry.active,
    )
    session.add(interpreter)
    session.flush()
    return interpreter


NULLABLE_ROSTER_FIELDS = frozenset({"email", "user_id", "max_minutes_per_day", "time_zone"})


def update_interpreter(
    session: Session, *, interpreter_id: int, changes: dict[str, Any]
) -> Interpreter:
    """Change the fields given; ``availability`` is a list of ``Window``."""
    interpreter = get_interpreter(session, interpreter_id)
    for name, value in changes.items():
        if value is None and name not in NULLABLE_ROSTER_FIELDS:
            raise InvalidInput(
                f"{name} cannot be null", field_errors=[FieldError(f"body.{name}", "null")]
            )
    user_id = changes.get("user_id", interpreter.user_id)
    if changes.get("active", interpreter.active):
        _check_user(session, user_id, interpreter_id=interpreter.id)
    for name, value in changes.items():
        if name == "language_pairs":
            value = normalise_pairs(value)
        elif name == "availability":
            value = _stored_windows(value)
        setattr(interpreter, name, value)
    session.flush()
    return interpreter


def retire_interpreter(session: Session, *, interpreter_id: int) -> Interpreter:
    """Take an interpreter off the roster; the row stays for the calls they were booked on."""
    interpreter = get_interpreter(session, interpreter_id)
    interpreter.active = False
    session.flush()
    return interpreter


def linked_entries(session: Session, *, user_id: int) -> list[Interpreter]:
    """The active roster entries linked to the user's account, by name."""
    return list(
        session.scalars(
            select(Interpreter)
            .where(Interpreter.user_id == user_id, Interpreter.active)
            .order_by(Interpreter.name, Interpreter.id)
        )
    )


def user_language_pairs(session: Session, user_id: int) -> frozenset[frozenset[str]] | None:
    """The pairs of the user's active roster entries, or None when they are not on it."""
    entries = linked_entries(session, user_id=user_id)
    if not entries:
        return None
    return frozenset(
        frozenset(pair) for entry in entries for pair in entry.language_pairs if len(pair) == 2
    )
