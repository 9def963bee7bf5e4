"""The calls page (Gantt chart, call sheet, left-out requests) and the precedence editor."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from tests.calls.helpers import Desk, build_desk, request_body
from tests.factories import World, log_in_form


@pytest.fixture
def desk(database: Database, clock: ManualClock, world: World) -> Desk:
    with database.transaction() as session:
        return build_desk(session, clock, existing=world.offices)


def test_the_calls_page_draws_the_schedule(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    for key in ("jp", "np", "et"):
        response = app_client.post(
            "/api/calls/requests",
            json=request_body(desk, key),
            headers=world.auth(Role.WATCH_OFFICER),
        )
        assert response.status_code == 201, response.text
    csrf = log_in_form(app_client, "watch-officer")
    empty = app_client.get("/calls")
    assert empty.status_code == 200 and "No schedule yet" in empty.text
    ran = app_client.post("/calls/schedule", data={"csrf_token": csrf}, follow_redirects=False)
    assert ran.status_code == 303 and ran.headers["location"] == "/calls?notice=scheduled"
    page = app_client.get("/calls?notice=scheduled").text
    assert 'data-testid="gantt"' in page and "the call sheet below is the new plan" in page
    # A call's tooltip gives the leader's local time; Kathmandu is 5:45 ahead of UTC.
    assert re.search(r"<title>Sushila Adhikari: [^<]* Asia/Kathmandu for the leader", page)
    assert "Hiroshi Tanabe" in page and "Akiko Mori" in page
    assert "no interpreter for Amharic" in page
    call = re.search(r'action="/calls/(c-[0-9a-f]{20})/confirm"', page)
    assert call is not None
    confirmed = app_client.post(
        f"/calls/{call.group(1)}/confirm", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    confirmed_page = app_client.get("/calls").text
    assert "; confirmed</title>" in confirmed_page
    # Readable without hovering: a legend that does not rest on colour alone, the
    # confirmed call marked in its label, and the call sheet named as the chart in words.
    legend = re.search(r'data-testid="gantt-legend">(.*?)</ul>', confirmed_page, re.S)
    assert legend is not None
    assert "to confirm (dashed edge)" in legend.group(1) and "solid edge" in legend.group(1)
    assert "The principal is busy" in legend.group(1)
    assert "call sheet</a>" in confirmed_page and 'href="#sheet-h"' in confirmed_page
    bars = re.findall(
        r'<rect class="(call(?: confirmed)?)"[^>]*>.*?</rect>\s*'
        r'<text class="name"[^>]*>([^<]*)</text>',
        confirmed_page,
        re.S,
    )
    assert [kind for kind, _ in bars].count("call confirmed") == 1, bars
    # A bar too narrow for its name has none; one with a name says whether it is confirmed.
    for kind, label in bars:
        assert not label or label.startswith("✓ ") == (kind == "call confirmed"), bars
    # The calendar says which days the principal keeps and what comes first.
    assert "07:00–22:00\n    every day;" in confirmed_page
    assert "the order of precedence comes first, then urgency" in confirmed_page
    app_client.put(
        f"/api/calls/calendars/{desk.principal.id}",
        json={"days_off_country": "US", "rank_policy": "urgency"},
        headers=world.auth(Role.WATCH_OFFICER),
    ).raise_for_status()
    kept = app_client.get("/calls").text
    assert "on working days (the weekends and public holidays of US are days off)" in kept
    assert "the more urgent request comes first, then the order of precedence" in kept


def test_who_sees_the_calls_page(app_client: TestClient, world: World, desk: Desk) -> None:
    assert app_client.get("/calls", follow_redirects=False).status_code == 303
    log_in_form(app_client, "principal")
    page = app_client.get("/calls")
    assert page.status_code == 200 and "Run the scheduler" not in page.text
    assert app_client.get("/calls/precedence").status_code == 403
    log_in_form(app_client, "sender")
    assert app_client.get("/calls").status_code == 403


def test_the_precedence_editor(app_client: TestClient, world: World, desk: Desk) -> None:
    csrf = log_in_form(app_client, "protocol-officer")
    assert "tiers:" in app_client.get("/calls/precedence").text
    bad = app_client.post(
        "/calls/precedence",
        data={"csrf_token": csrf, "ranking": "tiers:\n  - [Nobody]\n", "reason": "Try"},
    )
    assert bad.status_code == 400 and "no person named" in bad.text and "Nobody" in bad.text
    saved = app_client.post(
        "/calls/precedence",
        data={
            "csrf_token": csrf,
            "ranking": "tiers:\n  - [Hiroshi Tanabe, Hélène Marchand]\n  - [Dawit Tesfaye]\n",
            "reason": "After the summit",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    ranking = app_client.get(
        "/api/calls/precedence", headers=world.auth(Role.PROTOCOL_OFFICER)
    ).json()
    assert [(r["name"], r["tier"]) for r in ranking["ranks"]] == [
        ("Hiroshi Tanabe", 1),
        ("Hélène Marchand", 1),
        ("Dawit Tesfaye", 2),
    ]
    assert "After the summit" in app_client.get("/calls/precedence").text


def _ranked(app_client: TestClient, world: World) -> list[tuple[str, int, int]]:
    ranking = app_client.get(
        "/api/calls/precedence", headers=world.auth(Role.PROTOCOL_OFFICER)
    ).json()
    return [(r["name"], r["tier"], r["position"]) for r in ranking["ranks"]]


def _rows(page: str) -> list[tuple[str, str, str]]:
    """The list editor's rows as shown: (person id, tier, order)."""
    return re.findall(
        r'name="person" value="(\d+)">.*?name="tier"[^>]*value="([^"]*)".*?'
        r'name="position"[^>]*value="([^"]*)"',
        page,
        flags=re.S,
    )


