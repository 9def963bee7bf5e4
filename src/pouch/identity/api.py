"""JSON API for users, memberships and API tokens: each route parses, calls one
identity service function (the administration pages call the same), renders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response

from pouch.errors import InvalidInput
from pouch.identity import access as identity_access
from pouch.identity import approvals, audit, throttle
from pouch.identity import service as identity_service
from pouch.identity.schemas import (
    IdentityEventOut,
    IssuedToken,
    MembershipIn,
    MembershipOut,
    MeOut,
    PasswordChangeIn,
    PasswordChangeOut,
    PasswordResetIn,
    PasswordResetOut,
    PowerRequestOut,
    RemovalOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from pouch.schema import RowId
from pouch.web.deps import AppClock, AppSettings, Authorize, DbSession
from pouch.web.openapi import THROTTLED
from pouch.web.problems import render_error

router = APIRouter(prefix="/api", tags=["identity"])

AnyUser = Annotated[identity_service.Actor, Depends(Authorize())]
Administrator = Annotated[
    identity_service.Actor, Depends(Authorize(*identity_access.ADMINISTRATOR_ROLES))
]
Auditor = Annotated[identity_service.Actor, Depends(Authorize(*identity_access.AUDIT_ROLES))]
ASKED: dict[int | str, dict[str, Any]] = {
    202: {"model": PowerRequestOut, "description": "Waits for a second administrator."}
}


def _asked(asked: approvals.Asked) -> JSONResponse:
    return JSONResponse(
        PowerRequestOut.model_validate(asked.request).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.get("/me", response_model=MeOut)
def me(actor: AnyUser) -> MeOut:
    """Who the caller is: user, and the roles and offices it acts with."""
    return MeOut(
        id=actor.user_id,
        username=actor.username,
        via=actor.via,
        roles=[MembershipIn(office_id=o, role=r) for o, r in sorted(actor.roles)],
    )


@router.get("/users", response_model=list[UserOut])
def list_users(session: DbSession, _: Administrator) -> list[UserOut]:
    """Every user with their memberships (administrators)."""
    return [UserOut.model_validate(u) for u in identity_service.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, responses=ASKED)
def create_user(
    data: UserIn, session: DbSession, clock: AppClock, settings: AppSettings, actor: Administrator
) -> UserOut | JSONResponse:
    """Create a user with roles in offices (administrators). The user gets a code by
    e-mail to set their own password. A user of the operations office waits for a
    second administrator (202 with the request)."""
    done = approvals.create_user(
        session, data=data, by=actor.user_id, now=clock.now(), base_url=settings.public_url
    )
    if isinstance(done, approvals.Asked):
        return _asked(done)
    return UserOut.model_validate(done)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: RowId, session: DbSession, _: Administrator) -> UserOut:
    """One user with their memberships (administrators)."""
    return UserOut.model_validate(identity_service.get_user(session, user_id))


@router.patch("/users/{user_id}", response_model=UserOut, responses=ASKED)
def update_user(
    user_id: RowId, patch: UserPatch, session: DbSession, clock: AppClock, actor: Administrator
) -> UserOut | JSONResponse:
    """Rename, change the e-mail, or (de)activate a user (administrators); each change
    is logged and told to the user, a new e-mail address at the old one too. An
    office's last administrator is not deactivated (409); the principal's office's last
    reader only with a second administrator (202)."""
    done = approvals.update_user(
        session, user_id=user_id, patch=patch, by=actor.user_id, now=clock.now()
    )
    if isinstance(done, approvals.Asked):
        return _asked(done)
    return UserOut.model_validate(done)


@router.post(
    "/users/{user_id}/password-reset",
    response_model=PasswordResetOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def start_password_reset(
    user_id: RowId, session: DbSession, clock: AppClock, settings: AppSettings, actor: Administrator
) -> PasswordResetOut:
    """Start a reset of a user's password (administrators): a one-time code goes to the
    user's own e-mail address, never to the caller; the user sets the password."""
    now = clock.now()
    identity_service.start_password_reset(
        session, user_id=user_id, by=actor.user_id, now=now, base_url=settings.public_url
    )
    user = identity_service.get_user(session, user_id)
    return PasswordResetOut(
        user_id=user_id,
        sent_to=identity_service.hidden_email(user.email or ""),
        expires_at=now + identity_service.RESET_LIFETIME,
    )


@router.post("/password-reset", status_code=status.HTTP_204_NO_CONTENT)
def complete_password_reset(data: PasswordResetIn, session: DbSession, clock: AppClock) -> None:
    """Set one's own password with the code received (no login needed): every session and
    API token of the user ends."""
    identity_service.complete_password_reset(
        session, code=data.code, password=data.password.get_secret_value(), now=clock.now()
    )


@router.post("/me/password", response_model=PasswordChangeOut, responses=THROTTLED)
def change_password(
    data: PasswordChangeIn,
    request: Request,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: AnyUser,
) -> PasswordChangeOut | Response:
    """Change one's own password, knowing the current one; one's other sessions end. A
    wrong current password counts as a failed login (the same throttle, the same alerts)."""
    now = clock.now()
    username = identity_service.get_user(session, actor.user_id).username
    address = throttle.address_key(request.client.host if request.client else None)
    policy = throttle.Policy.from_settings(settings)
    throttle.check(session, username=username, address=address, now=now, policy=policy)
    try:
        identity_service.verify_own_password(
            session, user_id=actor.user_id, password=data.current_password.get_secret_value()
        )
    except InvalidInput as wrong:
        # Answered, not raised: the failure is counted in this transaction, which commits.
        throttle.record_failure(session, username=username, address=address, now=now, policy=policy)
        return render_error(request, wrong)
    throttle.record_success(session, username=username)
    ended = identity_service.change_own_password(
        session,
        user_id=actor.user_id,
        new=data.new_password.get_secret_value(),
        keep_session=actor.session_id,
        now=now,
    )
    return PasswordChangeOut(sessions_ended=ended)


