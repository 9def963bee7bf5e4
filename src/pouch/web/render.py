"""Rendering a page, and sending the browser back after a form.

A form posts, the action runs, and the browser is sent back (303) to a local
page with a ``notice`` key; the page it lands on shows the fixed text its
module gives that key (``page(..., notices=NOTICES)``), so that nothing a
visitor puts in a URL is ever shown as a notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.identity.models import User


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    notices: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The template rendered with ``context`` and, as ``notice``, the text ``notices``
    gives the request's ``notice`` key (None for none, or an unknown one)."""
    key = request.query_params.get("notice") or ""
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        template,
        {"notice": (notices or {}).get(key), **context},
        status_code=status_code,
    )
    return response


def safe_back(target: str, default: str) -> str:
    """``target`` if it is a local path without a query, else ``default``: never an open
    redirect.

    >>> safe_back("/watch/m-1", "/watch"), safe_back("//evil.example", "/watch")
    ('/watch/m-1', '/watch')
    >>> safe_back("/inbox?x=1", "/inbox"), safe_back("/a\\\\b", "/inbox")
    ('/inbox', '/inbox')
    """
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and "?" not in target
    ):
        return target
    return default


def back(
    target: str,
    default: str,
    notice: str,
    *,
    anchor: str = "",
    params: Mapping[str, str] | None = None,
) -> Response:
    """See Other to ``target`` (or ``default``, see ``safe_back``) with a notice key and
    ``params``, and to ``anchor`` on that page when given."""
    fragment = f"#{anchor}" if anchor else ""
    query = urlencode({**(params or {}), "notice": notice})
    return RedirectResponse(f"{safe_back(target, default)}?{query}{fragment}", status_code=303)


def display_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """The display names of the users ``ids`` names (None ignored), in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {int(user_id): str(name) for user_id, name in rows}