def test_the_precedence_list_editor_reorders_removes_and_adds(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    csrf = log_in_form(app_client, "protocol-officer")
    first = app_client.post(
        "/calls/precedence",
        data={
            "csrf_token": csrf,
            "ranking": "tiers:\n  - [Hiroshi Tanabe, Hélène Marchand]\n  - [Dawit Tesfaye]\n",
            "reason": "To start from",
        },
        follow_redirects=False,
    )
    assert first.status_code == 303, first.text
    page = app_client.get("/calls/precedence").text
    rows = _rows(page)
    assert [(t, o) for _, t, o in rows] == [("1", "1"), ("1", "2"), ("2", "1")]
    (tanabe, _, _), (marchand, _, _), (tesfaye, _, _) = rows
    newcomer = re.search(r'<option value="(\d+)">Sushila Adhikari', page)
    assert newcomer is not None
    # Marchand before Tanabe (orders, not places: 7 before 9), Tesfaye removed, Adhikari
    # added to the first tier, last in it.
    saved = app_client.post(
        "/calls/precedence/list",
        data={
            "csrf_token": csrf,
            "person": [tanabe, marchand, tesfaye],
            "tier": ["1", "1", "2"],
            "position": ["9", "7", "1"],
            "remove": [tesfaye],
            "add_person": newcomer.group(1),
            "add_tier": "1",
            "reason": "After the state visit",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert _ranked(app_client, world) == [
        ("Hélène Marchand", 1, 1),
        ("Hiroshi Tanabe", 1, 2),
        ("Sushila Adhikari", 1, 3),
    ]


def test_the_precedence_list_editor_marks_each_problem_and_keeps_the_input(
    app_client: TestClient, world: World, desk: Desk
) -> None:
    csrf = log_in_form(app_client, "protocol-officer")
    page = app_client.get("/calls/precedence").text
    leaders = re.findall(r'<option value="(\d+)">([^<,]+)', page)[:2]
    (one, _), (two, _) = leaders
    refused = app_client.post(
        "/calls/precedence/list",
        data={
            "csrf_token": csrf,
            "person": [one, two],
            "tier": ["first", "2"],
            "position": ["1", "1"],
            "reason": "A try",
        },
    )
    assert refused.status_code == 400
    assert "Not saved: correct what is marked below." in refused.text
    assert f'id="rank-{one}-error">the tier is a whole number' in refused.text
    assert f'id="rank-{two}-error"' not in refused.text
    # As typed: the wrong tier and the reason come back for correcting.
    assert _rows(refused.text) == [(one, "first", "1"), (two, "2", "1")]
    assert 'value="A try"' in refused.text
    no_reason = app_client.post(
        "/calls/precedence/list",
        data={"csrf_token": csrf, "person": [one], "tier": ["1"], "position": ["1"], "reason": " "},
    )
    assert no_reason.status_code == 400 and 'id="reason-error"' in no_reason.text
    torn = app_client.post(
        "/calls/precedence/list",
        data={"csrf_token": csrf, "person": [one, two], "tier": ["1"], "position": ["1"]},
    )
    assert torn.status_code == 400
    # Nothing was saved: there is still no order of precedence.
    current = app_client.get("/api/calls/precedence", headers=world.auth(Role.PROTOCOL_OFFICER))
    assert current.status_code == 404
