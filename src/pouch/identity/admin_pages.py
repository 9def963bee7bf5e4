"""Administration in the browser: users, roles, offices, sender keys, API tokens.

For the operations center's administrators, with the same services and rules
as the JSON API: membership changes are ledger events, and removing an
office's last administrator only asks for it until a second officer approves.
Forms post and redirect back (303); a new API token's secret is shown once,
on the page that answers its form, and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.directory.models import OfficeKind
from pouch.directory.schemas import OfficeIn
from pouch.errors import Conflict, FieldError, InvalidInput, PouchError, invalid_input
from pouch.identity import access as identity_access
from pouch.identity import approvals
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.identity.schemas import MembershipIn, TokenIn, UserIn
from pouch.identity.service import Actor
from pouch.intake import service as intake_service
from pouch.intake.schemas import SenderKeyIn
from pouch.schema import RowId, Schema
from pouch.web import render
from pouch.web.deps import AppClock, AppSettings, Authorize, AuthorizePage, DbSession

router = APIRouter(tags=["pages"], include_in_schema=False)

Administrator = Annotated[Actor, Depends(Authorize(*identity_access.ADMINISTRATOR_ROLES))]
AdministratorPage = Annotated[Actor, Depends(AuthorizePage(*identity_access.ADMINISTRATOR_ROLES))]
S = TypeVar("S", bound=Schema)

NOTICES = {
    "user-created": "User created; a code to set their own password went to their e-mail.",
    "power-asked": (
        "That change gives power: it waits for a second administrator's approval "
        "(under Changes awaiting a second administrator)."
    ),
    "power-approved": "Approved: the change is made, and in the ledger.",
    "power-withdrawn": "Request withdrawn.",
    "reset-started": (
        "Password reset started: a one-time code went to the user's own e-mail address."
    ),
    "user-activated": "User reactivated.",
    "user-deactivated": "User deactivated and logged out everywhere.",
    "role-granted": "Role granted; the change is in the ledger.",
    "role-revoked": "Role revoked; the change is in the ledger.",
    "removal-pending": (
        "That is the office's last administrator: the removal waits for a second "
        "officer's approval."
    ),
    "removal-approved": "Removal approved; the role is revoked.",
    "office-created": "Office created.",
    "key-registered": "Sender key registered.",
    "key-revoked": "Sender key revoked: submissions it signs are refused from now on.",
    "token-revoked": "API token revoked.",
}


def _back(notice: str, section: str) -> Response:
    return render.back("/admin", "/admin", notice, anchor=section)


def _form(schema: type[S], values: dict[str, Any]) -> S:
    """A form's values checked by the schema the API checks its body with."""
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise invalid_input(error.errors()) from None


@dataclass(frozen=True)
class Refusal:
    """A form sent back as it was typed, with why it was refused next to each field."""

    form: str
    error: PouchError
    values: dict[str, str]

    def value(self, form: str, field: str) -> str:
        return self.values.get(field, "") if form == self.form else ""

    def problem(self, form: str, field: str) -> str | None:
        """Why ``field`` of ``form`` was refused (matched on the last part of the
        error's dotted location: ``body.username`` or ``memberships.0.role``)."""
        if form != self.form:
            return None
        for error in getattr(self.error, "field_errors", []) or []:
            if error.field.split(".")[-1] == field:
                return str(error.message)
        return None


def _refused(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    form: str,
    error: PouchError,
    values: dict[str, str],
) -> Response:
    """The admin page again, the form open with what was typed and what was wrong
    (nothing of the refused change was written: its transaction is rolled back)."""
    session.rollback()
    context = {**_context(session, actor), "refusal": Refusal(form, error, values)}
    response = render.page(request, "admin.html", context, status_code=error.status)
    return response


