"""The OpenAPI document, made honest: the errors Pouch really answers, and how to
authenticate.

FastAPI documents a 422 ``HTTPValidationError`` that Pouch never sends (bad
input is a 400 problem document, see ``errors.py``), and nothing else that can
go wrong. This rewrites each operation's responses: 400 for one that takes
input, 401 and 403 for one that needs a caller, 404 where a path or query
names something, 409 for a write, 413 and 415 for one with a body, 503 for
all (the database away, or its disk full), each an
RFC 9457 problem document (``application/problem+json``); and declares the
two ways to authenticate: an API token (``Authorization: Bearer``) or a web
session's cookie (which writes with the session's anti-forgery token).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from pouch.errors import all_error_types

PROBLEM_JSON = "application/problem+json"
#: What anyone may read without authenticating (the log is public)...
PUBLIC_PREFIXES = ("/api/log",)
#: ...but not the openings of its entries, which go to the parties entitled to them.
PRIVATE_PREFIXES = ("/api/log/openings",)
WRITES = ("post", "put", "patch", "delete")

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem details document.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "description": "Stable: programs branch on it (docs/errors.md).",
            "enum": [cls.type_uri() for cls in all_error_types()],
        },
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

REASONS = {
    "400": "The input is not valid (its fields are named in `errors`), or not parseable.",
    "401": "No credentials, or credentials (or a signature) that are not valid.",
    "403": "The caller may not do this.",
    "404": "Nothing of that name, or nothing the caller may see.",
    "409": "The request conflicts with the current state.",
    "413": "The body is larger than the server accepts.",
    "415": "The body is not of a media type this operation reads.",
    "429": (
        "Too many failed attempts for this user or from this address: nothing is "
        "checked until the Retry-After header's seconds have passed."
    ),
    "503": (
        "The database is unavailable or its disk is full. A write cut off by the outage "
        "may or may not have been stored: try again after the Retry-After header's "
        "seconds, with the same Idempotency-Key where the operation takes one."
    ),
}

SECURITY_SCHEMES: dict[str, Any] = {
    "token": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (POST /api/tokens): one role in one office, expiring.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "pouch_session",
        "description": (
            "A web session (log in at /login); writes also send the session's "
            "anti-forgery token (header X-CSRF-Token)."
        ),
    },
}


def _problem(status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": REASONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in ("429", "503"):
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return response


#: For an operation that checks a password and so is throttled like the login
#: (``responses=THROTTLED``): its 429 is documented as the others are.
THROTTLED: dict[int | str, dict[str, Any]] = {429: {"description": REASONS["429"]}}


def _secured(path: str) -> bool:
    public = path.startswith(PUBLIC_PREFIXES) and not path.startswith(PRIVATE_PREFIXES)
    return path.startswith("/api/") and not public


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    secured = _secured(path)
    found = []
    if parameters or has_body:
        found.append("400")
    if secured:
        found += ["401", "403"]
    if (
        any(p["in"] in ("path", "query") for p in parameters)
        or method in WRITES
        or path.startswith("/log/")  # nothing published yet, or beyond the checkpoint
    ):
        found.append("404")
    if method in WRITES:
        found.append("409")
    if has_body:
        found += ["413", "415"]
    # Every operation reads the database: away, or its disk full, is a 503.
    found.append("503")
    return found


def honest(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its error responses and security as Pouch answers them."""
    result = copy.deepcopy(document)
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in _statuses(path, method, operation):
                responses.setdefault(status, _problem(status))
            if "429" in responses:  # declared by the route (THROTTLED): as a problem
                responses["429"] = _problem("429")
            if _secured(path):
                operation["security"] = [{"token": []}, {"session": []}]
    return result


def install(app: FastAPI) -> None:
    """Serve the honest document at the app's OpenAPI URL (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = honest(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
