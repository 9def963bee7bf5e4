"""Pages for one's own account and for auditors: one's offices (with the ids and
slugs programs use) and API tokens, set one's password with the code one received,
and the audit of identity (users, roles, every change on the record).

The password form is served before any session exists: like the login form it
is protected by a double-submit token in a short-lived cookie, and the code
itself is the credential.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.errors import (
    Conflict,
    CsrfFailure,
    FieldError,
    InvalidInput,
    PermissionDenied,
    PouchError,
    invalid_input,
)
from pouch.identity import access as identity_access
from pouch.identity import approvals, audit
from pouch.identity import service as identity_service
from pouch.identity.models import PowerRequest, Role
from pouch.identity.schemas import TokenIn
from pouch.intake import service as intake_service
from pouch.intake.models import SenderKey
from pouch.intake.schemas import SenderKeyIn
from pouch.schema import RowId
from pouch.web import render
from pouch.web.deps import CSRF_FIELD, AppClock, AppSettings, AuthorizePage, DbSession

router = APIRouter(tags=["pages"], include_in_schema=False)

PASSWORD_CSRF_COOKIE = "pouch_password_csrf"  # noqa: S105 - a cookie name
AuditorPage = Annotated[
    identity_service.Actor, Depends(AuthorizePage(*identity_access.AUDIT_ROLES))
]
AccountPage = Annotated[identity_service.Actor, Depends(AuthorizePage())]

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "token-revoked": "Token revoked: programs using it are refused from now on.",
    "key-asked": "Key sent: it signs your office's messages once an administrator approves it.",
}


def _account(
    request: Request,
    session: Session,
    actor: identity_service.Actor,
    *,
    issued: str | None = None,
    refused: InvalidInput | None = None,
    kept: dict[str, str] | None = None,
    form: str = "token",
    status: int = 200,
    tokens_before: int | None = None,
) -> Response:
    offices = {o.id: o for o in directory_service.list_offices(session)}
    mine = sorted({office for office, _ in actor.roles})
    tokens, older = identity_service.token_page(
        session,
        user_id=actor.user_id,
        before=tokens_before,
        limit=identity_service.TOKEN_PAGE,
    )
    context = {
        "actor": actor,
        "offices": [
            (offices[o], sorted(r.value for office, r in actor.roles if office == o))
            for o in mine
            if o in offices
        ],
        "addressees": [o for o in offices.values() if o.kind == OfficeKind.PRINCIPAL],
        "tokens": tokens,
        "tokens_paged": (tokens_before, older),
        "office_names": {o.id: o.name for o in offices.values()},
        "my_roles": sorted(actor.roles, key=lambda pair: (pair[0], pair[1].value)),
        "signing": _signing_keys(session, actor),
        "issued": issued,
        "refused": {e.field.rsplit(".", 1)[-1]: e.message for e in refused.field_errors}
        if refused
        else {},
        "refusal": refused.detail if refused else None,
        "kept": kept or {},
        "refused_form": form,
    }
    response = render.page(request, "account.html", context, status_code=status, notices=NOTICES)
    response.headers["Cache-Control"] = "no-store"  # an issued secret is on it
    return response


@dataclass(frozen=True)
class SigningKeys:
    """A sender office's signing keys, and those waiting for an administrator."""

    office: Office
    keys: list[SenderKey]
    waiting: list[PowerRequest]


def _signing_keys(session: Session, actor: identity_service.Actor) -> list[SigningKeys]:
    """For each office the actor sends for: its keys and its keys asked for."""
    asked = [
        r
        for r in approvals.list_requests(session, pending_only=True)
        if r.action == approvals.Action.REGISTER_KEY.value
    ]
    return [
        SigningKeys(
            office=directory_service.get_office(session, office_id),
            keys=intake_service.list_keys(session, office_id=office_id),
            waiting=[r for r in asked if r.payload.get("office") == office_id],
        )
        for office_id in sorted(actor.offices_with(Role.SENDER))
    ]


S = TypeVar("S", bound=BaseModel)


def _checked(schema: type[S], values: dict[str, Any]) -> S:
    """A form's values checked by the schema the API checks its body with."""
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise invalid_input(error.errors()) from None


def _refusal(error: PouchError, field: str) -> InvalidInput:
    """A refusal as the form shows it: a field found wrong as it is; anything else (a
    role not held, a name taken) beside ``field``."""
    if isinstance(error, InvalidInput):
        return error
    return InvalidInput(str(error), field_errors=[FieldError(field, str(error))])


@router.get("/account")
def account_page(
    request: Request,
    session: DbSession,
    actor: AccountPage,
    tokens_before: Annotated[RowId | None, Query()] = None,
) -> Response:
    """One's offices, with the ids and slugs programs name them by, and one's API tokens
    (newest first, a page at a time)."""
    return _account(request, session, actor, tokens_before=tokens_before)


@router.post("/account/tokens")
def issue_token(
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: AccountPage,
    name: Annotated[str, Form(max_length=100)] = "",
    grant: Annotated[str, Form(max_length=80)] = "",
    expires_in_days: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """A token for one of one's own roles; its secret is shown on this response only.
    A refusal comes back with the form as typed and the problem beside its field."""
    kept = {"name": name, "grant": grant, "expires_in_days": expires_in_days}
    office, _, role = grant.partition(":")
    try:
        data = _checked(
            TokenIn,
            {
                "name": name,
                "office_id": office,
                "role": role,
                "expires_in_days": expires_in_days.strip() or None,
            },
        )
        secret, _ = identity_service.issue_own_token(
            session,
            actor=actor,
            data=data,
            default_lifetime=settings.api_token_lifetime,
            now=clock.now(),
        )
    except (InvalidInput, PermissionDenied) as error:
        refused = _refusal(error, "grant")
        return _account(request, session, actor, refused=refused, kept=kept, status=400)
    return _account(request, session, actor, issued=secret)


@router.post("/account/keys")
def ask_for_key(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: AccountPage,
    office_id: Annotated[str, Form(max_length=20)] = "",
    key_id: Annotated[str, Form(max_length=100)] = "",
    public_key: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A signing key for a sender's office, made in the browser (or by ``pouch sender
    keygen``): registered once an administrator approves it (``approvals.register_key``)."""
    kept = {"key_id": key_id, "public_key": public_key}
    try:
        data = _checked(SenderKeyIn, {"key_id": key_id, "public_key": public_key.strip()})
        office = int(office_id) if office_id.isdecimal() else 0
        if office not in actor.offices_with(Role.SENDER):
            raise InvalidInput(
                "choose an office you send for",
                field_errors=[FieldError("office_id", "choose an office you send for")],
            )
        approvals.register_key(
            session,
            actor=actor,
            office_id=office,
            key_id=data.key_id,
            public_key=data.raw_public_key(),
            now=clock.now(),
        )
    except (InvalidInput, Conflict) as error:
        refused = _refusal(error, "key_id")
        return _account(request, session, actor, refused=refused, kept=kept, form="key", status=400)
    return render.back("/account", "/account", "key-asked", anchor="signing")


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    token_id: RowId, session: DbSession, clock: AppClock, actor: AccountPage
) -> Response:
    identity_service.revoke_token(session, token_id=token_id, actor=actor, now=clock.now())
    return render.back("/account", "/account", "token-revoked", anchor="tokens")


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
