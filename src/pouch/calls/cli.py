"""``pouch calls``: the call desk from the command line.

Each command acts as the person logged in (``pouch login``), through the HTTP
API under ``/api/calls``, which applies that person's rights and logs that
person's name; none opens the database.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from pouch.cli_client import Api, AsJson, CliProblem, officer, print_json, utc
from pouch.cli_common import console, read_text, sub_app

calls_app = sub_app(
    "The call desk: requests, the order of precedence, schedules, call sheets, calendars."
)
precedence_app = sub_app("The order of precedence the schedules follow.")
calls_app.add_typer(precedence_app, name="precedence")
OfficeSlug = Annotated[
    str | None,
    typer.Option("--office", help="The principal's office (slug); the only one when omitted."),
]
CallId = Annotated[str, typer.Argument(help="The call request's id.")]

#: The API's names of a call request's fields, as the options name them.
REQUEST_FLAGS = {
    "body.leader_id": "--leader",
    "body.principal_office_id": "--office",
    "body.earliest_date": "--from",
    "body.latest_date": "--to",
    "body.talk_minutes": "--minutes",
    "body.languages": "--languages",
    "body.interpretation": "--interpretation",
    "body.urgency": "--urgency",
    "body.notes": "--notes",
    "body.leader_hours": "--leader-hours",
    "body.leader_hours.start": "--leader-hours",
    "body.leader_hours.end": "--leader-hours",
    "body.leader_busy": "--leader-busy",
    "leader_busy": "--leader-busy",
    "body.dates_in_leader_zone": "--leader-dates",
    "body.message_id": "--message",
}


def _parse_date(value: str, hint: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2026-11-09", param_hint=hint
        ) from None


def _office_id(api: Api, slug: str | None) -> int | None:
    """The office's id for its slug; None leaves the choice of the only principal's office
    to the server."""
    if slug is None:
        return None
    for office in api.get("/api/offices"):
        if office["slug"] == slug:
            return int(office["id"])
    raise CliProblem(f"--office: no office {slug!r}")


def _leader_id(api: Api, key: str) -> tuple[int, str]:
    """A person by id, or by exact name (case apart), as the directory lists them."""
    people = api.get("/api/people")
    if key.strip().isdigit():
        for person in people:
            if person["id"] == int(key):
                return int(person["id"]), str(person["name"])
        raise CliProblem(f"--leader: no person with id {key.strip()}")
    wanted = unicodedata.normalize("NFC", key.strip()).casefold()
    matches = [p for p in people if unicodedata.normalize("NFC", p["name"]).casefold() == wanted]
    if not matches:
        raise CliProblem(f"--leader: no person named {key!r}")
    if len(matches) > 1:
        ids = ", ".join(str(p["id"]) for p in matches)
        raise CliProblem(f"--leader: several people are named {key!r} (ids {ids}): give the id")
    return int(matches[0]["id"]), str(matches[0]["name"])


def _print_schedule(view: dict[str, Any]) -> None:
    from pouch.calls.problem import Interpretation
    from pouch.calls.sheet import CALL_SHEET_COLUMNS, CallSheetRow

    run = view["run"]
    gap = f", gap {run['gap']:.1%}" if run["gap"] is not None else ""
    principal_zone = ZoneInfo(view["principal_time_zone"])
    console.print(
        f"schedule run {run['run_id']} ({run['method']}, {run['status']}{gap}, "
        f"{run['wall_time_s']:.1f} s): {len(view['calls'])} calls, {len(view['left_out'])} "
        f"left out; weighted score {run['weighted_score']}, precedence inversions "
        f"{run['inversions']}, confirmed calls moved {run['moves']}; times in UTC, the "
        f"principal's ({view['principal_time_zone']}) and the leader's"
    )
    table = Table("call", *CALL_SHEET_COLUMNS, "status", title="Call sheet")
    for call in view["calls"]:
        start = utc(call["start"])
        row = CallSheetRow(
            request_id=call["request_id"],
            leader_name=call["leader_name"],
            start_utc=start,
            end_utc=utc(call["end"]),
            principal_local=start.astimezone(principal_zone),
            leader_local=start.astimezone(ZoneInfo(call["leader_time_zone"])),
            interpreters=tuple(call["interpreters"]),
            mode=Interpretation(call["mode"]),
        )
        status = "confirmed" if call["confirmed"] else "to confirm"
        table.add_row(call["request_id"], *row.cells(), status)
    console.print(table)
    if view["left_out"]:
        left = Table("call", "leader", "reason", "why", title="Left out")
        for out in view["left_out"]:
            left.add_row(out["request_id"], out["leader_name"], out["reason"], out["detail"] or "")
        console.print(left)


@calls_app.command(
    "request",
    epilog=(
        "Example: pouch calls request --leader 'Hiroshi Tanabe' --from 2026-11-09 "
        "--to 2026-11-13 --minutes 30 --interpretation consecutive"
    ),
)
def calls_request(
    leader: Annotated[str, typer.Option(help="The leader: a person's id or exact name.")],
    from_date: Annotated[str, typer.Option("--from", help="First day (principal's zone).")],
    to_date: Annotated[str, typer.Option("--to", help="Last day (principal's zone).")],
    minutes: Annotated[int, typer.Option(help="Talk time, before interpretation.")],
    interpretation: Annotated[
        str | None,
        typer.Option(help="none, consecutive or simultaneous (default: as the languages need)."),
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(help="The leader's languages, comma-separated (default: as listed)."),
    ] = None,
    leader_hours: Annotated[
        str | None, typer.Option(help="The leader's reasonable hours, e.g. 09:00-18:00.")
    ] = None,
    urgency: Annotated[int, typer.Option(min=0, max=10, help="Higher is more urgent.")] = 0,
    leader_busy: Annotated[
        list[str] | None,
        typer.Option(help="START/END the leader cannot take it (ISO 8601); repeat for more."),
    ] = None,
    leader_dates: Annotated[
        bool, typer.Option(help="--from and --to are the leader's dates, not the principal's.")
    ] = False,
    message: Annotated[str | None, typer.Option(help="A related message's id.")] = None,
    notes: Annotated[str, typer.Option(help="Anything the desk should know.")] = "",
    office: OfficeSlug = None,
) -> None:
    """Enter a call request for a leader, as the call desk."""
    from pouch.calls.calendar_cli import span_of

    hours = None
    if leader_hours is not None:
        start, sep, end = leader_hours.partition("-")
        if not sep:
            raise typer.BadParameter("give hours as HH:MM-HH:MM", param_hint="--leader-hours")
        hours = {"start": start.strip(), "end": end.strip()}
    earliest = _parse_date(from_date, "--from")
    latest = _parse_date(to_date, "--to")
    with officer(REQUEST_FLAGS) as api:
        leader_id, _ = _leader_id(api, leader)
        body = {
            "leader_id": leader_id,
            "principal_office_id": _office_id(api, office),
            "earliest_date": earliest.isoformat(),
            "latest_date": latest.isoformat(),
            "talk_minutes": minutes,
            "languages": languages.split(",") if languages else None,
            "interpretation": interpretation or None,
            "urgency": urgency,
            "notes": notes,
            "leader_hours": hours,
            "leader_busy": [
                dict(zip(("start", "end"), span_of(value, "--leader-busy"), strict=True))
                for value in leader_busy or []
            ],
            "dates_in_leader_zone": leader_dates,
            "message_id": message,
        }
        request = api.post("/api/calls/requests", body)
    console.print(
        f"requested {request['id']}: {request['leader_name']}, {request['earliest_date']} to "
        f"{request['latest_date']}, {request['talk_minutes']} min ({request['interpretation']})"
    )
    if request["notice"]:
        console.print(f"note: {request['notice']}")


@calls_app.command("requests", epilog="Example: pouch calls requests --status unscheduled")
def calls_requests(
    status: Annotated[
        str | None,
        typer.Option(help="Only requests in this state: requested, scheduled, confirmed, …"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """List call requests with their place in the latest schedule, or why they were left out."""
    table = Table("call", "leader", "window", "minutes", "mode", "status", "when (UTC) or why")
    with officer({"query.status": "--status"}) as api:
        requests = api.get("/api/calls/requests", status=status or None)
    if as_json:
        print_json(requests)
        return
    for request in requests:
        when = ""
        if request["call"] is not None:
            when = f"{utc(request['call']['start']):%Y-%m-%d %H:%M}"
        elif request["left_out"] is not None:
            when = f"{request['left_out']['reason']}: {request['left_out']['detail']}"
        table.add_row(
            request["id"],
            request["leader_name"],
            f"{request['earliest_date']} to {request['latest_date']}",
            str(request["talk_minutes"]),
            request["interpretation"],
            request["status"],
            when,
        )
    console.print(table)


@calls_app.command("confirm", epilog="Example: pouch calls confirm c-0123456789abcdef0123")
def calls_confirm(call: CallId) -> None:
    """Confirm a call at its time in the latest schedule; re-planning keeps it there if it can."""
    with officer() as api:
        api.post(f"/api/calls/requests/{call}/confirm")
    console.print(f"{call} confirmed")


@calls_app.command(
    "cancel", epilog="Example: pouch calls cancel c-0123456789abcdef0123 --reason 'Withdrawn'"
)
def calls_cancel(call: CallId, reason: Annotated[str, typer.Option(help="Why; logged.")]) -> None:
    """Cancel a call request; its call leaves the call sheet and the calendars."""
    with officer({"body.reason": "--reason"}) as api:
        api.post(f"/api/calls/requests/{call}/cancel", {"reason": reason})
    console.print(f"{call} cancelled")


@precedence_app.command("show", epilog="Example: pouch calls precedence show --output ranking.yaml")
def calls_precedence_show(
    version: Annotated[int | None, typer.Option(help="An earlier version's number.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write it as YAML for 'precedence set' instead.")
    ] = None,
) -> None:
    """Show the order of precedence: tiers, and leaders in order within each."""
    with officer({"query.version": "--version"}) as api:
        if output is not None:
            text = api.send("GET", "/api/calls/precedence/text", params={"version": version}).text
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}")
            return
        view = api.get("/api/calls/precedence", version=version)
    console.print(
        f"version {view['number']} of {utc(view['created_at']):%Y-%m-%d %H:%M} UTC: "
        f"{view['reason']}"
    )
    table = Table("tier", "position", "person", "leader", "country")
    for rank in view["ranks"]:
        table.add_row(
            str(rank["tier"]),
            str(rank["position"]),
            str(rank["person_id"]),
            rank["name"],
            rank["country_code"],
        )
    console.print(table)


@precedence_app.command(
    "set",
    epilog="Example: pouch calls precedence set ranking.yaml --reason 'After the summit'",
)
def calls_precedence_set(
    source: Annotated[
        Path,
        typer.Argument(
            help="YAML ('tiers:' lists of leaders in order) or CSV (person,tier,position); "
            "a leader is a person's id or exact name."
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why the order changes; logged.")],
) -> None:
    """Replace the order of precedence with a new version (protocol officers, administrators)."""
    text = read_text(source)
    kind = "csv" if source.suffix.lower() == ".csv" else "yaml"
    flags = {"body.reason": "--reason", "body.text": str(source), "file": str(source)}
    with officer(flags) as api:
        view = api.put(
            "/api/calls/precedence/text", {"reason": reason, "format": kind, "text": text}
        )
    console.print(
        f"order of precedence version {view['number']}: {len(view['ranks'])} leaders "
        f"(log index {view['ledger_index']})"
    )


@calls_app.command("schedule", epilog="Example: pouch calls schedule --time-limit 10 --seed 1")
def calls_schedule(
    method: Annotated[
        str, typer.Option(help="solver (CP-SAT) or greedy (the baseline).")
    ] = "solver",
    time_limit: Annotated[
        float, typer.Option(min=0, max=10, help="The solver's budget, in seconds.")
    ] = 10.0,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same schedule.")] = 0,
    office: OfficeSlug = None,
) -> None:
    """Schedule every open request from now on; prints the call sheet and the requests left
    out, each with its reason."""
    if method not in ("solver", "greedy"):
        raise typer.BadParameter("solver or greedy", param_hint="--method")
    flags = {"body.time_limit_s": "--time-limit", "body.seed": "--seed", "body.method": "--method"}
    with officer(flags) as api:
        body = {
            "principal_office_id": _office_id(api, office),
            "method": method,
            "time_limit_s": time_limit,
            "seed": seed,
        }
        with Console(stderr=True).status(f"{method}: scheduling on the server …"):
            # The solve runs on the server within its budget; reading its answer may wait.
            view = api.post("/api/calls/schedule", body, timeout=time_limit + 120)
    _print_schedule(view)


@calls_app.command("sheet", epilog="Example: pouch calls sheet")
def calls_sheet(office: OfficeSlug = None, as_json: AsJson = False) -> None:
    """Print the latest call sheet and the requests left out, with their reasons."""
    with officer() as api:
        view = api.get("/api/calls/schedule", office_id=_office_id(api, office))
    if as_json:
        print_json(view)
        return
    _print_schedule(view)


@calls_app.command("ical", epilog="Example: pouch calls ical --output calls.ics")
def calls_ical(
    output: Annotated[Path, typer.Option(help="The .ics file to write.")],
    call: Annotated[
        str | None, typer.Option(help="Only this call request's call (its id).")
    ] = None,
    office: OfficeSlug = None,
) -> None:
    """Write the latest schedule, or one call, as an iCalendar file (RFC 5545)."""
    with officer() as api:
        if call is not None:
            content = api.content(f"/api/calls/requests/{call}/ical")
        else:
            content = api.content("/api/calls/schedule/ical", office_id=_office_id(api, office))
    output.write_bytes(content)
    events = content.count(b"BEGIN:VEVENT")
    console.print(f"wrote {output} ({events} call{'s' if events != 1 else ''})")
