"""The base of every request and response schema (unknown fields are refused), and the
bounded integer types every id is parsed as."""

from __future__ import annotations

from datetime import time
from typing import Annotated, TypeVar

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True, str_strip_whitespace=False)


#: The largest id Pouch takes: the largest integer every JSON reader (JavaScript's
#: included) holds exactly, far below the 64-bit columns' limit.
MAX_ROW_ID = 2**53 - 1

#: A row's id, wherever it is parsed (a path, a query, a body): one outside 1..2**53-1
#: is a 400 naming the field, never a database error.
RowId = Annotated[int, annotated_types.Ge(1), annotated_types.Le(MAX_ROW_ID)]
#: An entry's index in the log: 0..2**53-1.
LogIndex = Annotated[int, annotated_types.Ge(0), annotated_types.Le(MAX_ROW_ID)]


def _not_null(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    if value is None:
        raise PydanticCustomError("not_null", "may be left out, but not null")
    try:
        return handler(value)
    except ValidationError as error:
        # None was refused above, so the value's own type is what failed: its first
        # error, without the union member's name pydantic puts in its location.
        first = next(e for e in error.errors() if e["type"] != "none_required")
        inner = ".".join(str(part) for part in first["loc"][1:])
        reason = f"{inner}: {first['msg']}" if inner else first["msg"]
        raise PydanticCustomError(first["type"], "{reason}", {"reason": reason}) from None


_T = TypeVar("_T")

#: In a PATCH: a field that may be left out (``= None``, a default is never
#: validated) but not sent as null, one error naming it; the document shows it as
#: not nullable.
Patchable = Annotated[_T | SkipJsonSchema[None], WrapValidator(_not_null)]

#: A local time of day, written HH:MM (or HH:MM:SS), without an offset: the zone is
#: the calendar's or the leader's (JSON Schema's ``format: time`` would need one).
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
            "description": "A local time of day, HH:MM, without an offset.",
        }
    ),
]
