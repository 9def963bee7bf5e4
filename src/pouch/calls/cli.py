"""``pouch calls``: the call desk from the command line."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from pouch.calls import access
from pouch.cli_support import (
    AsUser,
    acting_officer,
    console,
    read_text,
    settings_of,
    sub_app,
    transaction,
    validation_failed,
)
from pouch.clock import SystemClock

if TYPE_CHECKING:
    from pouch.calls import runs as run_service_module

ChoiceT = TypeVar("ChoiceT", bound=StrEnum)

calls_app = sub_app(
    "The call desk: requests, the order of precedence, schedules, call sheets, calendars."
)
precedence_app = sub_app("The order of precedence the schedules follow.")
calls_app.add_typer(precedence_app, name="precedence")
OfficeSlug = Annotated[
    str | None,
    typer.Option("--office", help="The principal's office (slug); the only one when omitted."),
]


def _call_desk_officer(session: Session, username: str) -> int:
    """The acting user, who must manage the call desk (``access.manages_calls``)."""
    return acting_officer(
        session, username, access.MANAGER_ROLES, "a watch officer or protocol officer"
    )


def _choice(kind: type[ChoiceT], value: str | None, hint: str) -> ChoiceT | None:
    """The option's value as one of ``kind``'s members, or None when it was not given."""
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise typer.BadParameter(f"one of {choices}", param_hint=hint) from None


def _parse_date(value: str, hint: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2026-11-09", param_hint=hint
        ) from None


def _print_schedule(view: run_service_module.ScheduleView) -> None:
    from pouch.calls.sheet import CALL_SHEET_COLUMNS

    run = view.run
    gap = f", gap {run.gap:.1%}" if run.gap is not None else ""
    console.print(
        f"schedule run {run.id} ({run.method}, {run.status}{gap}, {run.wall_time_s:.1f} s): "
        f"{len(view.calls)} calls, {len(view.left_out)} left out; weighted score "
        f"{run.weighted_score}, precedence inversions {run.inversions}, confirmed calls moved "
        f"{run.moves}; times in UTC, the principal's ({view.principal_time_zone}) and the leader's"
    )
    table = Table("call", *CALL_SHEET_COLUMNS, "status", title="Call sheet")
    for call in view.calls:
        status = "confirmed" if call.confirmed else "to confirm"
        table.add_row(call.request.public_id, *call.row.cells(), status)
    console.print(table)
    if view.left_out:
        left = Table("call", "leader", "reason", "why", title="Left out")
        for out in view.left_out:
            left.add_row(out.request_id, out.leader_name, out.reason, out.detail or "")
        console.print(left)


@calls_app.command(
    "request",
    epilog=(
        "Example: pouch calls request --leader 'Hiroshi Tanabe' --from 2026-11-09 "
        "--to 2026-11-13 --minutes 30 --interpretation consecutive --as watch1"
    ),
)
def calls_request(
    ctx: typer.Context,
    leader: Annotated[str, typer.Option(help="The leader: a person's id or exact name.")],
    from_date: Annotated[str, typer.Option("--from", help="First day (principal's zone).")],
    to_date: Annotated[str, typer.Option("--to", help="Last day (principal's zone).")],
    minutes: Annotated[int, typer.Option(help="Talk time, before interpretation.")],
    as_: AsUser,
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
    message: Annotated[str | None, typer.Option(help="A related message's id.")] = None,
    notes: Annotated[str, typer.Option(help="Anything the desk should know.")] = "",
    office: OfficeSlug = None,
) -> None:
    """Enter a call request for a leader, as the call desk."""
    from pouch.calls import parties as party_service
    from pouch.calls import requests as request_service
    from pouch.calls.problem import Interpretation
    from pouch.calls.schemas import CallRequestIn, HoursIn

    mode = _choice(Interpretation, interpretation, "--interpretation")
    hours = None
    if leader_hours is not None:
        start, sep, end = leader_hours.partition("-")
        if not sep:
            raise typer.BadParameter("give hours as HH:MM-HH:MM", param_hint="--leader-hours")
        hours = {"start": start.strip(), "end": end.strip()}
    with transaction(settings_of(ctx)) as session:
        by = _call_desk_officer(session, as_)
        person = party_service.find_leader(session, leader)
        principal = party_service.principal_office_by_slug(session, office)
        try:
            data = CallRequestIn(
                leader_id=person.id,
                principal_office_id=principal.id,
                earliest_date=_parse_date(from_date, "--from"),
                latest_date=_parse_date(to_date, "--to"),
                talk_minutes=minutes,
                languages=languages.split(",") if languages else None,
                interpretation=mode,
                urgency=urgency,
                notes=notes,
                leader_hours=HoursIn.model_validate(hours) if hours else None,
                message_id=message,
            )
        except ValidationError as error:
            validation_failed(error)
        request = request_service.create_request(
            session, data=data, sender_offices=None, entered_by_user_id=by, now=SystemClock().now()
        )
    console.print(
        f"requested {request.public_id}: {person.name}, {request.earliest_date} to "
        f"{request.latest_date}, {request.talk_minutes} min ({request.interpretation})"
    )


@calls_app.command("requests", epilog="Example: pouch calls requests --status unscheduled")
def calls_requests(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="Only requests in this state: requested, scheduled, confirmed, …"),
    ] = None,
) -> None:
    """List call requests with their place in the latest schedule, or why they were left out."""
    from pouch.calls import requests as request_service
    from pouch.calls.models import CallStatus

    wanted = _choice(CallStatus, status, "--status")
    table = Table("call", "leader", "window", "minutes", "mode", "status", "when (UTC) or why")
    with transaction(settings_of(ctx)) as session:
        for view in request_service.list_requests(session, viewer=access.DESK, status=wanted):
            request = view.request
            when = ""
            if view.call is not None:
                when = f"{view.call.start:%Y-%m-%d %H:%M}"
            elif view.left_out is not None:
                when = f"{view.left_out.reason}: {view.left_out.detail}"
            table.add_row(
                request.public_id,
                view.leader.name,
                f"{request.earliest_date} to {request.latest_date}",
                str(request.talk_minutes),
                request.interpretation,
                request.status.value,
                when,
            )
    console.print(table)


@calls_app.command(
    "confirm", epilog="Example: pouch calls confirm c-0123456789abcdef0123 --as watch1"
)
def calls_confirm(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help="The call request's id.")],
    as_: AsUser,
) -> None:
    """Confirm a call at its time in the latest schedule; re-planning keeps it there if it can."""
    from pouch.calls import requests as request_service

    with transaction(settings_of(ctx)) as session:
        request_service.confirm_call(
            session,
            public_id=call,
            by_user_id=_call_desk_officer(session, as_),
            now=SystemClock().now(),
        )
    console.print(f"{call} confirmed")


@calls_app.command(
    "cancel",
    epilog="Example: pouch calls cancel c-0123456789abcdef0123 --reason 'Withdrawn' --as watch1",
)
def calls_cancel(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help="The call request's id.")],
    reason: Annotated[str, typer.Option(help="Why; logged.")],
    as_: AsUser,
) -> None:
    """Cancel a call request; its call leaves the call sheet and the calendars."""
    from pouch.calls import requests as request_service

    with transaction(settings_of(ctx)) as session:
        request_service.cancel_request(
            session,
            public_id=call,
            by_user_id=_call_desk_officer(session, as_),
            reason=reason,
            now=SystemClock().now(),
        )
    console.print(f"{call} cancelled")


@precedence_app.command("show", epilog="Example: pouch calls precedence show --output ranking.yaml")
def calls_precedence_show(
    ctx: typer.Context,
    version: Annotated[int | None, typer.Option(help="An earlier version's number.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write it as YAML for 'precedence set' instead.")
    ] = None,
) -> None:
    """Show the order of precedence: tiers, and leaders in order within each."""
    from pouch.calls import precedence as precedence_service

    with transaction(settings_of(ctx)) as session:
        view = precedence_service.get_precedence(session, number=version)
    if output is not None:
        output.write_text(precedence_service.ranking_to_yaml(view), encoding="utf-8")
        console.print(f"wrote {output}")
        return
    console.print(
        f"version {view.version.number} of {view.version.created_at:%Y-%m-%d %H:%M} UTC: "
        f"{view.version.reason}"
    )
    table = Table("tier", "position", "person", "leader", "country")
    for rank, person in view.ranks:
        table.add_row(
            str(rank.tier), str(rank.position), str(person.id), person.name, person.country_code
        )
    console.print(table)


@precedence_app.command(
    "set",
    epilog=(
        "Example: pouch calls precedence set ranking.yaml --reason 'After the summit' --as protocol"
    ),
)
def calls_precedence_set(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            help="YAML ('tiers:' lists of leaders in order) or CSV (person,tier,position); "
            "a leader is a person's id or exact name."
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why the order changes; logged.")],
    as_: AsUser,
) -> None:
    """Replace the order of precedence with a new version (protocol officers, administrators)."""
    from pouch.calls import precedence as precedence_service

    text = read_text(source)
    kind: Literal["csv", "yaml"] = "csv" if source.suffix.lower() == ".csv" else "yaml"
    with transaction(settings_of(ctx)) as session:
        by = acting_officer(
            session,
            as_,
            access.PRECEDENCE_EDITOR_ROLES,
            "a protocol officer or administrator",
        )
        view = precedence_service.set_from_text(
            session,
            text=text,
            format=kind,
            reason=reason,
            author_user_id=by,
            now=SystemClock().now(),
        )
    console.print(
        f"order of precedence version {view.version.number}: {len(view.ranks)} leaders "
        f"(log index {view.version.ledger_index})"
    )


@calls_app.command(
    "schedule",
    epilog="Example: pouch calls schedule --time-limit 10 --seed 1 --as watch1",
)
def calls_schedule(
    ctx: typer.Context,
    as_: AsUser,
    method: Annotated[
        str, typer.Option(help="solver (CP-SAT) or greedy (the baseline).")
    ] = "solver",
    time_limit: Annotated[
        float, typer.Option(min=0, max=600, help="The solver's budget, in seconds.")
    ] = 10.0,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same schedule.")] = 0,
    office: OfficeSlug = None,
) -> None:
    """Schedule every open request from now on, showing the solver's progress; prints the call
    sheet and the requests left out, each with its reason."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pouch.calls import parties as party_service
    from pouch.calls import runs as run_service
    from pouch.calls import scheduling as scheduling_service
    from pouch.calls.solver import SolveProgress

    if method not in ("solver", "greedy"):
        raise typer.BadParameter("solver or greedy", param_hint="--method")
    settings = settings_of(ctx)
    now = SystemClock().now()
    # Three steps, so that the solve holds no database lock: read, solve, write.
    with transaction(settings) as session:
        by = _call_desk_officer(session, as_)
        options = scheduling_service.run_options(
            method="greedy" if method == "greedy" else "solver", time_limit_s=time_limit, seed=seed
        )
        principal = party_service.principal_office_by_slug(session, office)
        prepared = scheduling_service.prepare_schedule(session, office_id=principal.id, now=now)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(
            f"{method}: {len(prepared.problem.requests)} requests", total=time_limit
        )

        def progress(update: SolveProgress) -> None:
            bar.update(
                task,
                completed=min(update.elapsed_s, time_limit),
                description=f"{update.stage}: {update.objective} (bound {update.bound})",
            )

        schedule = scheduling_service.compute_schedule(prepared, options=options, progress=progress)
    with transaction(settings) as session:
        run = scheduling_service.store_schedule(
            session, prepared=prepared, schedule=schedule, options=options, by_user_id=by, now=now
        )
        view = run_service.schedule_view(session, run=run)
    _print_schedule(view)


