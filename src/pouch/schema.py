"""The base of every request and response schema (unknown fields are refused), and the
bounded integer types every id is parsed as."""

from __future__ import annotations

from typing import Annotated

import annotated_types
from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True, str_strip_whitespace=False)


#: The largest id a row can have: ids are 64-bit signed integers on both backends.
MAX_ROW_ID = 2**63 - 1

#: A row's id, wherever it is parsed (a path, a query, a body): one outside 1..2**63-1
#: is a 400 naming the field, never a database error.
RowId = Annotated[int, annotated_types.Ge(1), annotated_types.Le(MAX_ROW_ID)]
#: An entry's index in the log: 0..2**63-1.
LogIndex = Annotated[int, annotated_types.Ge(0), annotated_types.Le(MAX_ROW_ID)]
