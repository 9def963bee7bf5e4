"""How the call desk names a bad input: one field, as the API and the CLI call it.

The pure core (``pouch.calls.problem``) raises ``ProblemError`` with its own
field names; ``from_problem`` renames the field to the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping

from pouch.calls import problem as core
from pouch.errors import FieldError, InvalidInput


def field(name: str, message: str) -> InvalidInput:
    """The error of one field, saying what is wrong with it."""
    return InvalidInput(f"{name}: {message}", field_errors=[FieldError(name, message)])


def from_problem(error: core.ProblemError, fields: Mapping[str, str]) -> InvalidInput:
    """The core's error, named after the caller's field (``fields`` maps core names to them)."""
    name = error.field.rsplit(".", 1)[-1] if error.field.startswith("requests[") else error.field
    return field(fields.get(name, name), error.message)
