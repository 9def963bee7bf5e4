"""The call desk's iCalendar files (RFC 5545): a whole schedule, or one call.

Events are timed in the principal's zone, tentative until confirmed, with the
run as SEQUENCE so that a subscribed calendar takes a re-plan as an update. A
sender office gets its call's file once the call is confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from pouch.calls import problem as core
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls import sheet
from pouch.calls.access import Viewer
from pouch.calls.models import ScheduleRun
from pouch.errors import NotFound


def domain_of(public_url: str) -> str:
    """The host name that makes events' UIDs unique (``pouch.invalid`` when there is none).

    >>> domain_of("https://pouch.example.org:8443/"), domain_of("")
    ('pouch.example.org', 'pouch.invalid')
    """
    return urlsplit(public_url).hostname or "pouch.invalid"


def _ics(
    view: run_service.ScheduleView, calls: Sequence[run_service.CallView], *, domain: str
) -> bytes:
    # As sheet.schedule_calendar, plus STATUS (tentative until confirmed) and the
    # run as SEQUENCE, so that a subscribed calendar takes a re-plan as an update.
    events = []
    for call in calls:
        assignment = core.Assignment(
            call.request.public_id, call.row.start_utc, call.row.end_utc, call.interpreter_ids
        )
        event = sheet.call_event(view.problem, assignment, stamp=view.run.created_at, domain=domain)
        event.add("status", "CONFIRMED" if call.confirmed else "TENTATIVE")
        event.add("sequence", view.run.id)
        events.append(event)
    return sheet.calendar_file(view.problem, events)


def schedule_ical(view: run_service.ScheduleView, *, domain: str) -> bytes:
    """The whole schedule as one iCalendar file (RFC 5545), in the principal's zone."""
    return _ics(view, view.calls, domain=domain)


def call_ical(session: Session, *, public_id: str, viewer: Viewer, domain: str) -> bytes:
    """One call of the latest schedule as an iCalendar file; a sender office gets it
    once the call is confirmed."""
    found = request_service.get_request(session, public_id=public_id, viewer=viewer)
    if found.call is None:
        raise NotFound(f"call request {public_id} has no call in the latest schedule")
    run = session.get(ScheduleRun, found.call.run_id)
    assert run is not None  # the view came from it
    view = run_service.schedule_view(session, run=run)
    call = view.call(public_id)
    if call is None:
        raise NotFound(f"call request {public_id} has no call in the latest schedule")
    return _ics(view, [call], domain=domain)