@calls_app.command("sheet", epilog="Example: pouch calls sheet")
def calls_sheet(ctx: typer.Context, office: OfficeSlug = None) -> None:
    """Print the latest call sheet and the requests left out, with their reasons."""
    from pouch.calls import parties as party_service
    from pouch.calls import runs as run_service

    with transaction(settings_of(ctx)) as session:
        principal = party_service.principal_office_by_slug(session, office)
        view = run_service.get_schedule(session, office_id=principal.id, viewer=access.DESK)
    _print_schedule(view)


@calls_app.command("ical", epilog="Example: pouch calls ical --output calls.ics")
def calls_ical(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="The .ics file to write.")],
    call: Annotated[
        str | None, typer.Option(help="Only this call request's call (its id).")
    ] = None,
    office: OfficeSlug = None,
) -> None:
    """Write the latest schedule, or one call, as an iCalendar file (RFC 5545)."""
    from pouch.calls import ical as ical_service
    from pouch.calls import parties as party_service
    from pouch.calls import runs as run_service

    settings = settings_of(ctx)
    domain = ical_service.domain_of(settings.public_url)
    with transaction(settings) as session:
        if call is not None:
            content = ical_service.call_ical(
                session, public_id=call, viewer=access.DESK, domain=domain
            )
        else:
            principal = party_service.principal_office_by_slug(session, office)
            view = run_service.get_schedule(session, office_id=principal.id, viewer=access.DESK)
            content = ical_service.schedule_ical(view, domain=domain)
    output.write_bytes(content)
    events = content.count(b"BEGIN:VEVENT")
    console.print(f"wrote {output} ({events} call{'s' if events != 1 else ''})")
