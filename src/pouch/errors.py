"""The error tree, and how each error is shown.

::

    PouchError                      500 internal-error (never shown with details)
    ├── IntegrityFailure            500 integrity-error (stored evidence damaged; auditors told)
    ├── InvalidInput                400 invalid-request (field errors)
    │   └── MalformedBody           400 malformed-body
    ├── NotAuthenticated            401 not-authenticated
    │   ├── LoginRequired           401 login-required (a page: the browser goes to /login)
    │   ├── InvalidCredentials      401 invalid-credentials
    │   └── InvalidSignature        401 invalid-signature
    ├── PermissionDenied            403 permission-denied
    │   ├── CsrfFailure             403 csrf-failure
    │   └── DecisionNotSigned       403 decision-not-signed
    ├── NotFound                    404 not-found
    ├── Conflict                    409 conflict
    ├── MethodNotAllowed            405 method-not-allowed
    ├── PayloadTooLarge             413 payload-too-large
    ├── UnsupportedMediaType        415 unsupported-media-type
    ├── TooManyAttempts             429 too-many-attempts (Retry-After)
    ├── DatabaseUnavailable         503 database-unavailable (Retry-After)
    └── StorageFull                 503 storage-full (Retry-After)

Under ``/api`` an error is an RFC 9457 problem details document
(``application/problem+json``) whose ``type`` is a stable URI
``/problems/<slug>``; elsewhere it is an HTML page. Anything that is not a
``PouchError`` is logged with its traceback and shown as a bare 500: no stack
trace, no exception text ever reaches a client. ``docs/errors.md`` lists every
type (a test fails when one is missing). A 503 says when to try again in a
``Retry-After`` header (``retry_after``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


@dataclass(frozen=True)
class FieldError:
    """One offending field: a dotted location such as ``body.name`` and why."""

    field: str
    message: str


class PouchError(Exception):
    """Something went wrong inside Pouch; the details go to the server log, never to a client."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    #: Seconds after which trying again may succeed (``Retry-After``); None: it will not.
    retry_after: ClassVar[int | None] = None

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


class IntegrityFailure(PouchError):
    """What Pouch stores as evidence (a log entry, an opening) is missing or does not match:
    the answer is withheld rather than built from it, and the auditors are alerted."""

    status = 500
    slug = "integrity-error"
    title = "Stored evidence is damaged"


class InvalidInput(PouchError):
    """A field is missing, of the wrong type, unknown, or out of range; `errors` names each."""

    status = 400
    slug = "invalid-request"
    title = "The request is not valid"


class MalformedBody(InvalidInput):
    """The body is not well-formed JSON (or form data), or is not valid UTF-8."""

    slug = "malformed-body"
    title = "The request body cannot be parsed"


class NotAuthenticated(PouchError):
    """No credentials were sent: log in, or send an API token as `Authorization: Bearer`."""

    status = 401
    slug = "not-authenticated"
    title = "Authentication is required"


class LoginRequired(NotAuthenticated):
    """A page was asked for without a web session: a browser is sent to the login page and
    brought back after it; an htmx request gets a fragment saying to log in again."""

    slug = "login-required"
    title = "Log in to see this page"


class InvalidCredentials(NotAuthenticated):
    """The token is unknown, expired, revoked or forged, or the password wrong (`detail` says)."""

    slug = "invalid-credentials"
    title = "The credentials are not valid"


class InvalidSignature(NotAuthenticated):
    """The HTTP message signature (RFC 9421) is missing, malformed, replayed, expired, by an
    unknown or revoked key, or does not verify; `detail` says which."""

    slug = "invalid-signature"
    title = "The request's signature is not acceptable"


class PermissionDenied(PouchError):
    """The caller is authenticated but lacks the role this needs, where it needs it."""

    status = 403
    slug = "permission-denied"
    title = "You may not do this"


class CsrfFailure(PermissionDenied):
    """A browser form or cookie-authenticated call came without the session's anti-forgery token."""

    slug = "csrf-failure"
    title = "The form's anti-forgery token is missing or wrong"


class DecisionNotSigned(PermissionDenied):
    """An officer's decision came without a valid WebAuthn assertion of that officer's passkey
    where one is required (``POUCH_SIGNED_DECISIONS``)."""

    slug = "decision-not-signed"
    title = "The decision must be confirmed with your passkey"


