"""JSON API for users, memberships and API tokens: each route parses, calls one
identity service function (the administration pages call the same), renders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse, Response

from pouch.identity import access as identity_access
from pouch.identity import service as identity_service
from pouch.identity.schemas import (
    IssuedToken,
    MembershipIn,
    MembershipOut,
    MeOut,
    RemovalOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from pouch.schema import RowId
from pouch.web.deps import AppClock, AppSettings, Authorize, DbSession

router = APIRouter(prefix="/api", tags=["identity"])

AnyUser = Annotated[identity_service.Actor, Depends(Authorize())]
Administrator = Annotated[
    identity_service.Actor, Depends(Authorize(*identity_access.ADMINISTRATOR_ROLES))
]


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


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(data: UserIn, session: DbSession, clock: AppClock, actor: Administrator) -> UserOut:
    """Create a user with a password and roles in offices (administrators)."""
    user = identity_service.add_user(session, data=data, by=actor.user_id, now=clock.now())
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: RowId, session: DbSession, _: Administrator) -> UserOut:
    """One user with their memberships (administrators)."""
    return UserOut.model_validate(identity_service.get_user(session, user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: RowId, patch: UserPatch, session: DbSession, _: Administrator) -> UserOut:
    """Rename, change the e-mail or password, or (de)activate a user (administrators).
    An office's last administrator is not deactivated (409): remove that role first."""
    return UserOut.model_validate(
        identity_service.update_user(session, user_id=user_id, patch=patch)
    )


@router.post(
    "/users/{user_id}/memberships",
    response_model=MembershipOut,
    status_code=status.HTTP_201_CREATED,
)
def grant_membership(
    user_id: RowId, data: MembershipIn, session: DbSession, clock: AppClock, actor: Administrator
) -> MembershipOut:
    """Give a user a role in an office; logged as a ledger event (administrators)."""
    membership = identity_service.grant_role(
        session,
        user_id=user_id,
        office_id=data.office_id,
        role=data.role,
        now=clock.now(),
        by=actor.user_id,
    )
    return MembershipOut.model_validate(membership)


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
