"""Pages of passkeys: "Your passkeys" (list, add, revoke) and the passkey login.

The ceremonies run in the browser (``static/passkeys.js``, no inline script);
the page works without JavaScript for listing and revoking. The passkey login
answers JSON to its script: the login form's double-submit token comes in the
``X-CSRF-Token`` header.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from pouch.errors import CsrfFailure, NotFound
from pouch.identity import demo_keys, passkeys
from pouch.identity import service as identity_service
from pouch.identity.pages import LOGIN_CSRF_COOKIE, cookie_is_secure
from pouch.schema import RowId, Schema
from pouch.web import render
from pouch.web.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    AppClock,
    AppSettings,
    CurrentActor,
    DbSession,
    PageUser,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

NOTICES = {
    "passkey-added": "Passkey added. Your decisions are now confirmed with it.",
    "passkey-revoked": "Passkey revoked.",
}


@router.get("/passkeys")
def passkeys_page(
    request: Request, session: DbSession, settings: AppSettings, actor: PageUser
) -> Response:
    context = {
        "actor": actor,
        "passkeys": passkeys.passkeys_of(session, actor.user_id),
        "policy": settings.signed_decisions,
        "rp": passkeys.relying_party(settings.public_url),
    }
    return render.page(request, "passkeys.html", context, notices=NOTICES)


@router.post("/passkeys/{passkey_id}/revoke")
def revoke_passkey(
    passkey_id: RowId, session: DbSession, clock: AppClock, actor: CurrentActor
) -> Response:
    passkeys.revoke(session, passkey_id=passkey_id, user_id=actor.user_id, now=clock.now())
    return render.back("/passkeys", "/passkeys", "passkey-revoked")


class PasskeyLoginIn(Schema):
    credential: dict[str, Any]
    next: str = Field(default="/", max_length=2000)


def _safe_next(target: str) -> str:
    # Only local paths: never an open redirect to another site.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.post("/login/passkey")
def login_with_passkey(
    data: PasskeyLoginIn,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
) -> Response:
    """The answer to POST /api/login/passkey/options: a new session, and where to go."""
    token = request.headers.get(CSRF_HEADER)
    if not identity_service.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), token):
        raise CsrfFailure("the login form expired or was not sent by this site; reload it")
    user = passkeys.login(
        session,
        credential=data.credential,
        rp=passkeys.relying_party(settings.public_url),
        now=clock.now(),
    )
    secret, _ = identity_service.start_web_session(
        session, user=user, now=clock.now(), lifetime=settings.session_lifetime
    )
    response = JSONResponse({"next": _safe_next(data.next), "user": user.username})
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(settings.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request, settings),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.get("/demo/authenticator")
def demo_authenticator(settings: AppSettings, actor: CurrentActor) -> Response:
    """Demo only (POUCH_DEMO_AUTHENTICATOR, on localhost): the software key `pouch demo`
    made for the logged-in officer, with which the watch pages sign in place of a real
    authenticator. 404 everywhere else."""
    rp = passkeys.relying_party(settings.public_url)
    if not settings.demo_authenticator or not rp.local:
        raise NotFound("there is no demo authenticator here")
    key = demo_keys.load(settings.data_dir, actor.username)
    if key is None:
        raise NotFound(f"the demo made no key for {actor.username}")
    response = JSONResponse({**key, "rp_id": rp.id})
    response.headers["Cache-Control"] = "no-store"
    return response