@router.post(
    "/users/{user_id}/memberships",
    response_model=MembershipOut,
    status_code=status.HTTP_201_CREATED,
    responses=ASKED,
)
def grant_membership(
    user_id: RowId, data: MembershipIn, session: DbSession, clock: AppClock, actor: Administrator
) -> MembershipOut | JSONResponse:
    """Give a user a role in an office; logged as a ledger event (administrators). A role
    of power in the operations office waits for a second administrator (202)."""
    done = approvals.grant_role(
        session,
        user_id=user_id,
        office_id=data.office_id,
        role=data.role,
        by=actor.user_id,
        now=clock.now(),
    )
    if isinstance(done, approvals.Asked):
        return _asked(done)
    return MembershipOut.model_validate(done)


@router.delete(
    "/users/{user_id}/memberships/{membership_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={202: {"model": RemovalOut, "description": "Last administrator: awaits approval."}},
)
def revoke_membership(
    user_id: RowId, membership_id: RowId, session: DbSession, clock: AppClock, actor: Administrator
) -> Response:
    """Remove a role. An office's last administrator is only removed once a second
    officer approves (202 with the pending removal)."""
    pending = identity_service.revoke_role(
        session, user_id=user_id, membership_id=membership_id, by=actor.user_id, now=clock.now()
    )
    if pending is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return JSONResponse(
        RemovalOut.model_validate(pending).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.post("/membership-removals/{removal_id}/approve", response_model=RemovalOut)
def approve_removal(
    removal_id: RowId, session: DbSession, clock: AppClock, actor: Administrator
) -> RemovalOut:
    """Approve removing an office's last administrator (not by the officer who asked)."""
    removal = identity_service.approve_removal(
        session, removal_id=removal_id, by=actor.user_id, now=clock.now()
    )
    return RemovalOut.model_validate(removal)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(session: DbSession, actor: AnyUser, all: bool = False) -> list[TokenOut]:
    """The caller's API tokens (administrators: everyone's, with all=true); never the secrets."""
    tokens = identity_service.tokens_seen_by(session, actor=actor, everyone=all)
    return [TokenOut.model_validate(t) for t in tokens]


@router.post("/tokens", response_model=IssuedToken, status_code=status.HTTP_201_CREATED)
def issue_token(
    data: TokenIn, session: DbSession, clock: AppClock, settings: AppSettings, actor: AnyUser
) -> IssuedToken:
    """A new API token for one role in one office the caller holds; the secret is shown once."""
    secret, token = identity_service.issue_own_token(
        session,
        actor=actor,
        data=data,
        default_lifetime=settings.api_token_lifetime,
        now=clock.now(),
    )
    return IssuedToken(token=secret, **TokenOut.model_validate(token).model_dump())


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: RowId, session: DbSession, clock: AppClock, actor: AnyUser) -> None:
    """Revoke an API token at once."""
    identity_service.revoke_token(session, token_id=token_id, actor=actor, now=clock.now())


@router.get("/power-requests", response_model=list[PowerRequestOut])
def list_power_requests(
    session: DbSession, _: Auditor, pending: bool = False
) -> list[PowerRequestOut]:
    """Changes of power asked, newest first (administrators and auditors)."""
    return [
        PowerRequestOut.model_validate(r)
        for r in approvals.list_requests(session, pending_only=pending)
    ]


@router.post("/power-requests/{request_id}/approve", response_model=PowerRequestOut)
def approve_power_request(
    request_id: RowId,
    session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    actor: Administrator,
) -> PowerRequestOut:
    """Approve a change of power: a second administrator, not the one who asked."""
    return PowerRequestOut.model_validate(
        approvals.approve(
            session,
            request_id=request_id,
            by=actor.user_id,
            now=clock.now(),
            base_url=settings.public_url,
        )
    )


@router.post("/power-requests/{request_id}/withdraw", response_model=PowerRequestOut)
def withdraw_power_request(
    request_id: RowId, session: DbSession, clock: AppClock, actor: Administrator
) -> PowerRequestOut:
    """Withdraw a change of power not yet approved (logged)."""
    return PowerRequestOut.model_validate(
        approvals.withdraw(session, request_id=request_id, by=actor.user_id, now=clock.now())
    )


@router.get("/audit/users", response_model=list[UserOut])
def audit_users(session: DbSession, _: Auditor) -> list[UserOut]:
    """Every user, active or not, with their roles (auditors and administrators)."""
    return [UserOut.model_validate(u) for u in identity_service.list_users(session)]


@router.get("/audit/events", response_model=list[IdentityEventOut])
def audit_events(
    session: DbSession,
    _: Auditor,
    before: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 100,
    user: RowId | None = None,
    office: RowId | None = None,
) -> list[IdentityEventOut]:
    """Changes to identity and the directory, newest first, from the log's openings
    (auditors and administrators); ``before`` a log index pages back."""
    return [
        IdentityEventOut(index=e.index, kind=e.kind, label=e.label, time=e.time, event=e.event)
        for e in audit.identity_events(
            session, before=before, limit=limit, user=user, office=office
        )
    ]
