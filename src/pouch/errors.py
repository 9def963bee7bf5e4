"""The error tree, and how each error is shown.

::

    PouchError                      500 internal-error (never shown with details)
    ├── InvalidInput                400 invalid-request (field errors)
    │   └── MalformedBody           400 malformed-body
    ├── NotAuthenticated            401 not-authenticated
    │   └── InvalidCredentials      401 invalid-credentials
    ├── PermissionDenied            403 permission-denied
    │   └── CsrfFailure             403 csrf-failure
    ├── NotFound                    404 not-found
    ├── Conflict                    409 conflict
    ├── PayloadTooLarge             413 payload-too-large
    └── UnsupportedMediaType        415 unsupported-media-type

Under ``/api`` an error is an RFC 9457 problem details document
(``application/problem+json``) whose ``type`` is a stable URI
``/problems/<slug>``; elsewhere it is an HTML page. Anything that is not a
``PouchError`` is logged with its traceback and shown as a bare 500: no stack
trace, no exception text ever reaches a client. ``docs/errors.md`` lists every
type (a test fails when one is missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


@dataclass(frozen=True)
class FieldError:
    """One offending field: a dotted location such as ``body.name`` and why."""

    field: str
    message: str


class PouchError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, field_errors: list[FieldError] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field_errors = field_errors or []

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_BASE + cls.slug

    def problem(self, *, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        if self.field_errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.field_errors]
        return body


class InvalidInput(PouchError):
    status = 400
    slug = "invalid-request"
    title = "The request is not valid"


class MalformedBody(InvalidInput):
    slug = "malformed-body"
    title = "The request body cannot be parsed"


class NotAuthenticated(PouchError):
    status = 401
    slug = "not-authenticated"
    title = "Authentication is required"


class InvalidCredentials(NotAuthenticated):
    slug = "invalid-credentials"
    title = "The credentials are not valid"


class PermissionDenied(PouchError):
    status = 403
    slug = "permission-denied"
    title = "You may not do this"


class CsrfFailure(PermissionDenied):
    slug = "csrf-failure"
    title = "The form's anti-forgery token is missing or wrong"


class NotFound(PouchError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(PouchError):
    status = 409
    slug = "conflict"
    title = "The request conflicts with the current state"


class PayloadTooLarge(PouchError):
    status = 413
    slug = "payload-too-large"
    title = "The request body is too large"


class UnsupportedMediaType(PouchError):
    status = 415
    slug = "unsupported-media-type"
    title = "The request body's media type is not supported"


class MethodNotAllowed(PouchError):
    status = 405
    slug = "method-not-allowed"
    title = "This method is not allowed here"


def all_error_types() -> list[type[PouchError]]:
    """Every error class, for documentation and the ``/problems`` pages."""
    seen: list[type[PouchError]] = []
    pending: list[type[PouchError]] = [PouchError]
    while pending:
        cls = pending.pop(0)
        if cls not in seen:
            seen.append(cls)
            pending.extend(cls.__subclasses__())
    return seen


def error_for_slug(slug: str) -> type[PouchError] | None:
    return next((cls for cls in all_error_types() if cls.slug == slug), None)
