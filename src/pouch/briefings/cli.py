"""``pouch briefing``: running a call and its papers from the command line.

Each command acts as the person logged in (``pouch login``), through the HTTP API
under ``/api/calls/{call}``, which applies that person's rights and logs that
person's name; none opens the database.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pouch.cli_client import AsJson, CliProblem, officer, print_json
from pouch.cli_common import console, read_text, sub_app

briefing_app = sub_app(
    "A call's run and papers: its states, participants and check-in, the briefing and its "
    "packet (PDF), the memorandum of conversation."
)
CallId = Annotated[str, typer.Argument(help="The call's id (its request's, c-…).")]
Memcon = Annotated[bool, typer.Option("--memcon", help="The memcon rather than the briefing.")]


def _paper(memcon: bool) -> str:
    return "memcon" if memcon else "briefing"


@briefing_app.command("show", epilog="Example: pouch briefing show c-0123456789abcdef0123")
def briefing_show(call: CallId, as_json: AsJson = False) -> None:
    """The call's state and steps, participants, briefing, packets and memcon."""
    with officer() as api:
        run = api.get(f"/api/calls/{call}/run")
        briefing = api.get(f"/api/calls/{call}/briefing")
        memcon = api.get(f"/api/calls/{call}/memcon")
    if as_json:
        print_json({"run": run, "briefing": briefing, "memcon": memcon})
        return
    console.print(
        f"{call}: {run['state'] or 'not scheduled yet'}, {run['mode']}, placed by "
        f"{run['placed_by']}"
        + (f"; follow-up {run['follow_up_call_id']}" if run["follow_up_call_id"] else "")
    )
    steps = Table("when (UTC)", "from", "to", "by", "log entry", title="Steps")
    for step in run["steps"]:
        steps.add_row(
            step["at"],
            step["from_state"],
            step["to_state"],
            str(step["by_user_id"]),
            str(step["ledger_index"]),
        )
    console.print(steps)
    for p in run["participants"]:
        checked = f", checked in {p['checked_in_at']}" if p["checked_in_at"] else ""
        console.print(f"{p['kind']}: {p['name']}{checked}")
    console.print(
        f"briefing: {briefing['clearance'] or 'not started'}, {len(briefing['versions'])} "
        f"version(s)" + (f"; {briefing['flag']}" if briefing["flag"] else "")
    )
    for packet in briefing["packets"]:
        console.print(
            f"packet {packet['number']}: issued {packet['issued_at']}, sha256 {packet['sha256']}"
        )
    filed = memcon["clearance"] == "cleared"
    console.print(
        f"memcon: {'filed' if filed else memcon['clearance'] or 'not started'}, "
        f"{len(memcon['versions'])} version(s)"
        + (f", sha256 {memcon['cleared_sha256']}" if filed else "")
    )


@briefing_app.command("move", epilog="Example: pouch briefing move c-… placing")
def briefing_move(
    call: CallId,
    state: Annotated[
        str,
        typer.Argument(
            help="confirmed, placing, connected, completed, missed, rescheduled or cancelled."
        ),
    ],
    note: Annotated[str, typer.Option(help="Why, in one line.")] = "",
) -> None:
    """Move the call to its next state (the call desk)."""
    with officer({"body.state": "STATE", "body.note": "--note"}) as api:
        run = api.post(f"/api/calls/{call}/run/steps", {"state": state, "note": note})
    console.print(
        f"{call}: {run['state']}"
        + (f"; follow-up request {run['follow_up_call_id']}" if run["follow_up_call_id"] else "")
    )


@briefing_app.command("designate", epilog="Example: pouch briefing designate c-… 7 --as notetaker")
def briefing_designate(
    call: CallId,
    user_id: Annotated[int, typer.Argument(help="The user's id.")],
    kind: Annotated[str, typer.Option("--as", help="interpreter, notetaker or clearing.")],
) -> None:
    """Designate an interpreter, a notetaker or the clearing officer (the call desk)."""
    with officer({"body.kind": "--as", "body.user_id": "USER_ID"}) as api:
        api.post(f"/api/calls/{call}/run/participants", {"user_id": user_id, "kind": kind})
    console.print(f"{call}: user {user_id} designated as {kind}")


@briefing_app.command("check-in", epilog="Example: pouch briefing check-in c-0123456789abcdef0123")
def briefing_check_in(call: CallId) -> None:
    """Check in as the call's interpreter or notetaker."""
    with officer() as api:
        api.post(f"/api/calls/{call}/run/check-in")
    console.print(f"{call}: checked in")


