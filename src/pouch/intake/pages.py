"""A sender office's compose page: a message written in the browser, signed there with
the office's key (``static/sender.js``: WebCrypto Ed25519, RFC 9421), and submitted to
``POST /api/messages`` like any program's, through the same intake flow and checks.

The signature covers an API token, as every submission's does; the page asks for a
short-lived one for the session (``POST /compose/token``, kept by the page for its
lifetime). A token alone cannot send, nor a signature alone: both are needed, and
the key never leaves the browser that made it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from pouch.directory import service as directory_service
from pouch.directory.models import OfficeKind
from pouch.errors import FieldError, InvalidInput
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.intake import access
from pouch.intake import service as intake_service
from pouch.messages.rules import Precedence
from pouch.web import render
from pouch.web.deps import AllowPage, AppClock, DbSession

router = APIRouter(tags=["pages"], include_in_schema=False)

Sender = Annotated[
    identity_service.Actor,
    Depends(AllowPage(access.sends_for_an_office, "composing is for the senders of an office")),
]

#: How long the page's token lives: the page asks again once it is near its end.
COMPOSE_TOKEN_LIFETIME = timedelta(hours=1)


@router.get("/compose")
def compose_page(request: Request, session: DbSession, actor: Sender) -> Response:
    """The form, the offices it may send from and to, and the office's active keys (the
    page offers those this browser keeps)."""
    offices = {o.id: o for o in directory_service.list_offices(session)}
    senders = sorted(actor.offices_with(Role.SENDER))
    keys = [
        key
        for office_id in senders
        for key in intake_service.list_keys(session, office_id=office_id)
        if key.revoked_at is None
    ]
    context = {
        "actor": actor,
        "senders": [offices[o] for o in senders if o in offices],
        "addressees": [o for o in offices.values() if o.kind == OfficeKind.PRINCIPAL],
        "keys": keys,
        "precedences": list(Precedence),
    }
    return render.page(request, "compose.html", context)


@router.post("/compose/token")
def compose_token(
    session: DbSession,
    clock: AppClock,
    actor: Sender,
    office_id: Annotated[str, Form(max_length=20)] = "",
) -> JSONResponse:
    """A token for the session's page to sign its submissions over: the sender role in
    one of the caller's offices, for an hour (logged, as every token is)."""
    office = int(office_id) if office_id.isdecimal() and len(office_id) < 12 else 0
    if office not in actor.offices_with(Role.SENDER):
        raise InvalidInput(
            "choose an office you send for",
            field_errors=[FieldError("office_id", "not an office you send for")],
        )
    secret, token = identity_service.issue_token(
        session,
        user_id=actor.user_id,
        office_id=office,
        role=Role.SENDER,
        name="compose page",
        now=clock.now(),
        lifetime=COMPOSE_TOKEN_LIFETIME,
    )
    return JSONResponse(
        {"token": secret, "expires_at": token.expires_at.isoformat()},
        headers={"Cache-Control": "no-store"},
    )