def _context(
    session: Session,
    actor: Actor,
    *,
    tokens_before: int | None = None,
    users_after: int | None = None,
    offices_after: int | None = None,
) -> dict[str, Any]:
    offices = directory_service.list_offices(session)
    users = identity_service.list_users(session)
    removals = identity_service.pending_removals(session)
    offices_shown, more_offices = directory_service.office_page(
        session, after=offices_after, limit=directory_service.OFFICE_PAGE
    )
    shown, more = identity_service.user_page(
        session, after=users_after, limit=identity_service.USER_PAGE
    )
    tokens, older = identity_service.token_page(
        session, user_id=None, before=tokens_before, limit=identity_service.TOKEN_PAGE
    )
    return {
        "power_requests": approvals.list_requests(session, pending_only=True),
        "actor": actor,
        "users": users,
        "users_shown": shown,
        "users_paged": (users_after, more),
        "offices_shown": offices_shown,
        "offices_paged": (offices_after, more_offices),
        "usernames": {u.id: u.username for u in users},
        "offices": offices,
        "office_names": {o.id: o.name for o in offices},
        "keys": intake_service.keys_by_office(session),
        "removals": removals,
        "pending_memberships": {r.membership_id for r in removals},
        "tokens": tokens,
        "tokens_paged": (tokens_before, older),
        "roles": list(Role),
        "kinds": list(OfficeKind),
        "my_roles": sorted(actor.roles),
    }


def _render(request: Request, context: dict[str, Any], *, issued: str | None = None) -> Response:
    response = render.page(request, "admin.html", {**context, "issued": issued}, notices=NOTICES)
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/admin")
def admin_page(
    request: Request,
    session: DbSession,
    actor: AdministratorPage,
    tokens_before: Annotated[RowId | None, Query()] = None,
    users_after: Annotated[RowId | None, Query()] = None,
    offices_after: Annotated[RowId | None, Query()] = None,
) -> Response:
    context = _context(
        session,
        actor,
        tokens_before=tokens_before,
        users_after=users_after,
        offices_after=offices_after,
    )
    return _render(request, context)


# -- users and roles ---------------------------------------------------------------


@router.post("/admin/users")
def create_user(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: Administrator,
    username: Annotated[str, Form(max_length=63)],
    display_name: Annotated[str, Form(max_length=200)],
    settings: AppSettings,
    email: Annotated[str, Form(max_length=254)] = "",
    office_id: Annotated[int | None, Form()] = None,
    role: Annotated[Role | None, Form()] = None,
) -> Response:
    try:
        data = _form(
            UserIn,
            {
                "username": username.strip(),
                "display_name": display_name,
                "email": email.strip() or None,
                "memberships": [MembershipIn(office_id=office_id, role=role)]
                if office_id is not None and role is not None
                else [],
            },
        )
        done = approvals.create_user(
            session, data=data, by=actor.user_id, now=clock.now(), base_url=settings.public_url
        )
    except (InvalidInput, Conflict) as error:
        typed = {"username": username, "display_name": display_name, "email": email}
        return _refused(request, session, actor, form="new-user", error=error, values=typed)
    if isinstance(done, approvals.Asked):
        return _back("power-asked", "power")
    return _back("user-created", "users")


@router.post("/admin/users/{user_id}/password-reset")
def start_password_reset(
    user_id: RowId, session: DbSession, clock: AppClock, settings: AppSettings, actor: Administrator
) -> Response:
    identity_service.start_password_reset(
        session, user_id=user_id, by=actor.user_id, now=clock.now(), base_url=settings.public_url
    )
    return _back("reset-started", "users")


def _parse_grant(value: str) -> tuple[int, Role]:
    """``"<office id>:<role>"`` from a select."""
    office, _, role = value.partition(":")
    try:
        return int(office), Role(role)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not an office and a role",
            field_errors=[FieldError("grant", "choose a role in an office")],
        ) from None


@router.post("/admin/users/{user_id}/active")
def set_active(
    user_id: RowId,
    session: DbSession,
    clock: AppClock,
    actor: Administrator,
    active: Annotated[bool, Form()],
) -> Response:
    if active:
        identity_service.set_user_active(
            session, user_id=user_id, active=True, by=actor.user_id, now=clock.now()
        )
        return _back("user-activated", "users")
    done = approvals.deactivate_user(session, user_id=user_id, by=actor.user_id, now=clock.now())
    if isinstance(done, approvals.Asked):
        return _back("power-asked", "power")
    return _back("user-deactivated", "users")


@router.post("/admin/roles")
def grant_role(
    session: DbSession,
    clock: AppClock,
    actor: Administrator,
    user_id: Annotated[int, Form()],
    office_id: Annotated[int, Form()],
    role: Annotated[Role, Form()],
) -> Response:
    done = approvals.grant_role(
        session, user_id=user_id, office_id=office_id, role=role, by=actor.user_id, now=clock.now()
    )
    if isinstance(done, approvals.Asked):
        return _back("power-asked", "power")
    return _back("role-granted", "users")