@briefing_app.command(
    "write", epilog="Example: pouch briefing write c-… --point 'Thank them' --background notes.txt"
)
def briefing_write(
    call: CallId,
    point: Annotated[list[str], typer.Option(help="A talking point (repeat the option).")],
    background: Annotated[
        Path | None, typer.Option(help="A UTF-8 file with the background.")
    ] = None,
    pronunciation: Annotated[str, typer.Option(help="How to say the form of address.")] = "",
) -> None:
    """Save a new version of the briefing (the desk, the principal's staff)."""
    body = {
        "talking_points": point,
        "background": read_text(background) if background is not None else "",
        "pronunciation": pronunciation,
    }
    with officer({"body.talking_points": "--point", "body.background": "--background"}) as api:
        paper = api.put(f"/api/calls/{call}/briefing", body)
    console.print(
        f"{call}: briefing version {paper['versions'][-1]['number']} saved ({paper['clearance']})"
    )


@briefing_app.command(
    "memcon",
    epilog=(
        "Example: pouch briefing memcon c-… --participants 'The President-elect; the leader' "
        "--when-where '9 Nov 2026, 10:00 EST, by phone' --conversation notes.txt "
        "--summary 'A warm call'"
    ),
)
def briefing_memcon(
    call: CallId,
    participants: Annotated[str, typer.Option(help="Who took part.")],
    date_time_place: Annotated[str, typer.Option("--when-where", help="Date, time and place.")],
    conversation: Annotated[Path, typer.Option(help="A UTF-8 file with the conversation.")],
    summary: Annotated[str, typer.Option(help="What later packets show of the call.")],
) -> None:
    """Save a new version of the memcon (the call's notetakers)."""
    body = {
        "participants": participants,
        "date_time_place": date_time_place,
        "conversation": read_text(conversation),
        "summary": summary,
    }
    with officer({"body.date_time_place": "--when-where"}) as api:
        paper = api.put(f"/api/calls/{call}/memcon", body)
    console.print(
        f"{call}: memcon version {paper['versions'][-1]['number']} saved ({paper['clearance']})"
    )


def _clearance(call: str, kind: str, action: str, body: Any = None) -> dict[str, Any]:
    with officer({"body.comments": "--comments"}) as api:
        paper: dict[str, Any] = api.post(f"/api/calls/{call}/{kind}/{action}", body)
    return paper


@briefing_app.command("submit", epilog="Example: pouch briefing submit c-… --memcon")
def briefing_submit(call: CallId, memcon: Memcon = False) -> None:
    """Submit the briefing (or the memcon) to the clearing officer."""
    paper = _clearance(call, _paper(memcon), "submit")
    console.print(f"{call}: {paper['kind']} {paper['clearance']}")


@briefing_app.command("clear", epilog="Example: pouch briefing clear c-…")
def briefing_clear(call: CallId, memcon: Memcon = False) -> None:
    """Clear the briefing (its packet is issued) or the memcon (it is filed)."""
    paper = _clearance(call, _paper(memcon), "clear")
    what = "filed" if memcon else "cleared, packet issued"
    console.print(f"{call}: {paper['kind']} {what}, sha256 {paper['cleared_sha256']}")


@briefing_app.command(
    "return", epilog="Example: pouch briefing return c-… --comments 'Lead with trade'"
)
def briefing_return(
    call: CallId,
    comments: Annotated[str, typer.Option(help="What the writers are to change.")],
    memcon: Memcon = False,
) -> None:
    """Return the briefing (or the memcon) to its writers with comments."""
    paper = _clearance(call, _paper(memcon), "return", {"comments": comments})
    console.print(f"{call}: {paper['kind']} returned")


@briefing_app.command("pdf", epilog="Example: pouch briefing pdf c-… --output packet.pdf")
def briefing_pdf(
    call: CallId,
    output: Annotated[Path, typer.Option(help="Where to write the PDF.")],
) -> None:
    """Download the latest packet's PDF, checked against the SHA-256 the server logged."""
    with officer() as api:
        response = api.send("GET", f"/api/calls/{call}/packet.pdf")
        issued = api.get(f"/api/calls/{call}/packets")
        digest = hashlib.sha256(response.content).hexdigest()
        if not issued or digest != issued[-1]["sha256"]:
            raise CliProblem("the PDF served does not match the SHA-256 logged for the packet")
    output.write_bytes(response.content)
    console.print(f"wrote {output} ({len(response.content)} bytes), sha256 {digest} as logged")
