"""The call desk's test helpers: a small desk built through the real services, and
random problems for property tests of the pure core.

The desk is a principal, leaders and an interpreter. The test clock stands at
Thursday 5 November 2026, 14:00 UTC (09:00 in New York); the requests ask for
the next week, Monday 9 to Friday 13 November.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pouch.calls import problem as core
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


# --- random problems, for property tests of the pure core -----------------------------

# (country, zone, languages): odd offsets, the date line, Friday weekends, DST both ways.
RANDOM_LEADERS = [
    ("IN", "Asia/Kolkata", ("hi", "en")),
    ("NP", "Asia/Kathmandu", ("ne",)),
    ("KI", "Pacific/Kiritimati", ("en",)),
    ("AS", "Pacific/Pago_Pago", ("en", "sm")),
    ("SA", "Asia/Riyadh", ("ar",)),
    ("IL", "Asia/Jerusalem", ("he",)),
    ("DE", "Europe/Berlin", ("de",)),
    ("AU", "Australia/Perth", ("en",)),
    ("AU", "Australia/Sydney", ("en",)),
    ("CL", "America/Santiago", ("es",)),
    ("US", "America/Los_Angeles", ("en",)),
]
RANDOM_PRINCIPAL_ZONES = [
    "America/New_York",
    "Europe/London",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
]
RANDOM_LANGUAGES = ["hi", "ne", "ar", "he", "de", "es", "sm"]
# Around the US (9 March) and EU (30 March) changes, and the southern one (6 April).
RANDOM_FIRST_DAYS = [date(2025, 3, 7), date(2025, 3, 28), date(2025, 4, 4), date(2025, 6, 2)]


@st.composite
def local_hours(
    draw: st.DrawFn, *, latest_opening: int, shortest: int, longest: int
) -> core.LocalHours:
    """Daily hours opening by ``latest_opening`` o'clock, lasting so many hours."""
    opens = 5 * draw(st.integers(0, latest_opening * 12))
    closes = opens + 5 * draw(st.integers(shortest * 12, longest * 12))
    return core.LocalHours(time(opens // 60, opens % 60), time(closes // 60, closes % 60))


@st.composite
def problems(draw: st.DrawFn) -> core.Problem:
    """Small problems across odd zones, DST changes and weekends, for property tests."""
    first_day = draw(st.sampled_from(RANDOM_FIRST_DAYS))
    start = datetime.combine(first_day, time(0), tzinfo=UTC) - timedelta(days=1)

    def moment(low_hours: int = 0, high_hours: int = 5 * 24) -> datetime:
        return start + timedelta(minutes=5 * draw(st.integers(low_hours * 12, high_hours * 12)))

    busy = []
    for _ in range(draw(st.integers(0, 4))):
        begins = moment()
        busy.append(core.TimeWindow(begins, begins + timedelta(minutes=draw(st.integers(5, 240)))))
    principal = core.Principal(
        time_zone=draw(st.sampled_from(RANDOM_PRINCIPAL_ZONES)),
        daily_window=draw(local_hours(latest_opening=8, shortest=10, longest=15)),
        busy=tuple(busy),
        max_calls_per_day=draw(st.none() | st.integers(1, 4)),
        buffer_minutes=draw(st.sampled_from([0, 5, 10, 15])),
    )
    requests = []
    for number in range(draw(st.integers(1, 6))):
        country, zone, languages = draw(st.sampled_from(RANDOM_LEADERS))
        mode = (
            core.Interpretation.NONE
            if "en" in languages
            else draw(
                st.sampled_from([core.Interpretation.CONSECUTIVE, core.Interpretation.SIMULTANEOUS])
            )
        )
        earliest = first_day + timedelta(days=draw(st.integers(0, 2)))
        requests.append(
            core.CallRequest(
                id=f"r{number}",
                leader_name=f"Leader {number}",
                leader_country=country,
                leader_time_zone=zone,
                leader_languages=languages,
                earliest_date=earliest,
                latest_date=earliest + timedelta(days=draw(st.integers(0, 2))),
                talk_minutes=draw(st.sampled_from([10, 15, 30, 45, 60, 90])),
                precedence_tier=draw(st.integers(1, 2)),
                precedence_position=draw(st.integers(0, 3)),
                urgency=draw(st.integers(0, 2)),
                arrived_at=start - timedelta(hours=number),
                principal_languages=("en",),
                interpretation=mode,
                leader_hours=draw(local_hours(latest_opening=11, shortest=3, longest=12)),
            )
        )
    interpreters = []
    for number in range(draw(st.integers(1, 4))):
        windows = []
        for _ in range(draw(st.integers(0, 3))):
            begins = moment()
            windows.append(
                core.TimeWindow(begins, begins + timedelta(hours=draw(st.integers(6, 72))))
            )
        interpreters.append(
            core.Interpreter(
                id=f"i{number}",
                name=f"core.Interpreter {number}",
                language_pairs=tuple(
                    (code, "en")
                    for code in draw(
                        st.sets(st.sampled_from(RANDOM_LANGUAGES), min_size=2, max_size=5)
                    )
                ),
                availability=tuple(windows),
                max_minutes_per_day=draw(st.none() | st.sampled_from([60, 120, 240])),
                time_zone=draw(st.none() | st.sampled_from(["UTC", "Asia/Tokyo"])),
            )
        )
    return core.Problem(
        principal=principal, requests=tuple(requests), interpreters=tuple(interpreters)
    )
