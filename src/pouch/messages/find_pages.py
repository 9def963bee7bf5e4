"""Finding a message in the browser: ``/find``, for everyone who may see messages.

The same search as ``GET /api/messages`` (``messages.search``), within what the
reader may see, a page at a time; each message found links to the page where
this reader reads it (the watch floor's, the inbox's or tracking's).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pouch.errors import PermissionDenied
from pouch.messages import access, filters, rendering, search
from pouch.messages import service as message_service
from pouch.messages.models import Message
from pouch.web import render
from pouch.web.deps import AppClock, DbSession, PageUser

router = APIRouter(tags=["pages"], include_in_schema=False)

#: How much of a body a result shows, to tell letters apart.
EXCERPT_CHARACTERS = 200


@router.get("/find")
def find_page(request: Request, session: DbSession, clock: AppClock, actor: PageUser) -> Response:
    if not access.may_search(actor):
        raise PermissionDenied("finding messages is for those who may see some")
    asked = filters.read(request, default_sort=search.Sort.NEWEST)
    page = asked.find(session, search.for_reader(actor))

    def excerpt(message: Message) -> str | None:
        if access.content_withheld(actor, message):
            return None
        text = " ".join(message.body_text.split())
        return text if len(text) <= EXCERPT_CHARACTERS else text[:EXCERPT_CHARACTERS] + "…"

    context = {
        **rendering.context(clock.now(), actor, message_service.office_names(session)),
        "filters": asked,
        "page": page,
        "page_of": lambda message: access.page_of(actor, message),
        "excerpt": excerpt,
        "form": filters.choices(),
    }
    return render.page(request, "find.html", context)
