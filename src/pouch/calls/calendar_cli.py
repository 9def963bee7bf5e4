"""``pouch calls calendar``, ``pouch calls busy`` and ``pouch calls interpreters``:
when the principal takes calls and who interprets them, from the command line.

As every ``pouch calls`` command: as the person logged in, through the API
(``/api/calls/calendars``, ``/api/interpreters``); none opens the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from pouch.calls.cli import OfficeSlug
from pouch.cli_client import Api, AsJson, CliProblem, officer, print_json, utc
from pouch.cli_common import console, sub_app

calendar_app = sub_app("When the principal takes calls: zone, hours, days off, rank policy.")
busy_app = sub_app("Times the principal takes no calls.")
interpreters_app = sub_app(
    "The interpreters the scheduler may assign (the language desk's roster)."
)


def add_desk_commands(calls: typer.Typer) -> None:
    """``calendar``, ``busy`` and ``interpreters`` under ``pouch calls``."""
    calls.add_typer(calendar_app, name="calendar")
    calls.add_typer(busy_app, name="busy")
    calls.add_typer(interpreters_app, name="interpreters")


#: The API's names of the calendar's fields, as the options name them.
CALENDAR_FLAGS = {
    "body.time_zone": "--zone",
    "body.window_start": "--hours",
    "body.window_end": "--hours",
    "window_start": "--hours",
    "window_end": "--hours",
    "body.max_calls_per_day": "--max-calls",
    "body.buffer_minutes": "--buffer",
    "body.days_off_country": "--days-off",
    "body.days_off_subdivision": "--days-off",
    "days_off_country": "--days-off",
    "days_off_subdivision": "--days-off",
    "body.rank_policy": "--rank-policy",
}
INTERPRETER_FLAGS = {
    "body.name": "--name",
    "body.email": "--email",
    "body.language_pairs": "--pairs",
    "body.max_minutes_per_day": "--max-minutes",
    "body.time_zone": "--zone",
    "body.availability": "--available",
}


def principal_office(api: Api, slug: str | None) -> int:
    """The principal's office by slug, or the only one."""
    offices = [o for o in api.get("/api/offices") if o["kind"] == "principal"]
    if slug is not None:
        offices = [o for o in offices if o["slug"] == slug or str(o["id"]) == slug]
        if not offices:
            raise CliProblem(f"--office: no principal's office {slug!r}")
    if len(offices) != 1:
        raise CliProblem("--office: give the principal's office (there is not exactly one)")
    return int(offices[0]["id"])


def span_of(value: str, hint: str) -> tuple[str, str]:
    """``START/END``, two ISO 8601 times with their offsets."""
    start, sep, end = value.partition("/")
    try:
        moments = [datetime.fromisoformat(part.strip()) for part in (start, end)] if sep else []
    except ValueError:
        moments = []
    if len(moments) != 2 or any(m.tzinfo is None for m in moments):
        raise typer.BadParameter(
            f"{value!r}: give START/END with offsets, e.g. "
            "2026-11-09T09:00-05:00/2026-11-09T12:00-05:00",
            param_hint=hint,
        )
    return moments[0].isoformat(), moments[1].isoformat()


def _hours(value: str, hint: str) -> tuple[str, str]:
    start, sep, end = value.partition("-")
    if not sep:
        raise typer.BadParameter("give hours as HH:MM-HH:MM", param_hint=hint)
    return start.strip(), end.strip()


def _print_calendar(view: dict[str, Any]) -> None:
    days_off = view["days_off_country"] or "none (every day)"
    if view["days_off_subdivision"]:
        days_off += f"/{view['days_off_subdivision']}"
    cap = view["max_calls_per_day"] or "no cap"
    console.print(
        f"office {view['office_id']}{' (default calendar)' if view['is_default'] else ''}: "
        f"{view['time_zone']}, {view['window_start'][:5]}–{view['window_end'][:5]}, "
        f"days off of {days_off}, {cap} calls a day, {view['buffer_minutes']} min between "
        f"calls, {view['rank_policy']} first where two calls cannot both fit"
    )
    table = Table("busy", "from (UTC)", "to (UTC)", "note", title="Busy")
    for block in view["busy"]:
        table.add_row(
            str(block["id"]),
            f"{utc(block['start']):%Y-%m-%d %H:%M}",
            f"{utc(block['end']):%Y-%m-%d %H:%M}",
            block["note"],
        )
    console.print(table)


