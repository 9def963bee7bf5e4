"""Who may see and do what at the call desk: pure predicates over the actor.

The one owner of these rules; the API, the pages and the command line all ask
here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pouch.calls.models import CallRequest
from pouch.directory.models import Person


@dataclass(frozen=True)
class Viewer:
    """Whose requests and schedules a caller may see; the API builds it from the roles.

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


#: The desk itself: the CLI and the demo act as it.
DESK = Viewer(desk=True, manager=True)
