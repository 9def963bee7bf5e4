"""The interpreter's page: ``/interpreting``, the calls of the latest schedule that need one.

Which calls an interpreter is shown, and by which rule, is
``pouch.calls.interpreting``'s; the page says which rule applied. Read-only:
the call desk books interpreters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pouch.calls import interpreting as interpreting_service
from pouch.identity.service import Actor
from pouch.language import access as language_access
from pouch.web import render
from pouch.web.deps import AuthorizePage, DbSession

router = APIRouter(tags=["pages"], include_in_schema=False)

Interpreter = Annotated[Actor, Depends(AuthorizePage(*language_access.INTERPRETER_ROLES))]

RULES: dict[interpreting_service.Rule, str] = {
    "linked": "Showing the calls in the languages of your roster entry, which is linked to "
    "your account.",
    "name": "No roster entry is linked to your account; showing the calls in the languages "
    "of the roster entry under your name.",
    "all": "Nothing on the interpreter roster is yours (no entry linked to your account or "
    "under your name), so every call that needs interpretation is shown.",
}


@router.get("/interpreting")
def interpreting_page(request: Request, session: DbSession, actor: Interpreter) -> Response:
    shown = interpreting_service.for_interpreter(session, user_id=actor.user_id)
    return render.page(
        request,
        "interpreting.html",
        {
            "actor": actor,
            "view": shown.schedule,
            "calls": shown.calls,
            "rule": shown.rule,
            "rule_text": RULES[shown.rule],
            "entries": shown.entries,
        },
    )