@calendar_app.command("show", epilog="Example: pouch calls calendar show")
def calendar_show(office: OfficeSlug = None, as_json: AsJson = False) -> None:
    """The principal's calendar and busy blocks."""
    with officer() as api:
        view = api.get(f"/api/calls/calendars/{principal_office(api, office)}")
    if as_json:
        print_json(view)
        return
    _print_calendar(view)


@calendar_app.command(
    "set",
    epilog="Example: pouch calls calendar set --hours 08:00-20:00 --days-off US/NY "
    "--rank-policy urgency",
)
def calendar_set(
    zone: Annotated[str | None, typer.Option(help="The principal's IANA zone.")] = None,
    hours: Annotated[str | None, typer.Option(help="The daily window, local: HH:MM-HH:MM.")] = None,
    max_calls: Annotated[
        int | None, typer.Option(min=0, help="Calls a day at most; 0: no cap.")
    ] = None,
    buffer: Annotated[int | None, typer.Option(min=0, help="Minutes between calls.")] = None,
    days_off: Annotated[
        str | None,
        typer.Option(
            help="The country (and part) whose weekends and holidays the principal keeps: "
            "US, GB/ENG; 'none' for every day."
        ),
    ] = None,
    rank_policy: Annotated[
        str | None,
        typer.Option(help="precedence or urgency: which comes first where both cannot fit."),
    ] = None,
    office: OfficeSlug = None,
) -> None:
    """Change the principal's calendar; what is not given stays as it is."""
    with officer(CALENDAR_FLAGS) as api:
        path = f"/api/calls/calendars/{principal_office(api, office)}"
        current = api.get(path)
        body = {
            key: current[key]
            for key in (
                "time_zone",
                "window_start",
                "window_end",
                "max_calls_per_day",
                "buffer_minutes",
                "days_off_country",
                "days_off_subdivision",
                "rank_policy",
            )
        }
        if zone is not None:
            body["time_zone"] = zone
        if hours is not None:
            body["window_start"], body["window_end"] = _hours(hours, "--hours")
        if max_calls is not None:
            body["max_calls_per_day"] = max_calls or None
        if buffer is not None:
            body["buffer_minutes"] = buffer
        if days_off is not None:
            country, _, part = days_off.strip().partition("/")
            none = country.lower() == "none"
            body["days_off_country"] = None if none else country.upper()
            body["days_off_subdivision"] = None if none or not part else part.upper()
        if rank_policy is not None:
            body["rank_policy"] = rank_policy
        view = api.put(path, body)
    _print_calendar(view)


@busy_app.command(
    "add", epilog="Example: pouch calls busy add 2026-11-09T09:00-05:00/2026-11-09T12:00-05:00"
)
def busy_add(
    span: Annotated[str, typer.Argument(help="START/END, ISO 8601 with offsets.")],
    note: Annotated[str, typer.Option(help="What it is (seen by the desk).")] = "",
    office: OfficeSlug = None,
) -> None:
    """Block time in which the principal takes no call (a day off: its whole day)."""
    start, end = span_of(span, "SPAN")
    flags = {"body.start": "SPAN", "body.end": "SPAN", "start": "SPAN", "end": "SPAN"}
    with officer(flags) as api:
        path = f"/api/calls/calendars/{principal_office(api, office)}/busy"
        block = api.post(path, {"start": start, "end": end, "note": note})
    console.print(
        f"busy block {block['id']}: {utc(block['start']):%Y-%m-%d %H:%M} to "
        f"{utc(block['end']):%Y-%m-%d %H:%M} UTC"
    )


@busy_app.command("remove", epilog="Example: pouch calls busy remove 3")
def busy_remove(
    block: Annotated[int, typer.Argument(help="The busy block's id (calendar show lists them).")],
    office: OfficeSlug = None,
) -> None:
    """Free a busy block again."""
    with officer() as api:
        api.send("DELETE", f"/api/calls/calendars/{principal_office(api, office)}/busy/{block}")
    console.print(f"busy block {block} removed")