class NotFound(PouchError):
    """No such resource, or none the caller may see."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(PouchError):
    """The request would break a uniqueness or state rule (e.g. a taken name)."""

    status = 409
    slug = "conflict"
    title = "The request conflicts with the current state"


class PayloadTooLarge(PouchError):
    """The body is larger than `POUCH_MAX_BODY_BYTES`; nothing of it was stored."""

    status = 413
    slug = "payload-too-large"
    title = "The request body is too large"


class UnsupportedMediaType(PouchError):
    """The body's Content-Type is not one this endpoint reads."""

    status = 415
    slug = "unsupported-media-type"
    title = "The request body's media type is not supported"


class MethodNotAllowed(PouchError):
    """The path exists but not with this HTTP method."""

    status = 405
    slug = "method-not-allowed"
    title = "This method is not allowed here"


class TooManyAttempts(PouchError):
    """Too many failed logins for this user or from this address: no password is checked
    until `Retry-After` seconds have passed (the wait doubles with each further failure)."""

    status = 429
    slug = "too-many-attempts"
    title = "Too many failed attempts; wait before trying again"

    def __init__(self, detail: str | None = None, *, wait_seconds: int) -> None:
        super().__init__(detail)
        #: What ``Retry-After`` says for this refusal (the class's ``retry_after`` is fixed).
        self.wait_seconds = wait_seconds


class DatabaseUnavailable(PouchError):
    """The database does not answer just now (it restarts, is unreachable, or stayed locked
    past its busy timeout); Pouch reconnects by itself. Try again after `Retry-After`
    seconds: a submission may or may not have been stored, and its retry with the same
    Idempotency-Key is never accepted twice."""

    status = 503
    slug = "database-unavailable"
    title = "The database is unavailable for a moment"
    retry_after = 5


class StorageFull(PouchError):
    """The disk that holds Pouch's database is full: nothing of the request was stored, and
    what was accepted before is kept. Try again after `Retry-After` seconds, once an
    operator has made room."""

    status = 503
    slug = "storage-full"
    title = "Pouch's storage is full"
    retry_after = 60


def invalid_input(
    errors: Sequence[Mapping[str, Any]],
    *,
    prefix: Sequence[str] = (),
    rename: Mapping[str, str] | None = None,
) -> InvalidInput:
    """The one way a list of pydantic errors (``ValidationError.errors()``, or a
    request's) becomes an error naming each field: ``prefix`` is where the
    validated value sits (``("body",)``), ``rename`` maps a location to the name
    a form calls it. A body that is not JSON at all is a ``MalformedBody``.

    >>> error = invalid_input([{"loc": ("name",), "msg": "Field required", "type": "missing"},
    ...                        {"loc": ("age",), "msg": "too old", "type": "value_error"}],
    ...                       prefix=("body",))
    >>> error.detail
    'body.name: Field required (and 1 more)'
    >>> [e.field for e in error.field_errors]
    ['body.name', 'body.age']
    """
    rename = rename or {}
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            return MalformedBody(f"the body is not valid JSON: {reason}")
    field_errors = []
    for error in errors:
        where = ".".join([*prefix, *(str(part) for part in error.get("loc", ()))])
        field_errors.append(FieldError(rename.get(where, where) or "input", str(error["msg"])))
    if not field_errors:
        field_errors.append(FieldError(".".join(prefix) or "input", "invalid"))
    first = field_errors[0]
    more = f" (and {len(field_errors) - 1} more)" if len(field_errors) > 1 else ""
    return InvalidInput(f"{first.field}: {first.message}{more}", field_errors=field_errors)


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


def errors_reference() -> str:
    """``docs/errors.md``, generated from the error tree."""
    lines = [
        "<!-- Generated by `make docs` from pouch/errors.py; do not edit by hand. -->",
        "",
        "# Problem types",
        "",
        "Under `/api`, every error is an RFC 9457 problem details document with the media",
        "type `application/problem+json`:",
        "",
        "```json",
        '{"type": "/problems/invalid-request", "title": "The request is not valid", "status": 400,',
        ' "detail": "body.country_code: Value error, \'ZZ\' is not a known ISO 3166-1 code",',
        ' "instance": "/api/offices",',
        ' "errors": [{"field": "body.country_code", "message": "..."}]}',
        "```",
        "",
        "`type` is stable: programs branch on it, never on `detail`. Each type URI is",
        "relative to the server and serves a short page. `errors` (when present) names",
        "each offending field by its location (`body.name`, `query.size`, `header.x`).",
        "Outside `/api` the same errors are shown as an HTML page.",
        "",
        "| type | status | title | when |",
        "| --- | --- | --- | --- |",
    ]
    for cls in all_error_types():
        when = " ".join((cls.__doc__ or "").split()) or "—"
        lines.append(f"| `{cls.type_uri()}` | {cls.status} | {cls.title} | {when} |")
    return "\n".join(lines) + "\n"
