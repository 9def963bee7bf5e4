"""A call run and prepared through the API: states, check-in, the briefing cleared into a
packet (its PDF read back), the memcon filed; what each role may see, never the sender."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pouch.briefings.models import CallRecord
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import Person
from pouch.identity.models import Role
from pouch.ledger import service as ledger_service
from tests.calls.helpers import Desk, build_desk, request_body
from tests.factories import World

#: A leader's name a careless template would run as typst markup.
HOSTILE_NAME = 'Ciarán #panic("boom") ] *not bold* 李明 محمد'


@pytest.fixture
def desk(database: Database, clock: ManualClock, world: World) -> Desk:
    with database.transaction() as session:
        return build_desk(session, clock, existing=world.offices)


def _scheduled(client: TestClient, world: World, desk: Desk, *keys: str) -> list[str]:
    ids = []
    for key in keys:
        response = client.post(
            "/api/calls/requests",
            json=request_body(desk, key),
            headers=world.auth(Role.WATCH_OFFICER),
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    run = client.post(
        "/api/calls/schedule", json={"method": "greedy"}, headers=world.auth(Role.WATCH_OFFICER)
    )
    assert run.status_code == 201, run.text
    return ids


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _move(client: TestClient, world: World, call: str, state: str) -> Any:
    return client.post(
        f"/api/calls/{call}/run/steps",
        json={"state": state},
        headers=world.auth(Role.WATCH_OFFICER),
    )


def _opening(database: Database, index: int) -> dict[str, Any]:
    with database.transaction(write=False) as session:
        opening = ledger_service.opening(session, index)
        assert opening is not None
        return dict(opening.event)


def _designate(client: TestClient, world: World, call: str) -> None:
    for role, kind in [
        (Role.INTERPRETER, "interpreter"),
        (Role.PRINCIPAL_STAFF, "notetaker"),
        (Role.PROTOCOL_OFFICER, "clearing"),
    ]:
        _ok(
            client.post(
                f"/api/calls/{call}/run/participants",
                json={"user_id": world.users[role].id, "kind": kind},
                headers=world.auth(Role.WATCH_OFFICER),
            )
        )


def test_a_call_runs_through_its_states_each_an_event_and_illegal_moves_are_refused(
    app_client: TestClient, world: World, desk: Desk, database: Database, clock: ManualClock
) -> None:
    (call,) = _scheduled(app_client, world, desk, "ie")
    # Reading changes nothing: no record until someone acts on the call.
    run = _ok(app_client.get(f"/api/calls/{call}/run", headers=world.auth(Role.PRINCIPAL)))
    assert (run["state"], run["steps"]) == ("scheduled", [])
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(CallRecord)) == 0
    refused = _move(app_client, world, call, "connected")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/conflict"
    assert "may become: cancelled, confirmed, rescheduled" in refused.json()["detail"]
    # Only the desk moves a call.
    staff = app_client.post(
        f"/api/calls/{call}/run/steps",
        json={"state": "confirmed"},
        headers=world.auth(Role.PRINCIPAL_STAFF),
    )
    assert staff.status_code == 403
    _designate(app_client, world, call)
    for state in ("confirmed", "placing"):
        _ok(_move(app_client, world, call, state))
    for role in (Role.INTERPRETER, Role.PRINCIPAL_STAFF):
        checked = _ok(app_client.post(f"/api/calls/{call}/run/check-in", headers=world.auth(role)))
    again = app_client.post(f"/api/calls/{call}/run/check-in", headers=world.auth(Role.INTERPRETER))
    assert again.status_code == 409
    assert all(p["checked_in_at"] for p in checked["participants"] if p["kind"] != "clearing")
    # The auditor is no participant: nothing to check in as.
    assert (
        app_client.post(
            f"/api/calls/{call}/run/check-in", headers=world.auth(Role.AUDITOR)
        ).status_code
        == 403
    )
    clock.advance(timedelta(minutes=3))
    for state in ("connected", "completed"):
        run = _ok(_move(app_client, world, call, state))
    assert [(s["from_state"], s["to_state"]) for s in run["steps"]] == [
        ("scheduled", "confirmed"),
        ("confirmed", "placing"),
        ("placing", "connected"),
        ("connected", "completed"),
    ]
    watch = world.users[Role.WATCH_OFFICER].id
    kinds = [_opening(database, s["ledger_index"])["kind"] for s in run["steps"]]
    assert kinds == ["call.confirmed", "call.placing", "call.connected", "call.completed"]
    assert all(s["by_user_id"] == watch for s in run["steps"])
    assert _opening(database, run["steps"][-1]["ledger_index"])["by"] == watch
    assert _move(app_client, world, call, "cancelled").status_code == 409


def test_a_missed_call_goes_back_to_the_scheduler_as_a_follow_up(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    (call,) = _scheduled(app_client, world, desk, "ie")
    _ok(_move(app_client, world, call, "confirmed"))
    run = _ok(_move(app_client, world, call, "missed"))
    follow_up = run["follow_up_call_id"]
    assert run["state"] == "missed" and follow_up and follow_up != call
    request = _ok(
        app_client.get(f"/api/calls/requests/{follow_up}", headers=world.auth(Role.SENDER))
    )
    # Same leader (so the same precedence), asked for by the same office, back in the queue.
    assert request["status"] == "requested"
    assert request["leader_id"] == desk.leaders["ie"].id
    assert request["requested_by_office_id"] is None or request["requested_by_office_id"] == (
        world.offices["ie-taoiseach"].id
    )


def test_the_briefing_is_cleared_into_a_packet_whose_pdf_says_it_literally(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    (call,) = _scheduled(app_client, world, desk, "ie")
    with database.transaction() as session:
        leader = session.get(Person, desk.leaders["ie"].id)
        assert leader is not None
        leader.name = HOSTILE_NAME
    _designate(app_client, world, call)
    points = [f"Point {n} #strong[x]" for n in range(1, 7)]
    staff = world.auth(Role.PRINCIPAL_STAFF)
    saved = _ok(
        app_client.put(
            f"/api/calls/{call}/briefing",
            json={
                "talking_points": points,
                "background": "Relations are warm.\n\nTrade first.",
                "pronunciation": "KEER-awn",
            },
            headers=staff,
        )
    )
    assert saved["clearance"] == "draft" and len(saved["versions"]) == 1
    briefing = _ok(app_client.get(f"/api/calls/{call}/briefing", headers=staff))
    assert briefing["flag"] == "6 talking points: more than the 5 advised"
    # Not submitted: nothing to clear.
    protocol = world.auth(Role.PROTOCOL_OFFICER)
    assert app_client.post(f"/api/calls/{call}/briefing/clear", headers=protocol).status_code == 409
    _ok(app_client.post(f"/api/calls/{call}/briefing/submit", headers=staff))
    # Editing while it is with the clearing officer is refused; the notetaker cannot clear.
    assert (
        app_client.put(
            f"/api/calls/{call}/briefing", json={"talking_points": ["x"]}, headers=staff
        ).status_code
        == 409
    )
    assert app_client.post(f"/api/calls/{call}/briefing/clear", headers=staff).status_code == 403
    returned = _ok(
        app_client.post(
            f"/api/calls/{call}/briefing/return",
            json={"comments": "Lead with trade."},
            headers=protocol,
        )
    )
    assert (returned["clearance"], returned["comments"]) == ("returned", "Lead with trade.")
    _ok(
        app_client.put(
            f"/api/calls/{call}/briefing",
            json={"talking_points": points, "background": "Trade first.", "pronunciation": ""},
            headers=staff,
        )
    )
    _ok(app_client.post(f"/api/calls/{call}/briefing/submit", headers=staff))
    cleared = _ok(app_client.post(f"/api/calls/{call}/briefing/clear", headers=protocol))
    assert cleared["clearance"] == "cleared" and len(cleared["versions"]) == 2
    (issued,) = _ok(app_client.get(f"/api/calls/{call}/packets", headers=staff))
    # The principal downloads it: the bytes served are the bytes whose hash was logged.
    response = app_client.get(f"/api/calls/{call}/packet.pdf", headers=world.auth(Role.PRINCIPAL))
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest == issued["sha256"] == response.headers["digest-sha256"]
    event = _opening(database, issued["ledger_index"])
    assert (event["kind"], event["sha256"], event["call"]) == ("packet.issued", digest, call)
    text = "".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages
    )
    squeezed = " ".join(text.split())
    assert HOSTILE_NAME in squeezed  # markup characters printed, not run
    assert "Point 6 #strong[x]" in squeezed
    assert "6 talking points: more than the 5 advised" in squeezed
    assert "BRIEFING PACKET" in squeezed and "Trade first." in squeezed
    # The sender office never sees a packet or a briefing.
    sender = world.auth(Role.SENDER)
    for path in ("packet.pdf", "briefing", "packets", "run"):
        assert app_client.get(f"/api/calls/{call}/{path}", headers=sender).status_code == 403


def test_the_memcon_is_filed_with_its_hash_logged_and_never_shown_to_the_sender(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    (call,) = _scheduled(app_client, world, desk, "ie")
    _designate(app_client, world, call)
    staff, protocol = world.auth(Role.PRINCIPAL_STAFF), world.auth(Role.PROTOCOL_OFFICER)
    memcon = {
        "participants": "The President-elect; the Taoiseach",
        "date_time_place": "9 November 2026, 10:00 EST, by phone",
        "conversation": "They discussed trade.",
        "summary": "Trade talks to follow.",
    }
    # Before the call is connected there is nothing to write down.
    assert (
        app_client.put(f"/api/calls/{call}/memcon", json=memcon, headers=staff).status_code == 409
    )
    for state in ("confirmed", "placing", "connected"):
        _ok(_move(app_client, world, call, state))
    # Only a notetaker writes it.
    assert (
        app_client.put(
            f"/api/calls/{call}/memcon", json=memcon, headers=world.auth(Role.INTERPRETER)
        ).status_code
        == 403
    )
    _ok(app_client.put(f"/api/calls/{call}/memcon", json=memcon, headers=staff))
    _ok(app_client.post(f"/api/calls/{call}/memcon/submit", headers=staff))
    early = app_client.post(f"/api/calls/{call}/memcon/clear", headers=protocol)
    assert early.status_code == 409 and "completed" in early.json()["detail"]
    _ok(_move(app_client, world, call, "completed"))
    filed = _ok(app_client.post(f"/api/calls/{call}/memcon/clear", headers=protocol))
    assert filed["clearance"] == "cleared" and filed["cleared_version"] == 1
    document = app_client.get(f"/api/calls/{call}/memcon/filed", headers=world.auth(Role.AUDITOR))
    assert document.status_code == 200
    assert hashlib.sha256(document.content).hexdigest() == filed["cleared_sha256"]
    assert (
        app_client.put(f"/api/calls/{call}/memcon", json=memcon, headers=staff).status_code == 409
    )
    for role in (Role.PRINCIPAL, Role.AUDITOR):
        shown = _ok(app_client.get(f"/api/calls/{call}/memcon", headers=world.auth(role)))
        assert shown["versions"][0]["content"]["summary"] == "Trade talks to follow."
    refused = app_client.get(f"/api/calls/{call}/memcon", headers=world.auth(Role.SENDER))
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/permission-denied"
    assert (
        app_client.get(f"/api/calls/{call}/memcon/filed", headers=world.auth(Role.SENDER))
    ).status_code == 403
    # A sender cannot be made a participant either, and so never reads it that way.
    designated = app_client.post(
        f"/api/calls/{call}/run/participants",
        json={"user_id": world.users[Role.SENDER].id, "kind": "notetaker"},
        headers=world.auth(Role.WATCH_OFFICER),
    )
    assert designated.status_code == 400
    # The log's event carries the hash, and only the principal's office's tag.
    with database.transaction(write=False) as session:
        from pouch.ledger.store import LedgerOpening

        row = session.scalars(
            select(LedgerOpening).where(LedgerOpening.kind == "memcon.filed")
        ).one()
        assert row.parties == f"[{world.offices['president-elect'].id}]"
    event = _opening(database, row.idx)
    assert event["sha256"] == filed["cleared_sha256"]


def test_a_rescheduled_call_frees_its_slot_and_a_follow_up_takes_its_place(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    (call,) = _scheduled(app_client, world, desk, "fr")
    run = _ok(
        app_client.post(
            f"/api/calls/{call}/run/steps",
            json={"state": "rescheduled", "note": "the leader travels"},
            headers=world.auth(Role.WATCH_OFFICER),
        )
    )
    assert run["state"] == "rescheduled" and run["steps"][0]["note"] == "the leader travels"
    watch = world.auth(Role.WATCH_OFFICER)
    old = _ok(app_client.get(f"/api/calls/requests/{call}", headers=watch))
    new = _ok(app_client.get(f"/api/calls/requests/{run['follow_up_call_id']}", headers=watch))
    assert old["status"] == "cancelled"
    assert (new["status"], new["leader_id"], new["talk_minutes"]) == (
        "requested",
        old["leader_id"],
        old["talk_minutes"],
    )
    assert _opening(database, run["steps"][0]["ledger_index"])["kind"] == "call.rescheduled"
    # The follow-up is placed by the next run of the scheduler like any request.
    schedule = _ok(
        app_client.post("/api/calls/schedule", json={"method": "greedy"}, headers=watch), 201
    )
    assert run["follow_up_call_id"] in [c["request_id"] for c in schedule["calls"]]
    assert call not in [c["request_id"] for c in schedule["calls"]]
    # Nothing more happens to a rescheduled call.
    assert _move(app_client, world, call, "confirmed").status_code == 409


def test_a_call_confirmed_or_cancelled_on_the_call_desk_follows_there(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    first, second = _scheduled(app_client, world, desk, "ie", "fr")
    watch = world.auth(Role.WATCH_OFFICER)
    for call in (first, second):
        _designate(app_client, world, call)  # the call's record exists from here
    _ok(app_client.post(f"/api/calls/requests/{first}/confirm", headers=watch))
    assert _ok(app_client.get(f"/api/calls/{first}/run", headers=watch))["state"] == "confirmed"
    run = _ok(_move(app_client, world, first, "placing"))
    assert run["steps"][-1]["from_state"] == "confirmed"
    _ok(
        app_client.post(
            f"/api/calls/requests/{second}/cancel", json={"reason": "no"}, headers=watch
        )
    )
    assert _ok(app_client.get(f"/api/calls/{second}/run", headers=watch))["state"] == "cancelled"
    assert _move(app_client, world, second, "confirmed").status_code == 409