@interpreters_app.command("list", epilog="Example: pouch calls interpreters list")
def interpreters_list(as_json: AsJson = False) -> None:
    """The roster: languages, caps, and the next times each can work."""
    with officer() as api:
        roster = api.get("/api/interpreters")
    if as_json:
        print_json(roster)
        return
    table = Table("id", "name", "pairs", "cap (min/day)", "zone", "available (UTC)", "active")
    for entry in roster:
        windows = entry["availability"]
        shown = ", ".join(
            f"{utc(w['start']):%m-%d %H:%M}–{utc(w['end']):%H:%M}" for w in windows[:3]
        ) + (f" and {len(windows) - 3} more" if len(windows) > 3 else "")
        table.add_row(
            str(entry["id"]),
            entry["name"],
            ", ".join("–".join(pair) for pair in entry["language_pairs"]),
            str(entry["max_minutes_per_day"] or "—"),
            entry["time_zone"] or "principal's",
            shown or "never",
            "yes" if entry["active"] else "no",
        )
    console.print(table)


@interpreters_app.command(
    "add",
    epilog=(
        "Example: pouch calls interpreters add --name 'Akiko Mori' --pairs ja-en "
        "--available 2026-11-09T12:00Z/2026-11-09T22:00Z"
    ),
)
def interpreters_add(
    name: Annotated[str, typer.Option(help="The interpreter's name.")],
    pairs: Annotated[
        str, typer.Option(help="Language pairs, both ways, comma-separated: ja-en,fr-en.")
    ],
    available: Annotated[
        list[str] | None, typer.Option(help="START/END they can work; repeat for more.")
    ] = None,
    email: Annotated[str | None, typer.Option(help="For the calendar invitations.")] = None,
    max_minutes: Annotated[int | None, typer.Option(min=1, help="Minutes a day at most.")] = None,
    zone: Annotated[str | None, typer.Option(help="The zone whose days the cap counts.")] = None,
) -> None:
    """Add an interpreter to the roster."""
    language_pairs = []
    for pair in pairs.split(","):
        a, sep, b = pair.strip().partition("-")
        if not sep:
            raise typer.BadParameter(f"{pair!r}: give pairs as ja-en", param_hint="--pairs")
        language_pairs.append([a, b])
    windows = [span_of(value, "--available") for value in available or []]
    with officer(INTERPRETER_FLAGS) as api:
        entry = api.post(
            "/api/interpreters",
            {
                "name": name,
                "email": email,
                "language_pairs": language_pairs,
                "availability": [{"start": s, "end": e} for s, e in windows],
                "max_minutes_per_day": max_minutes,
                "time_zone": zone,
            },
        )
    console.print(f"interpreter {entry['id']}: {entry['name']}")


@interpreters_app.command(
    "available",
    epilog="Example: pouch calls interpreters available 4 2026-11-10T12:00Z/2026-11-10T22:00Z",
)
def interpreters_available(
    interpreter: Annotated[int, typer.Argument(help="The interpreter's id.")],
    spans: Annotated[list[str], typer.Argument(help="START/END they can work (more than one).")],
    replace: Annotated[
        bool, typer.Option(help="Replace the times already listed instead of adding.")
    ] = False,
) -> None:
    """Add times an interpreter can work (or replace them all)."""
    windows = [span_of(value, "SPANS") for value in spans]
    with officer({"body.availability": "SPANS"}) as api:
        path = f"/api/interpreters/{interpreter}"
        kept = [] if replace else api.get(path)["availability"]
        entry = api.send(
            "PATCH",
            path,
            json_body={"availability": kept + [{"start": s, "end": e} for s, e in windows]},
        ).json()
    console.print(
        f"interpreter {entry['id']} ({entry['name']}): {len(entry['availability'])} windows"
    )


@interpreters_app.command("remove", epilog="Example: pouch calls interpreters remove 4")
def interpreters_remove(
    interpreter: Annotated[int, typer.Argument(help="The interpreter's id.")],
) -> None:
    """Take an interpreter off the roster."""
    with officer() as api:
        api.send("DELETE", f"/api/interpreters/{interpreter}")
    console.print(f"interpreter {interpreter} removed")
