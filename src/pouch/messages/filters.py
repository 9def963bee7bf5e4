"""The search form of a list page (the inbox, tracking, the find page): its query
parameters read into a ``SearchIn``, and written back into the links of the
following page and of the first.

The form leaves a field empty when it is not used; an empty field is no filter.
What does not parse is refused by the field's name in the form, as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.orm import Session

from pouch.errors import invalid_input
from pouch.keyset import Page
from pouch.messages.models import Message, MessageState
from pouch.messages.rules import Precedence
from pouch.messages.schemas import SearchIn
from pouch.messages.search import Scope, Sort, find

#: The form's names of ``SearchIn``'s fields. ``with`` is the other office: an inbox's own
#: ``office`` parameter names whose inbox it is.
FORM_NAMES = {
    "q": "q",
    "with": "office",
    "precedence": "precedence",
    "state": "state",
    "language": "language",
    "since": "since",
    "until": "until",
    "sort": "sort",
    "after": "after",
}


@dataclass(frozen=True)
class Filters:
    """What a list page was asked for, and how to ask for its other pages."""

    query: SearchIn
    #: The form's non-empty fields, the cursor left out, as the form names them.
    asked: dict[str, str]
    #: Parameters of the page itself kept in every link (an inbox's ``office``).
    kept: dict[str, str]
    default_sort: Sort

    @property
    def narrowed(self) -> bool:
        return self.query.criteria().narrowed

    def find(self, session: Session, scope: Scope) -> Page[Message]:
        """The page of messages in ``scope`` this search asks for."""
        return find(
            session,
            scope=scope,
            criteria=self.query.criteria(),
            sort=self.query.sort,
            after=self.query.after,
        )

    def cleared(self, path: str) -> str:
        """The page's address with no search: its first page, unfiltered."""
        return f"{path}?{urlencode(self.kept)}" if self.kept else path

    def link(self, path: str, *, after: str | None = None) -> str:
        """The page's address with the same search, after the cursor ``after`` (None:
        the first page)."""
        params = {**self.kept, **self.asked}
        if after is not None:
            params["after"] = after
        return f"{path}?{urlencode(params)}" if params else path


def read(request: Request, *, default_sort: Sort, keep: tuple[str, ...] = ()) -> Filters:
    """The search a list page's query parameters ask for (400 naming a field that does
    not parse)."""
    params = request.query_params
    form = {name: params[name].strip() for name in FORM_NAMES if params.get(name, "").strip()}
    data: dict[str, str] = {FORM_NAMES[name]: value for name, value in form.items()}
    data.setdefault("sort", default_sort.value)
    try:
        query = SearchIn.model_validate(data)
    except ValidationError as error:
        rename = {field: name for name, field in FORM_NAMES.items()}
        raise invalid_input(error.errors(), rename=rename) from None
    return Filters(
        query=query,
        asked={name: value for name, value in form.items() if name != "after"},
        kept={name: params[name] for name in keep if params.get(name)},
        default_sort=default_sort,
    )


def choices(
    *, sorts: tuple[Sort, ...] = (Sort.NEWEST, Sort.OLDEST, Sort.PRECEDENCE)
) -> dict[str, object]:
    """What a search form offers to choose from (``_filters.html``)."""
    return {"precedences": list(Precedence), "states": list(MessageState), "sorts": list(sorts)}
