"""A small call desk built through the real services: a principal, leaders, an interpreter.

The test clock stands at Thursday 5 November 2026, 14:00 UTC (09:00 in New
York); the requests ask for the next week, Monday 9 to Friday 13 November.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pouch.calls import requests as request_service
from pouch.calls.models import CallRequest
from pouch.calls.problem import wall_to_utc
from pouch.calls.schemas import CallRequestIn
from pouch.clock import Clock
from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind, Person
from pouch.directory.schemas import PersonIn
from pouch.language import roster as roster_service
from pouch.language.models import Interpreter
from tests.factories import make_office

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2026, 11, 9)
FRIDAY = date(2026, 11, 13)

#: key: (office slug, country, leader's name, languages, explicit zone or None)
LEADERS: dict[str, tuple[str, str, str, list[str], str | None]] = {
    "ie": ("ie-taoiseach", "IE", "Ciarán Ó Dálaigh", ["en", "ga"], None),
    "fr": ("fr-elysee", "FR", "Hélène Marchand", ["fr", "en"], None),
    "jp": ("jp-kantei", "JP", "Hiroshi Tanabe", ["ja"], None),
    "et": ("et-pmo", "ET", "Dawit Tesfaye", ["am"], None),
    "np": ("np-opmcm", "NP", "Sushila Adhikari", ["ne", "en"], None),
    "au": ("au-pmc", "AU", "Rebecca Lawson", ["en"], "Australia/Perth"),
}


@dataclass
class Desk:
    principal: Office
    offices: dict[str, Office] = field(default_factory=dict)
    leaders: dict[str, Person] = field(default_factory=dict)
    interpreter: Interpreter | None = None


def build_desk(
    session: Session, clock: Clock, *, existing: dict[str, Office] | None = None
) -> Desk:
    """The principal's office and person, six leaders, a Japanese interpreter."""
    offices = dict(existing or {})
    if "president-elect" not in offices:
        offices["president-elect"] = make_office(
            session, clock, "president-elect", OfficeKind.PRINCIPAL, "US"
        )
    desk = Desk(principal=offices["president-elect"], offices=offices)
    directory_service.create_person(
        session,
        data=PersonIn(
            name="Jordan Avery",
            title="President-elect",
            form_of_address="Mr. President-elect",
            country_code="US",
            languages=["en"],
            time_zone="America/New_York",
            office_id=desk.principal.id,
        ),
        now=clock.now(),
    )
    for key, (slug, country, name, languages, zone) in LEADERS.items():
        if slug not in offices:
            offices[slug] = make_office(session, clock, slug, OfficeKind.FOREIGN, country)
        desk.offices[key] = offices[slug]
        desk.leaders[key] = directory_service.create_person(
            session,
            data=PersonIn(
                name=name,
                title="Leader",
                form_of_address="Excellency",
                country_code=country,
                languages=languages,
                time_zone=zone,
                office_id=offices[slug].id,
            ),
            now=clock.now(),
        )
    desk.interpreter = roster_service.create_interpreter(
        session,
        entry=roster_service.RosterEntry(
            name="Akiko Mori",
            email="akiko@example.org",
            user_id=None,
            language_pairs=[("ja", "en")],
            availability=[
                roster_service.Window(
                    start=wall_to_utc(MONDAY + timedelta(days=d), time(7), NEW_YORK),
                    end=wall_to_utc(MONDAY + timedelta(days=d), time(22), NEW_YORK),
                )
                for d in range(-4, 10)
            ],
            max_minutes_per_day=240,
            time_zone=None,
            active=True,
        ),
    )
    session.flush()
    return desk


def request_body(desk: Desk, key: str, **changes: Any) -> dict[str, Any]:
    """A valid request for the next week, as JSON."""
    body: dict[str, Any] = {
        "leader_id": desk.leaders[key].id,
        "earliest_date": MONDAY.isoformat(),
        "latest_date": FRIDAY.isoformat(),
        "talk_minutes": 30,
    }
    body.update(changes)
    return body


def request(session: Session, desk: Desk, key: str, clock: Clock, **changes: Any) -> CallRequest:
    """A request entered by the call desk."""
    return request_service.create_request(
        session,
        data=CallRequestIn.model_validate(request_body(desk, key, **changes)),
        sender_offices=None,
        entered_by_user_id=None,
        now=clock.now(),
    )
