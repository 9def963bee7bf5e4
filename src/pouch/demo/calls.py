"""The call desk's part of the demo: thirty leaders ask for a call in the coming two weeks.

An order of precedence of the demo's leaders (neighbours and the G7 first),
the President-elect's calendar (New York, 07:00–22:00, a few busy blocks, ten
minutes between calls, five calls a day at most), six interpreters whose pairs
cover every language the calls need but Amharic, and one run of the solver,
deterministic and short, so that the demo opens on a schedule with a few
requests left out, each with its reason. Loading twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.calls import calendar as calendar_service
from pouch.calls import precedence as precedence_service
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls import scheduling as scheduling_service
from pouch.calls.models import CallRequest, PrecedenceVersion, PrincipalCalendar
from pouch.calls.problem import Interpretation, wall_to_utc
from pouch.calls.schemas import (
    BusyBlockIn,
    CalendarIn,
    CallRequestIn,
    HoursIn,
    PrecedenceIn,
    RankIn,
)
from pouch.directory import service as directory_service
from pouch.errors import InvalidInput
from pouch.identity import service as identity_service
from pouch.language import roster as roster_service
from pouch.messages.models import Message

PRINCIPAL_OFFICE = "president-elect"
ZONE = "America/New_York"

#: The order of precedence, by the leaders' offices: tiers in order, then order within.
TIERS: tuple[tuple[str, ...], ...] = (
    (
        "ca-pmo",
        "mx-presidencia",
        "gb-number-10",
        "fr-elysee",
        "de-bundeskanzleramt",
        "jp-kantei",
        "it-chigi",
    ),
    (
        "ua-president",
        "kr-president",
        "au-pmc",
        "in-pmo",
        "pl-kprm",
        "ie-taoiseach",
        "br-planalto",
        "sa-royal-court",
        "tr-cumhurbaskanligi",
        "id-president",
        "nz-dpmc",
    ),
    (
        "za-presidency",
        "ng-statehouse",
        "ke-statehouse",
        "eg-presidency",
        "ar-casa-rosada",
        "vn-government",
        "et-pmo",
        "np-opmcm",
        "ws-pm",
        "ki-beretitenti",
        "xk-president",
        "tw-president",
    ),
)


@dataclass(frozen=True)
class Ask:
    """One leader's request: days from tomorrow (principal's zone), talk time, and the rest."""

    office: str
    first: int
    last: int
    minutes: int
    mode: Interpretation | None = None
    urgency: int = 0
    hours: tuple[time, time] | None = None
    notes: str = ""
    by_sender: str | None = None


# Windows of five days or more always hold working days, whatever the weekday today.
ASKS: tuple[Ask, ...] = (
    Ask("ca-pmo", 0, 4, 30, urgency=1, notes="Trade and the border; congratulations."),
    Ask("mx-presidencia", 0, 4, 30, notes="In Spanish, which the President-elect speaks."),
    Ask("gb-number-10", 0, 4, 20),
    Ask("fr-elysee", 0, 5, 30, by_sender="sender-fr", notes="Asked by the Élysée's office."),
    Ask("de-bundeskanzleramt", 0, 5, 20),
    Ask("jp-kantei", 0, 6, 30, Interpretation.CONSECUTIVE, notes="Alliance and the region."),
    Ask("it-chigi", 1, 6, 20, Interpretation.CONSECUTIVE),
    Ask("ua-president", 0, 4, 30, urgency=2, notes="Security assistance; urgent."),
    Ask(
        "kr-president",
        0,
        5,
        45,
        Interpretation.SIMULTANEOUS,
        notes="Simultaneous, so two Korean interpreters are needed.",
    ),
    Ask("au-pmc", 1, 7, 20),
    Ask("in-pmo", 1, 7, 30),
    Ask("pl-kprm", 1, 6, 20, Interpretation.CONSECUTIVE),
    Ask("ie-taoiseach", 1, 8, 15, by_sender="sender-ie", notes="Linked to the Taoiseach's letter."),
    Ask("br-planalto", 2, 8, 20, Interpretation.CONSECUTIVE),
    Ask("sa-royal-court", 2, 8, 45, Interpretation.SIMULTANEOUS),
    Ask("tr-cumhurbaskanligi", 2, 9, 20, Interpretation.CONSECUTIVE),
    Ask("id-president", 2, 9, 20, Interpretation.CONSECUTIVE),
    Ask("nz-dpmc", 2, 9, 15, hours=(time(9), time(18))),
    Ask("za-presidency", 3, 10, 15),
    Ask("ng-statehouse", 3, 10, 15),
    Ask("ke-statehouse", 3, 10, 15),
    Ask("eg-presidency", 4, 11, 20, Interpretation.CONSECUTIVE),
    Ask("ar-casa-rosada", 4, 11, 15),
    Ask("vn-government", 4, 11, 20, Interpretation.CONSECUTIVE),
    Ask("et-pmo", 4, 12, 20, Interpretation.CONSECUTIVE, notes="Amharic: no interpreter yet."),
    Ask("np-opmcm", 5, 12, 15),
    Ask("ws-pm", 5, 12, 15),
    Ask("ki-beretitenti", 5, 13, 15, hours=(time(7), time(21))),
    Ask("xk-president", 5, 13, 20, Interpretation.CONSECUTIVE),
    Ask("tw-president", 6, 13, 15, Interpretation.CONSECUTIVE),
)

#: (name, pairs, shifts as (from, to) local hours in New York, daily cap in minutes).
INTERPRETERS: tuple[
    tuple[str, tuple[tuple[str, str], ...], tuple[tuple[int, int], ...], int], ...
] = (
    ("Akiko Mori", (("ja", "en"), ("ko", "en")), ((14, 22),), 240),
    ("Rafael Costa", (("pt", "en"), ("it", "en"), ("es", "en")), ((7, 17),), 240),
    ("Yasmin Farouk", (("ar", "en"), ("tr", "en")), ((7, 15),), 240),
    ("Chen Wei", (("zh", "en"), ("vi", "en")), ((15, 22),), 180),
    ("Anna Nowak", (("pl", "en"), ("uk", "en"), ("sr", "en")), ((7, 15),), 240),
    ("Samir Nasser", (("ar", "en"), ("id", "en")), ((7, 11), (18, 22)), 180),
)

#: (day from today, from, to, what) in the principal's zone.
BUSY: tuple[tuple[int, time, time, str], ...] = (
    (1, time(9), time(12), "Transition team: national security"),
    (2, time(13), time(15), "Meeting with the outgoing President"),
    (3, time(18), time(21), "Governors' dinner"),
    (5, time(7), time(13), "Travel"),
    (8, time(10), time(12), "Cabinet interviews"),
)


def load_calls(session: Session, *, now: datetime) -> str:
    """The call desk's demo; returns one sentence for the summary."""
    if session.scalar(select(func.count()).select_from(CallRequest)):
        return "Call desk: already loaded."
    zone = ZoneInfo(ZONE)
    today = now.astimezone(zone).date()
    office = directory_service.get_office_by_slug(session, PRINCIPAL_OFFICE)
    leaders = {
        slug: directory_service.list_people(
            session, office_id=directory_service.get_office_by_slug(session, slug).id
        )[0]
        for tier in TIERS
        for slug in tier
    }
    protocol = identity_service.get_user_by_username(session, "protocol").id
    watch = identity_service.get_user_by_username(session, "watch1").id
    if session.scalar(select(func.count()).select_from(PrecedenceVersion)) == 0:
        precedence_service.set_precedence(
            session,
            data=PrecedenceIn(
                reason="Transition week: neighbours and the G7, then allies and partners",
                ranks=[
                    RankIn(person_id=leaders[slug].id, tier=tier, position=position)
                    for tier, slugs in enumerate(TIERS, start=1)
                    for position, slug in enumerate(slugs, start=1)
                ],
            ),
            author_user_id=protocol,
            now=now,
        )
    if session.get(PrincipalCalendar, office.id) is None:
        calendar_service.set_calendar(
            session,
            office_id=office.id,
            data=CalendarIn(
                time_zone=ZONE,
                window_start=time(7),
                window_end=time(22),
                max_calls_per_day=5,
                buffer_minutes=10,
            ),
        )
        for day, start, end, note in BUSY:
            on = today + timedelta(days=day)
            calendar_service.add_busy_block(
                session,
                office_id=office.id,
                data=BusyBlockIn(
                    start=wall_to_utc(on, start, zone), end=wall_to_utc(on, end, zone), note=note
                ),
            )
    for name, pairs, shifts, cap in INTERPRETERS:
        email = f"{name.split()[0].lower()}@interpreters.demo.pouch.invalid"
        # The language desk's demo puts its own interpreters on the same roster.
        if roster_service.find_by_email(session, email) is None:
            roster_service.create_interpreter(
                session,
                entry=roster_service.RosterEntry(
                    name=name,
                    email=email,
                    user_id=None,
                    language_pairs=pairs,
                    availability=_shifts(today, zone, shifts),
                    max_minutes_per_day=cap,
                    time_zone=None,
                    active=True,
                ),
            )
    refused = []
    first_day = today + timedelta(days=1)
    for ask in ASKS:
        leader = leaders[ask.office]
        sender = None
        if ask.by_sender is not None:
            sender = identity_service.get_user_by_username(session, ask.by_sender).id
        try:
            request_service.create_request(
                session,
                data=CallRequestIn(
                    leader_id=leader.id,
                    principal_office_id=office.id,
                    earliest_date=first_day + timedelta(days=ask.first),
                    latest_date=first_day + timedelta(days=ask.last),
                    talk_minutes=ask.minutes,
                    interpretation=ask.mode,
                    urgency=ask.urgency,
                    notes=ask.notes,
                    leader_hours=HoursIn(start=ask.hours[0], end=ask.hours[1])
                    if ask.hours
                    else None,
                    message_id=_first_letter(session, leader.office_id) if ask.by_sender else None,
                ),
                sender_offices=None if sender is None else frozenset({leader.office_id or 0}),
                entered_by_user_id=sender if sender is not None else watch,
                now=now,
            )
        except InvalidInput as error:
            # A date's holidays can close a whole window; say so rather than fail the demo.
            refused.append(f"{leader.name}: {error.detail}")
    run = scheduling_service.run_schedule(
        session,
        office_id=office.id,
        method="solver",
        time_limit_s=1.0,
        seed=0,
        by_user_id=watch,
        now=now,
    )
    view = run_service.schedule_view(session, run=run)
    # The first two calls are confirmed, to show both kinds on the sheet and in calendars.
    for call in view.calls[:2]:
        request_service.confirm_call(
            session, public_id=call.request.public_id, by_user_id=watch, now=now
        )
    requested = len(ASKS) - len(refused)
    summary = (
        f"Call desk: {requested} call requests, {len(INTERPRETERS)} interpreters added; "
        f"scheduled {len(view.calls)} calls, {len(view.left_out)} left out with reasons"
    )
    if refused:
        summary += f"; refused: {'; '.join(refused)}"
    return summary + "."


def _shifts(
    today: date, zone: ZoneInfo, shifts: tuple[tuple[int, int], ...]
) -> list[roster_service.Window]:
    """Every day of the next three weeks, the same local hours."""
    return [
        roster_service.Window(
            start=wall_to_utc(today + timedelta(days=day), time(opens), zone),
            end=wall_to_utc(today + timedelta(days=day), time(closes), zone),
        )
        for day in range(21)
        for opens, closes in shifts
    ]


def _first_letter(session: Session, office_id: int | None) -> str | None:
    return session.scalar(
        select(Message.public_id)
        .where(Message.sender_office_id == office_id)
        .order_by(Message.accepted_at)
        .limit(1)
    )