@router.post("/admin/power/{request_id}/approve")
def approve_power(
    request_id: RowId,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Administrator,
) -> Response:
    """A second administrator approves a change of power (never the one who asked: the
    service refuses it)."""
    approvals.approve(
        session,
        request_id=request_id,
        by=actor.user_id,
        now=clock.now(),
        base_url=settings.public_url,
    )
    return _back("power-approved", "power")


@router.post("/admin/power/{request_id}/withdraw")
def withdraw_power(
    request_id: RowId, session: DbSession, clock: AppClock, actor: Administrator
) -> Response:
    approvals.withdraw(session, request_id=request_id, by=actor.user_id, now=clock.now())
    return _back("power-withdrawn", "power")


@router.post("/admin/users/{user_id}/roles/{membership_id}/revoke")
def revoke_role(
    user_id: RowId,
    membership_id: RowId,
    session: DbSession,
    clock: AppClock,
    actor: Administrator,
) -> Response:
    pending = identity_service.revoke_role(
        session, user_id=user_id, membership_id=membership_id, by=actor.user_id, now=clock.now()
    )
    if pending is not None:
        return _back("removal-pending", "removals")
    return _back("role-revoked", "users")


@router.post("/admin/removals/{removal_id}/approve")
def approve_removal(
    removal_id: RowId, session: DbSession, clock: AppClock, actor: Administrator
) -> Response:
    """A second officer approves removing an office's last administrator (never the requester:
    the service refuses it)."""
    identity_service.approve_removal(
        session, removal_id=removal_id, by=actor.user_id, now=clock.now()
    )
    return _back("removal-approved", "removals")


# -- offices and their keys --------------------------------------------------------


@router.post("/admin/offices")
def create_office(
    request: Request,
    session: DbSession,
    clock: AppClock,
    actor: Administrator,
    slug: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(max_length=16)],
    country_code: Annotated[str, Form(max_length=2)],
    time_zone: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    try:
        data = _form(
            OfficeIn,
            {
                "slug": slug.strip(),
                "name": name,
                "kind": kind,
                "country_code": country_code.strip().upper(),
                "time_zone": time_zone.strip() or None,
                "email": email.strip() or None,
            },
        )
        directory_service.create_office(session, data=data, now=clock.now(), by=actor.user_id)
    except (InvalidInput, Conflict) as error:
        typed = {
            "slug": slug,
            "name": name,
            "kind": kind,
            "country_code": country_code,
            "time_zone": time_zone,
            "email": email,
        }
        return _refused(request, session, actor, form="new-office", error=error, values=typed)
    return _back("office-created", "offices")


@router.post("/admin/keys")
def register_key(
    session: DbSession,
    clock: AppClock,
    actor: Administrator,
    office_id: Annotated[int, Form()],
    key_id: Annotated[str, Form(max_length=100)],
    public_key: Annotated[str, Form(max_length=2000)],
) -> Response:
    data = _form(
        SenderKeyIn, {"key_id": key_id.strip(), "public_key": public_key.replace("\r\n", "\n")}
    )
    done = approvals.register_key(
        session,
        actor=actor,
        office_id=office_id,
        key_id=data.key_id,
        public_key=data.raw_public_key(),
        now=clock.now(),
    )
    if isinstance(done, approvals.Asked):
        return _back("power-asked", "power")
    return _back("key-registered", "keys")


@router.post("/admin/offices/{office_id}/keys/{key_id}/revoke")
def revoke_key(
    office_id: RowId, key_id: str, session: DbSession, clock: AppClock, actor: Administrator
) -> Response:
    intake_service.revoke_key(
        session, office_id=office_id, key_id=key_id, now=clock.now(), by=actor.user_id
    )
    return _back("key-revoked", "keys")


# -- API tokens --------------------------------------------------------------------


@router.post("/admin/tokens")
def issue_token(
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Administrator,
    name: Annotated[str, Form(max_length=100)],
    grant: Annotated[str, Form(max_length=80)],
    expires_in_days: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """A token for the administrator's own roles; its secret is on this response only."""
    office_id, role = _parse_grant(grant)
    data = _form(
        TokenIn,
        {
            "name": name,
            "office_id": office_id,
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
    return _render(request, _context(session, actor), issued=secret)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: RowId, session: DbSession, clock: AppClock, actor: Administrator
) -> Response:
    identity_service.revoke_token(session, token_id=token_id, actor=actor, now=clock.now())
    return _back("token-revoked", "tokens")
