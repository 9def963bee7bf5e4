"""What a briefing packet says, gathered from the desk, the directory and the mail.

``gather`` returns plain JSON (kept with each issued packet, so a packet reads
later as it was issued); ``printable`` turns it into the rows the PDF template
places. Local times come from ``zoneinfo``; the leader's weekend and holidays from
the ``holidays`` package, as the scheduler reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pouch.briefings.models import CallRecord, Paper, PaperVersion
from pouch.briefings.progress import CallContext
from pouch.briefings.states import Clearance, ParticipantKind, too_many_points
from pouch.calls import calendar as calendar_service
from pouch.calls import parties as party_service
from pouch.calls import runs as run_service
from pouch.calls.models import CallRequest
from pouch.identity.models import User
from pouch.messages.models import Message

#: The most messages a packet lists; it says how many earlier ones there are.
MAX_MESSAGES = 25
#: The most earlier calls a packet lists.
MAX_CALLS = 10


def _when(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A %d %B %Y, %H:%M} {local.tzname()} ({zone})"


def day_off(country: str, moment: datetime, zone: str) -> str | None:
    """Whether the leader's local day of ``moment`` is a weekend or a holiday there.

    >>> from datetime import UTC
    >>> day_off("IE", datetime(2026, 12, 25, 15, tzinfo=UTC), "Europe/Dublin")
    'holiday: Christmas Day'
    >>> day_off("SA", datetime(2026, 11, 13, 9, tzinfo=UTC), "Asia/Riyadh")
    'weekend'
    >>> day_off("FR", datetime(2026, 11, 10, 9, tzinfo=UTC), "Europe/Paris") is None
    True
    """
    day = moment.astimezone(ZoneInfo(zone)).date()
    try:
        calendar = holidays.country_holidays(country, years=day.year)
    except NotImplementedError:
        return None  # a country the package does not know: nothing to say
    name = calendar.get(day)
    if name:
        return f"holiday: {name}"
    if day.weekday() in calendar.weekend:
        return "weekend"
    return None


def _names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def _latest(
    session: Session, record: CallRecord | None, kind: str
) -> tuple[Paper | None, PaperVersion | None]:
    if record is None:
        return None, None
    paper = session.scalar(select(Paper).where(Paper.record_id == record.id, Paper.kind == kind))
    if paper is None or not paper.versions:
        return paper, None
    return paper, paper.versions[-1]


def gather(
    session: Session, context: CallContext, *, max_points: int, issued_at: datetime | None
) -> dict[str, Any]:
    """The packet of the call as it stands: the leader, logistics, talking points and
    background (the briefing's latest version), last contacts."""
    request, leader, record = context.request, context.leader, context.record
    office = party_service.principal_office(session, request.principal_office_id)
    principal_zone = calendar_service.calendar_of(session, office).time_zone
    leader_zone = leader.time_zone
    participants = list(record.participants) if record is not None else []
    names = _names(session, [p.user_id for p in participants])

    def by_kind(kind: ParticipantKind) -> list[str]:
        return [
            names.get(p.user_id, f"user {p.user_id}")
            + (" (checked in)" if p.checked_in_at is not None else "")
            for p in participants
            if p.kind == kind
        ]

    slot = context.slot
    booked: list[str] = []
    if slot is not None:
        run = run_service.latest_run(session, request.principal_office_id)
        roster = run_service.interpreter_names(run) if run is not None else {}
        booked = [roster.get(i, i) for i in slot.interpreter_ids]
    paper, version = _latest(session, record, "briefing")
    briefing = version.content if version is not None else {}
    points = [str(p) for p in briefing.get("talking_points", [])]
    leader_office = leader.office_id
    messages: list[dict[str, Any]] = []
    more = 0
    if leader_office is not None:
        between = or_(
            and_(
                Message.sender_office_id == leader_office,
                Message.addressee_office_id == office.id,
            ),
            and_(
                Message.sender_office_id == office.id,
                Message.addressee_office_id == leader_office,
            ),
        )
        rows = session.scalars(
            select(Message).where(between).order_by(Message.accepted_at.desc(), Message.id.desc())
        ).all()
        more = max(0, len(rows) - MAX_MESSAGES)
        messages = [
            {
                "id": m.public_id,
                "date": m.accepted_at.date().isoformat(),
                "direction": "from them" if m.sender_office_id == leader_office else "to them",
                "subject": m.subject,
                "state": m.state.value,
                "link": f"/inbox/{m.public_id}",
            }
            for m in rows[:MAX_MESSAGES]
        ]
    calls: list[dict[str, Any]] = []
    earlier = session.execute(
        select(CallRequest, CallRecord)
        .join(CallRecord, CallRecord.request_id == CallRequest.id)
        .where(CallRequest.person_id == leader.id, CallRequest.id != request.id)
        .order_by(CallRequest.id.desc())
        .limit(MAX_CALLS)
    ).all()
    for other, other_record in earlier:
        memcon, memcon_version = _latest(session, other_record, "memcon")
        filed = memcon is not None and memcon.clearance == Clearance.CLEARED
        summary = ""
        if filed and memcon_version is not None:
            summary = str(memcon_version.content.get("summary", ""))
        last_step = other_record.steps[-1].at if other_record.steps else other.created_at
        calls.append(
            {
                "id": other.public_id,
                "date": last_step.date().isoformat(),
                "state": other_record.state.value,
                "summary": summary or ("no memcon filed" if not filed else ""),
            }
        )
    return {
        "call": request.public_id,
        "issued_at": issued_at.isoformat() if issued_at is not None else None,
        "leader": {
            "name": leader.name,
            "title": leader.title,
            "form_of_address": leader.form_of_address,
            "pronunciation": str(briefing.get("pronunciation", "")),
            "languages": list(leader.languages),
            "country": leader.country_code,
            "time_zone": leader_zone,
            "local_time": _when(slot.start, leader_zone) if slot is not None else None,
            "day_off": day_off(leader.country_code, slot.start, leader_zone)
            if slot is not None
            else None,
        },
        "logistics": {
            "state": context.state.value if context.state is not None else request.status.value,
            "mode": record.mode.value if record is not None else "phone",
            "placed_by": record.placed_by if record is not None else "us",
            "start_utc": slot.start.isoformat() if slot is not None else None,
            "minutes": request.talk_minutes,
            "principal_time": _when(slot.start, principal_zone) if slot is not None else None,
            "principal_time_zone": principal_zone,
            "interpretation": request.interpretation,
            "interpreters_booked": booked,
            "interpreters": by_kind(ParticipantKind.INTERPRETER),
            "notetakers": by_kind(ParticipantKind.NOTETAKER),
            "clearing_officers": by_kind(ParticipantKind.CLEARING),
        },
        "talking_points": points,
        "flag": too_many_points(len(points), max_points),
        "background": str(briefing.get("background", "")),
        "briefing_version": version.number if version is not None else None,
        "clearance": paper.clearance.value if paper is not None else "none",
        "messages": messages,
        "messages_more": more,
        "calls": calls,
    }


def printable(content: dict[str, Any]) -> dict[str, Any]:
    """The rows and paragraphs the PDF template places, all plain strings."""
    leader, logistics = content["leader"], content["logistics"]
    address = leader["form_of_address"]
    if leader["pronunciation"]:
        address += f" (say: {leader['pronunciation']})"
    placed = "the operations center" if logistics["placed_by"] == "us" else "the leader's office"
    interpreters = logistics["interpreters"] or logistics["interpreters_booked"]
    final = content["issued_at"] is not None
    more = content["messages_more"]
    return {
        "call": content["call"],
        "title": f"Call with {leader['name']}",
        "banner": (
            f"BRIEFING PACKET · cleared, issued {content['issued_at']}"
            if final
            else "DRAFT · not cleared: not for the principal yet"
        ),
        "footer": f"Pouch · {content['call']} · briefing version {content['briefing_version']}",
        "leader": [
            ["Name", leader["name"]],
            ["Title", leader["title"]],
            ["Form of address", address],
            ["Languages", ", ".join(leader["languages"])],
            ["Country", leader["country"]],
            ["Local time there", leader["local_time"] or "not scheduled"],
            ["Weekend or holiday there", leader["day_off"] or "no"],
        ],
        "logistics": [
            ["Mode", logistics["mode"]],
            ["Who places the call", placed],
            ["Principal's time", logistics["principal_time"] or "not scheduled"],
            ["UTC", logistics["start_utc"] or "not scheduled"],
            ["Length", f"{logistics['minutes']} min of talk"],
            ["Time zones", f"{logistics['principal_time_zone']} / {leader['time_zone']}"],
            ["Interpretation", logistics["interpretation"]],
            ["Interpreters", ", ".join(interpreters) or "none"],
            ["Notetakers", ", ".join(logistics["notetakers"]) or "none designated"],
        ],
        "talking_points": content["talking_points"] or ["(none written)"],
        "flag": content["flag"],
        "background": [p for p in content["background"].split("\n\n") if p.strip()],
        "messages": content["messages"],
        "messages_more": f"And {more} earlier messages." if more else "",
        "calls": content["calls"],
    }
