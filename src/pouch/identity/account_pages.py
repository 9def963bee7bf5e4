"""Pages for one's own account and for auditors: set one's password with the code one
received, and the audit of identity (users, roles, every change on the record).

The password form is served before any session exists: like the login form it
is protected by a double-submit token in a short-lived cookie, and the code
itself is the credential.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pouch.errors import CsrfFailure, InvalidInput
from pouch.identity import access as identity_access
from pouch.identity import approvals, audit
from pouch.identity import service as identity_service
from pouch.web import render
from pouch.web.deps import CSRF_FIELD, AppClock, AuthorizePage, DbSession

router = APIRouter(tags=["pages"], include_in_schema=False)

PASSWORD_CSRF_COOKIE = "pouch_password_csrf"  # noqa: S105 - a cookie name
AuditorPage = Annotated[
    identity_service.Actor, Depends(AuthorizePage(*identity_access.AUDIT_ROLES))
]


def _password_form(
    request: Request, *, code: str, error: str | None = None, done: bool = False, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render.page(
        request,
        "password.html",
        {"csrf_token": token, "code": code, "error": error, "done": done},
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(PASSWORD_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict")
    return response


@router.get("/password")
def password_page(request: Request) -> Response:
    """The form to set one's password with the code from the e-mail (prefilled by its link)."""
    return _password_form(request, code=request.query_params.get("code", "")[:200])


@router.post("/password")
def set_password(
    request: Request,
    session: DbSession,
    clock: AppClock,
    code: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    again: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    if not identity_service.csrf_matches(request.cookies.get(PASSWORD_CSRF_COOKIE), csrf_token):
        raise CsrfFailure("the form expired or was not sent by this site; reload it")
    if password != again:
        return _password_form(request, code=code, error="The two passwords differ.", status=400)
    try:
        identity_service.complete_password_reset(
            session, code=code.strip(), password=password, now=clock.now()
        )
    except InvalidInput as error:
        return _password_form(request, code=code, error=str(error), status=400)
    return _password_form(request, code="", done=True)


@router.get("/audit")
def audit_page(
    request: Request, session: DbSession, actor: AuditorPage, before: int | None = None
) -> Response:
    """Users, their roles, changes of power waiting, and every change to identity and the
    directory, newest first, as the log's openings tell them."""
    users = identity_service.list_users(session)
    events = audit.identity_events(session, before=before, limit=100)
    return render.page(
        request,
        "audit.html",
        {
            "actor": actor,
            "users": users,
            "usernames": {u.id: u.username for u in users},
            "requests": approvals.list_requests(session)[:50],
            "events": events,
            "older": events[-1].index if len(events) == 100 else None,
        },
    )
