"""Who may see and do what at the call desk: pure predicates over the actor.

The one owner of these rules; the API, the pages and the command line all ask
here. Each route's gate is one of the role sets below (``web.deps.Authorize``
and ``AuthorizePage`` check it); what a caller then sees is its ``Viewer``.

- Watch and protocol officers of the operations office manage the desk:
  requests for any leader, the principal's calendar, schedules, confirmations.
- Protocol officers and administrators keep the order of precedence, which the
  desk, auditors and administrators read.
- The desk and auditors read every request, calendar and schedule; the
  principal and staff of a principal's office read that office's schedule and
  calendar; a sender office requests calls for its own leaders and sees the
  requests it made or that concern its leaders, their calls once confirmed.
- Sets checked ``where="any"`` admit a role held in any office: which offices
  count is then the viewer's (``viewer_of``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pouch.calls.models import CallRequest
from pouch.directory.models import Person
from pouch.identity.models import Role
from pouch.identity.service import Actor

#: Watch and protocol officers run the call desk.
MANAGER_ROLES = (Role.WATCH_OFFICER, Role.PROTOCOL_OFFICER)
#: The desk and the auditors read everything the desk holds.
READER_ROLES = (*MANAGER_ROLES, Role.AUDITOR)
#: The principal and staff of a principal's office read its schedule.
PRINCIPAL_ROLES = (Role.PRINCIPAL, Role.PRINCIPAL_STAFF)
#: Who keeps the order of precedence, and who reads it.
PRECEDENCE_EDITOR_ROLES = (Role.PROTOCOL_OFFICER, Role.ADMINISTRATOR)
PRECEDENCE_READER_ROLES = (*READER_ROLES, Role.ADMINISTRATOR)
#: Checked ``where="any"``: who requests calls, reads requests, reads schedules.
REQUESTER_ROLES = (Role.SENDER, *MANAGER_ROLES)
REQUEST_READER_ROLES = (Role.SENDER, *READER_ROLES, *PRINCIPAL_ROLES)
SCHEDULE_READER_ROLES = (*READER_ROLES, *PRINCIPAL_ROLES)


@dataclass(frozen=True)
class Viewer:
    """Whose requests and schedules a caller may see (``viewer_of`` builds it).

    ``desk``: the call desk and the auditors see everything; ``manager``: watch
    and protocol officers enter requests for any leader; a sender office sees
    the requests of its leaders; a principal's office sees its own schedule.
    """

    desk: bool = False
    manager: bool = False
    sender_offices: frozenset[int] = frozenset()
    principal_offices: frozenset[int] = frozenset()

    def sees_schedule(self, office_id: int) -> bool:
        return self.desk or office_id in self.principal_offices

    def sees_request(self, request: CallRequest, leader: Person) -> bool:
        return (
            self.sees_schedule(request.principal_office_id)
            or request.requested_by_office_id in self.sender_offices
            or leader.office_id in self.sender_offices
        )

    def leader_offices(self) -> frozenset[int] | None:
        """The offices whose leaders the viewer requests calls for; None: any leader."""
        return None if self.manager else self.sender_offices


#: The desk itself: the CLI and the demo act as it.
DESK = Viewer(desk=True, manager=True)


def _in_operations(actor: Actor, roles: tuple[Role, ...]) -> bool:
    return any(actor.holds_in_operations(role) for role in roles)


def _anywhere(actor: Actor, roles: tuple[Role, ...]) -> bool:
    return any(actor.holds(role) for role in roles)


def reads_precedence(actor: Actor) -> bool:
    """Reads the order of precedence and its earlier versions."""
    return _in_operations(actor, PRECEDENCE_READER_ROLES)


def requests_calls(actor: Actor) -> bool:
    """May enter call requests (for which leaders: ``Viewer.leader_offices``)."""
    return _anywhere(actor, REQUESTER_ROLES)


def reads_requests(actor: Actor) -> bool:
    """May read call requests (which ones: ``Viewer.sees_request``)."""
    return _anywhere(actor, REQUEST_READER_ROLES)


def reads_schedules(actor: Actor) -> bool:
    """May read schedules and calendars (which offices': ``Viewer.sees_schedule``)."""
    return _anywhere(actor, SCHEDULE_READER_ROLES)


def manages_calls(actor: Actor) -> bool:
    """Enters requests for any leader, sets calendars, runs the scheduler, confirms, cancels."""
    return _in_operations(actor, MANAGER_ROLES)


def edits_precedence(actor: Actor) -> bool:
    """Replaces the order of precedence."""
    return _in_operations(actor, PRECEDENCE_EDITOR_ROLES)


def viewer_of(actor: Actor) -> Viewer:
    """What the actor sees of requests and schedules, from the roles and offices it holds."""
    return Viewer(
        desk=_in_operations(actor, READER_ROLES),
        manager=manages_calls(actor),
        sender_offices=frozenset(actor.offices_with(Role.SENDER)),
        principal_offices=frozenset(
            office for role in PRINCIPAL_ROLES for office in actor.offices_with(role)
        ),
    )
