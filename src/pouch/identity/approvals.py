"""Two people for power (invariant 6): what one administrator asks, a second approves.

Granting a role of power in the operations office, creating a user there,
changing an office's kind, removing an office, registering a signing key for
another office, and deactivating the principal's office's last reader take
effect only when a second administrator approves. Each entry point here
either does the change at once (when it gives no power) or records a
``PowerRequest`` and a ``power.requested`` event, told to whom it affects;
``approve`` does it, by someone other than the asker, and logs
``power.approved``. The API and the administration pages call these, never
the underlying services directly, for these changes.

(Removing an office's last administrator or the principal's office's last
reader keeps its own older form, ``identity.service.revoke_role``.)
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.directory.schemas import OfficePatch
from pouch.errors import Conflict, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.identity import access as identity_access
from pouch.identity import record
from pouch.identity import service as identity_service
from pouch.identity.models import Membership, PowerRequest, PowerStatus, Role, User
from pouch.identity.schemas import UserIn, UserPatch
from pouch.intake import service as intake_service
from pouch.intake.models import SenderKey


class Action(enum.StrEnum):
    """What a power request asks for."""

    GRANT_ROLE = "grant-role"
    CREATE_USER = "create-user"
    CHANGE_OFFICE_KIND = "change-office-kind"
    REMOVE_OFFICE = "remove-office"
    REGISTER_KEY = "register-key"
    DEACTIVATE_USER = "deactivate-user"


#: Roles that give power over others' messages or over Pouch, when held in the
#: operations office.
POWER_ROLES = frozenset(
    {Role.ADMINISTRATOR, Role.WATCH_OFFICER, Role.AUDITOR, Role.PROTOCOL_OFFICER}
)


def gives_power(office_kind: OfficeKind, role: Role) -> bool:
    """Whether holding ``role`` in an office of ``office_kind`` needs two people to grant.

    >>> gives_power(OfficeKind.OPERATIONS, Role.WATCH_OFFICER)
    True
    >>> gives_power(OfficeKind.OPERATIONS, Role.TRANSLATOR)
    False
    >>> gives_power(OfficeKind.FOREIGN, Role.ADMINISTRATOR)
    False
    """
    return office_kind == OfficeKind.OPERATIONS and role in POWER_ROLES


@dataclass(frozen=True)
class Asked:
    """The change waits for a second administrator."""

    request: PowerRequest


def _office_kind(session: Session, office_id: int) -> OfficeKind:
    directory_service.check_office_ref(session, office_id)
    return directory_service.get_office(session, office_id).kind


def _ask(
    session: Session,
    action: Action,
    payload: dict[str, Any],
    *,
    summary: str,
    by: int,
    now: datetime,
    offices: Sequence[int] = (),
    tell_users: Sequence[int] = (),
    tell_offices: Sequence[int] = (),
) -> Asked:
    same = session.scalar(
        select(PowerRequest).where(
            PowerRequest.action == action.value,
            PowerRequest.status == PowerStatus.PENDING,
            PowerRequest.summary == summary,
        )
    )
    if same is not None and same.payload == payload:
        return Asked(same)
    request = PowerRequest(
        action=action.value,
        payload=payload,
        summary=summary[:500],
        status=PowerStatus.PENDING,
        requested_by_user_id=by,
        requested_at=now,
    )
    session.add(request)
    session.flush()
    record.change(
        session,
        EventKind.POWER_REQUESTED,
        at=now,
        by=by,
        details={
            "request": request.id,
            "action": action.value,
            "summary": request.summary,
            **_public(payload),
        },
        offices=offices,
        tell_users=tell_users,
        tell_offices=tell_offices,
    )
    return Asked(request)


def _public(payload: dict[str, Any]) -> dict[str, Any]:
    """What of a request's arguments goes into its events (all of it: nothing secret is
    asked for)."""
    return {f"arg_{key}": value for key, value in payload.items()}


# --- the entry points -----------------------------------------------------------------


def grant_role(
    session: Session, *, user_id: int, office_id: int, role: Role, by: int, now: datetime
) -> Membership | Asked:
    kind = _office_kind(session, office_id)
    user = identity_service.get_user(session, user_id)
    if not gives_power(kind, role):
        return identity_service.grant_role(
            session, user_id=user_id, office_id=office_id, role=role, now=now, by=by
        )
    return _ask(
        session,
        Action.GRANT_ROLE,
        {"user": user_id, "office": office_id, "role": role.value},
        summary=f"grant {role.value} in office {office_id} to {user.username}",
        by=by,
        now=now,
        offices=[office_id],
        tell_users=[user_id],
    )


def create_user(
    session: Session, *, data: UserIn, by: int, now: datetime, base_url: str
) -> User | Asked:
    """A new user; one with a role in the operations office waits for a second
    administrator."""
    kinds = {m.office_id: _office_kind(session, m.office_id) for m in data.memberships}
    if not any(kinds[m.office_id] == OfficeKind.OPERATIONS for m in data.memberships):
        return identity_service.add_user(session, data=data, by=by, now=now, base_url=base_url)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(f"a user named {data.username!r} exists already")
    return _ask(
        session,
        Action.CREATE_USER,
        data.model_dump(mode="json"),
        summary=f"create user {data.username} ({data.display_name}) with "
        + ", ".join(f"{m.role.value}@{m.office_id}" for m in data.memberships),
        by=by,
        now=now,
        offices=sorted(kinds),
    )


def change_office(
    session: Session, *, office_id: int, patch: OfficePatch, by: int, now: datetime
) -> Office | Asked:
    """A change of an office; one of its kind waits for a second administrator."""
    office = directory_service.get_office(session, office_id)
    if patch.kind is None or patch.kind == office.kind:
        return directory_service.update_office(
            session, office_id=office_id, patch=patch, now=now, by=by
        )
    directory_service.check_kind_change(session, office, patch.kind)
    return _ask(
        session,
        Action.CHANGE_OFFICE_KIND,
        {"office": office_id, "patch": patch.model_dump(mode="json", exclude_unset=True)},
        summary=f"change office {office.slug} from {office.kind.value} to {patch.kind.value}",
        by=by,
        now=now,
        offices=[office_id],
        tell_offices=[office_id],
    )


def remove_office(session: Session, *, office_id: int, by: int, now: datetime) -> Asked:
    """Removing an office is always asked of a second administrator, and only for an
    office with no members and no messages (retire it otherwise)."""
    office = directory_service.get_office(session, office_id)
    directory_service.check_removable(session, office)
    return _ask(
        session,
        Action.REMOVE_OFFICE,
        {"office": office_id},
        summary=f"remove office {office.slug} ({office.name})",
        by=by,
        now=now,
        offices=[office_id],
        tell_offices=[office_id],
    )


def register_key(
    session: Session,
    *,
    actor: identity_service.Actor,
    office_id: int,
    key_id: str,
    public_key: bytes,
    now: datetime,
) -> SenderKey | Asked:
    """An office's administrator registers its own keys at once; a key registered for an
    office by someone who is not its administrator waits for an administrator: by an
    administrator of Pouch, for a second one (it could sign in that office's name); by
    a sender of the office (from its account page, a key made in its browser), for an
    administrator to approve it."""
    office = directory_service.get_office(session, office_id)
    if actor.holds(Role.ADMINISTRATOR, office_id):
        return intake_service.register_key(
            session,
            office_id=office_id,
            key_id=key_id,
            public_key=public_key,
            now=now,
            by=actor.user_id,
        )
    if not (identity_access.administers_pouch(actor) or actor.holds(Role.SENDER, office_id)):
        raise PermissionDenied(f"you do not administer office {office_id} nor send for it")
    intake_service.check_key_id_free(session, key_id)
    return _ask(
        session,
        Action.REGISTER_KEY,
        {
            "office": office_id,
            "key_id": key_id,
            "public_key": base64.b64encode(public_key).decode(),
        },
        summary=f"register signing key {key_id} for office {office.slug}",
        by=actor.user_id,
        now=now,
        offices=[office_id],
        tell_offices=[office_id],
    )


def deactivate_user(session: Session, *, user_id: int, by: int, now: datetime) -> User | Asked:
    """Deactivating the principal's office's last reader waits for a second administrator;
    anyone else is deactivated at once (logged and told)."""
    user = identity_service.get_user(session, user_id)
    if not user.is_active or not identity_service.is_last_principal_reader(session, user_id):
        return identity_service.set_user_active(
            session, user_id=user_id, active=False, by=by, now=now
        )
    return _ask(
        session,
        Action.DEACTIVATE_USER,
        {"user": user_id},
        summary=f"deactivate {user.username}, the principal's office's last reader",
        by=by,
        now=now,
        offices=sorted(record.offices_of(session, user_id)),
        tell_users=[user_id],
    )


def update_user(
    session: Session, *, user_id: int, patch: UserPatch, by: int, now: datetime
) -> User | Asked:
    """``identity_service.update_user``, a deactivation going through ``deactivate_user``."""
    if patch.is_active is False:
        rest = patch.model_copy(update={"is_active": None})
        identity_service.update_user(session, user_id=user_id, patch=rest, by=by, now=now)
        return deactivate_user(session, user_id=user_id, by=by, now=now)
    return identity_service.update_user(session, user_id=user_id, patch=patch, by=by, now=now)


# --- deciding ------------------------------------------------------------------------


def _do(
    session: Session, request: PowerRequest, *, by: int, now: datetime, base_url: str
) -> dict[str, Any]:
    """Carry out an approved request; what it made."""
    args = request.payload
    action = Action(request.action)
    if action == Action.GRANT_ROLE:
        membership = identity_service.grant_role(
            session,
            user_id=int(args["user"]),
            office_id=int(args["office"]),
            role=Role(args["role"]),
            now=now,
            by=by,
        )
        return {"membership": membership.id}
    if action == Action.CREATE_USER:
        user = identity_service.add_user(
            session, data=UserIn.model_validate(args), by=by, now=now, base_url=base_url
        )
        return {"user": user.id}
    if action == Action.CHANGE_OFFICE_KIND:
        office = directory_service.update_office(
            session,
            office_id=int(args["office"]),
            patch=OfficePatch.model_validate(args["patch"]),
            now=now,
            by=by,
            kind_approved=True,
        )
        return {"office": office.id, "kind": office.kind.value}
    if action == Action.REMOVE_OFFICE:
        directory_service.delete_office(session, office_id=int(args["office"]), by=by, now=now)
        return {"office": int(args["office"])}
    if action == Action.REGISTER_KEY:
        key = intake_service.register_key(
            session,
            office_id=int(args["office"]),
            key_id=str(args["key_id"]),
            public_key=base64.b64decode(args["public_key"]),
            now=now,
            by=by,
        )
        return {"key": key.key_id}
    if action == Action.DEACTIVATE_USER:
        user = identity_service.set_user_active(
            session, user_id=int(args["user"]), active=False, by=by, now=now
        )
        return {"user": user.id}
    raise AssertionError(f"unknown action {action}")  # pragma: no cover


def get_request(session: Session, request_id: int) -> PowerRequest:
    request = session.get(PowerRequest, request_id)
    if request is None:
        raise NotFound(f"no power request {request_id}")
    return request


def approve(
    session: Session, *, request_id: int, by: int, now: datetime, base_url: str
) -> PowerRequest:
    """The second administrator's approval: the change is made now, checked anew."""
    request = get_request(session, request_id)
    if request.status != PowerStatus.PENDING:
        raise Conflict(f"power request {request_id} is {request.status.value}")
    if request.requested_by_user_id == by:
        raise PermissionDenied("a second administrator, not the one who asked, must approve this")
    request.result = _do(session, request, by=by, now=now, base_url=base_url)
    request.status = PowerStatus.APPROVED
    request.decided_by_user_id = by
    request.decided_at = now
    record.change(
        session,
        EventKind.POWER_APPROVED,
        at=now,
        by=by,
        details={
            "request": request.id,
            "action": request.action,
            "summary": request.summary,
            "asked_by": request.requested_by_user_id,
            **_public(request.payload),
        },
        offices=_offices_of(request),
    )
    return request


def withdraw(session: Session, *, request_id: int, by: int, now: datetime) -> PowerRequest:
    request = get_request(session, request_id)
    if request.status != PowerStatus.PENDING:
        raise Conflict(f"power request {request_id} is {request.status.value}")
    request.status = PowerStatus.WITHDRAWN
    request.decided_by_user_id = by
    request.decided_at = now
    record.change(
        session,
        EventKind.POWER_WITHDRAWN,
        at=now,
        by=by,
        details={"request": request.id, "action": request.action, "summary": request.summary},
        offices=_offices_of(request),
    )
    return request


def _offices_of(request: PowerRequest) -> list[int]:
    office = request.payload.get("office")
    offices = [int(office)] if isinstance(office, int) else []
    for membership in request.payload.get("memberships") or []:
        offices.append(int(membership["office_id"]))
    return sorted(set(offices))


def list_requests(session: Session, *, pending_only: bool = False) -> list[PowerRequest]:
    query = select(PowerRequest).order_by(PowerRequest.id.desc())
    if pending_only:
        query = query.where(PowerRequest.status == PowerStatus.PENDING)
    return list(session.scalars(query.limit(500)))
