"""Errors as responses: problem details under /api, an HTML page elsewhere.

Anything that is not a ``PouchError`` is logged with its traceback and shown
as a bare "internal error": exception text never reaches a client. A database
that is away or out of space is not Pouch's fault: it is a 503 saying so
(``db.outage``), with ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError as SQLAlchemyIntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from pouch.db import outage
from pouch.errors import (
    Conflict,
    IntegrityFailure,
    LoginRequired,
    MalformedBody,
    MethodNotAllowed,
    NotFound,
    PouchError,
    TooManyAttempts,
    UnsupportedMediaType,
    invalid_input,
)
from pouch.identity.service import Actor
from pouch.web.deps import SESSION_COOKIE, cookie_actor

logger = logging.getLogger("pouch.web")

PROBLEM_JSON = "application/problem+json"


def wants_problem_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api") or path.startswith("/log/") or path == "/readyz"


def is_htmx(request: Request) -> bool:
    """A request htmx made to refresh part of a page (it swaps in what it gets)."""
    return request.headers.get("hx-request") == "true"


def login_redirect(request: Request) -> RedirectResponse:
    """To the login page, which brings the browser back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def render_error(request: Request, error: PouchError, *, viewer: Actor | None = None) -> Response:
    """Problem JSON under /api; for htmx a fragment it swaps in (``_error.html``); a
    page asked for without a login, a redirect to log in; else a whole page, with the
    ``viewer``'s navigation when they are known."""
    headers: dict[str, str] = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="pouch"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.wait_seconds)
    if wants_problem_json(request):
        return JSONResponse(
            error.problem(instance=request.url.path),
            status_code=error.status,
            media_type=PROBLEM_JSON,
            headers=headers,
        )
    htmx = is_htmx(request)
    if isinstance(error, LoginRequired) and not htmx:
        return login_redirect(request)
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(
        request,
        "_error.html" if htmx else "error.html",
        {"error": error, "type_uri": error.type_uri(), "actor": viewer},
        status_code=error.status,
        headers=headers,
    )
    return response


def _viewer(request: Request) -> Actor | None:
    # In a read transaction of its own: the request's was rolled back, or never began.
    try:
        with request.app.state.database.transaction(write=False) as session:
            return cookie_actor(request, session, now=request.app.state.clock.now())
    except (DBAPIError, PouchError):
        return None


async def respond(request: Request, error: PouchError) -> Response:
    """``render_error``, with the navigation of the logged-in user on a whole page (an
    error page is a page of Pouch's like any other: the way on is in its menu)."""
    whole_page = not wants_problem_json(request) and not is_htmx(request)
    reachable = error.status != 503  # the database is away or full: do not wait on it
    known = whole_page and reachable and SESSION_COOKIE in request.cookies
    viewer = await run_in_threadpool(_viewer, request) if known else None
    return render_error(request, error, viewer=viewer)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _methods_of(request: Request) -> list[str]:
    # Each method asked of the router as a request of its own: routes sit inside
    # included routers, and only the router knows how it matches them.
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]


def install_error_handlers(
    app: FastAPI, *, on_integrity_failure: Callable[[IntegrityFailure, str], None]
) -> None:
    """``on_integrity_failure(error, path)`` is told of damaged evidence (it alerts the
    auditors, in a transaction of its own: the request's was rolled back)."""

    async def on_pouch_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PouchError)
        if type(exc) is PouchError:
            logger.error("internal error on %s %s: %s", request.method, request.url.path, exc)
        if isinstance(exc, IntegrityFailure):
            logger.error("damaged evidence on %s %s: %s", request.method, request.url.path, exc)
            await run_in_threadpool(on_integrity_failure, exc, request.url.path)
        return await respond(request, exc)

    async def on_integrity_error(request: Request, exc: Exception) -> Response:
        # A backstop: a write the database refused for a key or a constraint the
        # service did not check first. Its transaction is already rolled back.
        logger.warning("constraint refused on %s %s: %s", request.method, request.url.path, exc)
        return await respond(
            request, Conflict("the change conflicts with data that refers to it, or is taken")
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        error = outage(exc)
        if error is None:
            return await on_unexpected(request, exc)
        # The database's condition, not a bug: one line, no traceback.
        logger.warning("%s on %s %s: %s", error.slug, request.method, request.url.path, exc.orig)
        return await respond(request, error)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await respond(request, invalid_input(exc.errors()))

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error: PouchError
        if isinstance(exc.__cause__, PouchError):
            # FastAPI wraps failures while reading the body (e.g. the size limit).
            error = exc.__cause__
        elif exc.status_code == 404:
            error = NotFound(f"nothing at {request.url.path}")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            response = await respond(request, error)
            # Every method the path answers to, as RFC 9110 asks (the router names
            # only those of the first route it matched).
            response.headers["Allow"] = ", ".join(_methods_of(request))
            return response
        elif exc.status_code == 415:
            error = UnsupportedMediaType(str(exc.detail))
        elif exc.status_code == 400:
            # Starlette's own parsing errors (e.g. a malformed multipart body).
            error = MalformedBody(str(exc.detail))
        else:
            error = PouchError()
        return await respond(request, error)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return await respond(request, PouchError())

    app.add_exception_handler(PouchError, on_pouch_error)
    app.add_exception_handler(SQLAlchemyIntegrityError, on_integrity_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, on_unexpected)


def problem_page(error_type: type[PouchError]) -> HTMLResponse:
    """The human-readable page a problem ``type`` URI resolves to."""
    return HTMLResponse(
        f"<!doctype html><title>{error_type.title}</title>"
        f"<h1>{error_type.title}</h1><p>HTTP status {error_type.status}. "
        f"Problem type <code>{error_type.type_uri()}</code>.</p>"
        f"<p>{(error_type.__doc__ or '').strip()}</p>"
    )
