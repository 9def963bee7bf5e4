"""A call's page: reading it changes nothing; its forms act, and a refused one comes back
inline with what was typed; the principal downloads the packet."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.ledger import service as ledger_service
from tests.calls.helpers import Desk, build_desk, request_body
from tests.factories import World
from tests.identity.helpers import csrf_of, log_in


@pytest.fixture
def desk(database: Database, clock: ManualClock, world: World) -> Desk:
    with database.transaction() as session:
        return build_desk(session, clock, existing=world.offices)


def _call(client: TestClient, world: World, desk: Desk) -> str:
    watch = world.auth(Role.WATCH_OFFICER)
    created = client.post("/api/calls/requests", json=request_body(desk, "ie"), headers=watch)
    assert created.status_code == 201, created.text
    assert (
        client.post("/api/calls/schedule", json={"method": "greedy"}, headers=watch).status_code
        == 201
    )
    call: str = created.json()["id"]
    for role, kind in [(Role.PRINCIPAL_STAFF, "notetaker"), (Role.PROTOCOL_OFFICER, "clearing")]:
        response = client.post(
            f"/api/calls/{call}/run/participants",
            json={"user_id": world.users[role].id, "kind": kind},
            headers=watch,
        )
        assert response.status_code == 200, response.text
    return call


def _size(database: Database) -> int:
    with database.transaction(write=False) as session:
        return ledger_service.sequenced_size(session)


def test_the_desk_moves_the_call_from_its_page_and_a_refusal_shows_inline(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    call = _call(app_client, world, desk)
    log_in(app_client, "watch-officer")
    sheet = app_client.get("/calls")
    assert f'href="/briefings/{call}"' in sheet.text
    before = _size(database)
    page = app_client.get(f"/briefings/{call}")
    assert page.status_code == 200 and 'data-testid="call-state">scheduled' in page.text
    assert _size(database) == before  # reading logs nothing
    token = csrf_of(page.text)
    moved = app_client.post(
        f"/briefings/{call}/steps",
        data={"state": "confirmed", "note": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    refused = app_client.post(
        f"/briefings/{call}/steps", data={"state": "completed", "csrf_token": token}
    )
    assert refused.status_code == 409
    assert 'data-testid="error-steps"' in refused.text
    assert "a confirmed call cannot become completed" in refused.text


def test_staff_write_the_briefing_in_the_page_and_the_principal_downloads_the_packet(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    call = _call(app_client, world, desk)
    log_in(app_client, "principal-staff")
    page = app_client.get(f"/briefings/{call}")
    token = csrf_of(page.text)
    saved = app_client.post(
        f"/briefings/{call}/briefing",
        data={
            "talking_points": "Trade\r\nClimate <b>now</b>",
            "background": "Warm.",
            "pronunciation": "",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = app_client.get(f"/briefings/{call}?notice=briefing")
    assert "Climate &lt;b&gt;now&lt;/b&gt;" in shown.text  # escaped, never markup
    # Clearing is not the writer's: refused inline.
    assert (
        app_client.post(
            f"/briefings/{call}/briefing/submit", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    refused = app_client.post(f"/briefings/{call}/briefing/clear", data={"csrf_token": token})
    assert refused.status_code == 403 and 'data-testid="error-briefing-clearance"' in refused.text
    app_client.cookies.clear()
    log_in(app_client, "protocol-officer")
    token = csrf_of(app_client.get(f"/briefings/{call}").text)
    cleared = app_client.post(
        f"/briefings/{call}/briefing/clear", data={"csrf_token": token}, follow_redirects=False
    )
    assert cleared.status_code == 303
    app_client.cookies.clear()
    log_in(app_client, "principal")
    page = app_client.get(f"/briefings/{call}")
    assert 'data-testid="packet-pdf"' in page.text
    pdf = app_client.get(f"/briefings/{call}/packet.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() in page.text
    # A sender office's member gets no page of the call.
    app_client.cookies.clear()
    log_in(app_client, "sender")
    assert app_client.get(f"/briefings/{call}").status_code == 403


def test_the_call_sheet_shows_each_calls_run_and_who_has_checked_in_live(
    app_client: TestClient, world: World, desk: Desk, database: Database
) -> None:
    from pouch.calls import live as calls_live

    call = _call(app_client, world, desk)
    office = world.offices["president-elect"].id
    with database.transaction(write=False) as session:
        before = calls_live.stamp(session, office_id=office)
    checked = app_client.post(
        f"/api/calls/{call}/run/check-in", headers=world.auth(Role.PRINCIPAL_STAFF)
    )
    assert checked.status_code == 200, checked.text
    with database.transaction(write=False) as session:
        assert calls_live.stamp(session, office_id=office) != before  # the sheet reloads
    log_in(app_client, "watch-officer")
    sheet = app_client.get("/calls").text
    assert "in: Principal-Staff (notetaker)" in sheet
    assert 'data-testid="call-run"' in sheet and ">scheduled</a>" in sheet


def test_the_principal_reads_the_packet_as_issued_while_a_new_draft_is_written(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    call = _call(app_client, world, desk)
    staff, protocol = world.auth(Role.PRINCIPAL_STAFF), world.auth(Role.PROTOCOL_OFFICER)
    for points in (["Issued point"], ["Draft point"]):
        saved = app_client.put(
            f"/api/calls/{call}/briefing", json={"talking_points": points}, headers=staff
        )
        assert saved.status_code == 200, saved.text
        if points == ["Issued point"]:
            assert app_client.post(f"/api/calls/{call}/briefing/submit", headers=staff).is_success
            assert app_client.post(f"/api/calls/{call}/briefing/clear", headers=protocol).is_success
    log_in(app_client, "principal")
    page = app_client.get(f"/briefings/{call}").text
    assert "Issued point" in page and "Draft point" not in page
    assert "a new version of the briefing is in preparation (draft)" in page


def test_the_watch_floor_lists_the_days_calls_with_their_check_ins(
    app_client: TestClient, world: World, desk: Desk, clock: ManualClock
) -> None:
    call = _call(app_client, world, desk)
    watch = world.auth(Role.WATCH_OFFICER)
    start = datetime.fromisoformat(
        app_client.get(f"/api/calls/requests/{call}", headers=watch).json()["call"]["start"]
    )
    log_in(app_client, "watch-officer")
    # More than a day ahead: not yet the day's.
    floor = app_client.get("/watch").text
    assert "The day's calls" in floor and f'href="/briefings/{call}"' not in floor
    assert 'data-live-source="/calls/stream?since=' in floor
    clock.advance(start - clock.now() - timedelta(hours=1))
    log_in(app_client, "watch-officer")  # days later: a new session
    floor = app_client.get("/watch").text
    row = re.search(
        rf'<tr>(?:(?!</tr>).)*href="/briefings/{call}"(?:(?!</tr>).)*</tr>', floor, re.S
    )
    assert row is not None, floor
    assert "scheduled" in row.group(0) and "(notetaker)" in row.group(0)
    checked = app_client.post(
        f"/api/calls/{call}/run/check-in", headers=world.auth(Role.PRINCIPAL_STAFF)
    )
    assert checked.status_code == 200, checked.text
    after = app_client.get("/watch").text
    row = re.search(
        rf'<tr>(?:(?!</tr>).)*href="/briefings/{call}"(?:(?!</tr>).)*</tr>', after, re.S
    )
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert "(notetaker)" in cells[3] and "(notetaker)" not in cells[4], cells
    # An auditor reads schedules too: the same list, read-only.
    app_client.cookies.clear()
    log_in(app_client, "auditor")
    assert f'href="/briefings/{call}"' in app_client.get("/watch").text


def test_the_principals_inbox_lists_the_calls_ahead_and_their_packets(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    call = _call(app_client, world, desk)
    log_in(app_client, "principal-staff")
    inbox = app_client.get("/inbox").text
    panel = re.search(r'<section id="inbox-calls".*?</section>', inbox, re.S)
    assert panel is not None
    assert f'href="/briefings/{call}"' in panel.group(0) and "not yet issued" in panel.group(0)
    assert 'data-live-source="/calls/stream?since=' in inbox
    # The principal too.
    app_client.cookies.clear()
    log_in(app_client, "principal")
    assert 'id="inbox-calls"' in app_client.get("/inbox").text
