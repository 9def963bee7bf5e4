"""The login and logout pages.

The login form, served before any session exists, is protected by a
double-submit token: a random value in a short-lived cookie that the form
must echo. Every later form carries the session's own token.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from pouch.directory import service as directory_service
from pouch.errors import CsrfFailure, InvalidCredentials, TooManyAttempts
from pouch.identity import passkeys, throttle
from pouch.identity import service as identity_service
from pouch.settings import Settings
from pouch.web import render
from pouch.web.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    AppClock,
    AppSettings,
    CurrentActor,
    DbSession,
    PageUser,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

LOGIN_CSRF_COOKIE = "pouch_login_csrf"


def cookie_is_secure(request: Request, settings: Settings) -> bool:
    if settings.session_cookie_secure == "always":
        return True
    if settings.session_cookie_secure == "never":
        return False
    # uvicorn's proxy-headers support has already applied a trusted X-Forwarded-Proto.
    return request.url.scheme == "https"


def _login_form(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    settings: Settings = request.app.state.settings
    response = render.page(
        request,
        "login.html",
        {"csrf_token": token, "error": error, "next": request.query_params.get("next", "/")},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request, settings),
    )
    return response


def _safe_next(target: str) -> str:
    # Only local paths: never an open redirect to another site.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_form(request)


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not identity_service.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        raise CsrfFailure("the login form expired or was not sent by this site; reload it")
    # Throttled per user name and per address (pouch.identity.throttle): a refused
    # attempt checks no password and does not count.
    address = throttle.address_key(request.client.host if request.client else None)
    policy = throttle.Policy.from_settings(settings)
    try:
        throttle.check(session, username=username, address=address, now=clock.now(), policy=policy)
    except TooManyAttempts as refused:
        response = _login_form(request, error=f"{refused.detail.capitalize()}.", status_code=429)
        response.headers["Retry-After"] = str(refused.wait_seconds)
        return response
    if passkeys.password_refused(
        session, username=username, operations_password=settings.operations_password_login
    ):
        # POUCH_OPERATIONS_PASSWORD_LOGIN=false: an officer with a passkey logs in with it
        # (refused before the password is checked: the answer says nothing of it).
        return _login_form(
            request,
            error="Log in with your passkey: this account may not use its password.",
            status_code=403,
        )
    try:
        user = identity_service.authenticate_password(session, username=username, password=password)
    except InvalidCredentials:
        throttle.record_failure(
            session, username=username, address=address, now=clock.now(), policy=policy
        )
        return _login_form(request, error="Unknown user or wrong password.", status_code=401)
    throttle.record_success(session, username=username)
    token, _ = identity_service.start_web_session(
        session, user=user, now=clock.now(), lifetime=settings.session_lifetime
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request, settings),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    # ``actor`` comes through optional_actor, which has checked the form's CSRF token.
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        identity_service.end_web_session(session, token=cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(request: Request, session: DbSession, actor: PageUser) -> Response:
    offices = {o.id: o for o in directory_service.list_offices(session)}
    return render.page(request, "home.html", {"actor": actor, "offices": offices})
