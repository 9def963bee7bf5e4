"""Who sees a call's run and papers, and who may act on them: pure predicates.

- The call desk (watch and protocol officers of the operations office) and the
  auditors see every call's record, briefing, packets and memcon; the principal
  and staff of the principal's office see their office's; a participant
  (interpreter, notetaker, clearing officer designated for the call) sees that call's.
- A sender office sees none of it, ever: not the memcon, not the packet, not the
  steps (its own request's state stays on the call desk's pages).
- The desk moves the call, sets its logistics and designates participants; the
  desk and the principal's staff write the briefing; notetakers write the memcon;
  the designated clearing officer clears or returns either, never a version they
  wrote themselves; interpreters and notetakers check themselves in.
"""

from __future__ import annotations

from collections.abc import Iterable

from pouch.briefings.states import ParticipantKind
from pouch.calls import access as calls_access
from pouch.identity.models import Role
from pouch.identity.service import Actor

#: Gates (checked where="any"): which of a caller's calls count, the predicates say.
READER_ROLES = (*calls_access.READER_ROLES, *calls_access.PRINCIPAL_ROLES, Role.INTERPRETER)
PARTICIPANT_ROLES = (*calls_access.MANAGER_ROLES, Role.PRINCIPAL_STAFF, Role.INTERPRETER)
BRIEFING_WRITER_ROLES = (*calls_access.MANAGER_ROLES, Role.PRINCIPAL_STAFF)
#: Who may be designated for a call (held in the operations office or the principal's).
DESIGNABLE_ROLES = PARTICIPANT_ROLES

Participants = Iterable[tuple[int, ParticipantKind]]


def _desk(actor: Actor) -> bool:
    return any(actor.holds_in_operations(role) for role in calls_access.READER_ROLES)


def _principal_office(actor: Actor, office_id: int) -> bool:
    return any(actor.holds(role, office_id) for role in calls_access.PRINCIPAL_ROLES)


def _is(actor: Actor, participants: Participants, *kinds: ParticipantKind) -> bool:
    return any(user == actor.user_id and kind in kinds for user, kind in participants)


def sees_call(actor: Actor, *, principal_office_id: int, participants: Participants) -> bool:
    """Sees the call's record, briefing, packets and memcon."""
    return (
        _desk(actor)
        or _principal_office(actor, principal_office_id)
        or _is(actor, participants, *ParticipantKind)
    )


def runs_calls(actor: Actor) -> bool:
    """Moves calls, sets their logistics, designates participants."""
    return calls_access.manages_calls(actor)


def writes_briefing(actor: Actor, *, principal_office_id: int) -> bool:
    return runs_calls(actor) or actor.holds(Role.PRINCIPAL_STAFF, principal_office_id)


def takes_notes(actor: Actor, participants: Participants) -> bool:
    return _is(actor, participants, ParticipantKind.NOTETAKER)


def clears(actor: Actor, participants: Participants) -> bool:
    return _is(actor, participants, ParticipantKind.CLEARING)


def checks_in_as(actor: Actor, participants: Participants) -> list[ParticipantKind]:
    """The kinds the actor checks in as for this call (interpreter, notetaker)."""
    return [
        kind
        for user, kind in participants
        if user == actor.user_id and kind != ParticipantKind.CLEARING
    ]
