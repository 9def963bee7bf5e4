"""Login throttling: a growing wait per user name and per address, shared through the
database, and an alert to the auditors after repeated failures."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import TooManyAttempts
from pouch.events import EventKind
from pouch.identity import throttle
from pouch.identity.models import Role, User
from pouch.ledger.store import LedgerOpening
from pouch.messages.models import Notification
from tests.factories import PASSWORD, World
from tests.identity.helpers import log_in

WRONG = "not the password 123"


def _give_auditor_an_address(database: Database, world: World) -> None:
    with database.transaction() as session:
        session.execute(
            update(User)
            .where(User.id == world.users[Role.AUDITOR].id)
            .values(email="auditor@mfa.example")
        )


def _alerts(database: Database) -> list[tuple[dict[str, object], list[int]]]:
    with database.transaction(write=False) as session:
        rows = session.scalars(
            select(LedgerOpening)
            .where(LedgerOpening.kind == EventKind.LOGIN_ALERT)
            .order_by(LedgerOpening.idx)
        )
        return [(json.loads(row.event), json.loads(row.parties or "[]")) for row in rows]


def _fail_until_counted(client: TestClient, clock: ManualClock, username: str) -> httpx.Response:
    """One wrong password actually checked: a refusal is waited out first."""
    while True:
        response = log_in(client, username, WRONG)
        if response.status_code != 429:
            return response
        clock.advance(timedelta(seconds=int(response.headers["retry-after"])))


def test_thirty_wrong_passwords_then_the_right_one_waits(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    _give_auditor_an_address(database, world)
    refusals = 0
    for _ in range(30):
        response = log_in(app_client, "principal", WRONG)
        if response.status_code == 429:
            refusals += 1
            clock.advance(timedelta(seconds=int(response.headers["retry-after"])))
            response = log_in(app_client, "principal", WRONG)
        assert response.status_code == 401, response.text
        assert "Unknown user or wrong password." in response.text
    assert refusals == 25  # the first five come at once, every later one waits

    # The right password, at once: refused without being checked, for the full 15 minutes.
    refused = log_in(app_client, "principal")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "900"
    assert "Too many failed logins" in refused.text
    assert "pouch_session" not in app_client.cookies
    clock.advance(timedelta(seconds=899))
    assert log_in(app_client, "principal").status_code == 429
    clock.advance(timedelta(seconds=1))
    assert log_in(app_client, "principal").status_code == 303
    assert app_client.get("/api/me").json()["username"] == "principal"

    # The success cleared the user name's count (this address has failed 30 times and
    # still waits; from elsewhere the principal may try at once).
    policy = throttle.Policy.from_settings(app_client.app.state.settings)  # type: ignore[attr-defined]
    with database.transaction(write=False) as session:
        throttle.check(
            session, username="principal", address="elsewhere", now=clock.now(), policy=policy
        )
        assert session.get(throttle.LoginThrottle, ("user", throttle.name_key("principal"))) is None

    # The auditors were told once, at the tenth failure: a logged event the principal's
    # office may read, and an e-mail; neither carries a password.
    alerts = _alerts(database)
    assert len(alerts) == 1
    event, parties = alerts[0]
    assert event["kind"] == "login.alert"
    assert event["user"] == world.users[Role.PRINCIPAL].id
    assert event["failures"] == 10
    assert event["address"] == "testclient"
    assert parties == [world.offices["president-elect"].id]
    with database.transaction(write=False) as session:
        mails = list(session.scalars(select(Notification).where(Notification.target.like("aud%"))))
    assert [m.subject for m in mails] == ["[Pouch] ALARM: 10 failed logins in a row for one user"]
    assert mails[0].payload["user"] == world.users[Role.PRINCIPAL].id
    for text in [json.dumps(event), json.dumps(mails[0].payload)]:
        assert WRONG not in text
        assert PASSWORD not in text


def test_the_wait_doubles_from_the_fifth_failure(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    policy = throttle.Policy.from_settings(app_client.app.state.settings)  # type: ignore[attr-defined]
    waits = []
    for _ in range(11):
        _fail_until_counted(app_client, clock, "watch-officer")
        with database.transaction(write=False) as session:
            try:  # from another address: the user name's own wait
                throttle.check(
                    session,
                    username="watch-officer",
                    address="elsewhere",
                    now=clock.now(),
                    policy=policy,
                )
                waits.append(0)
            except TooManyAttempts as refused:
                waits.append(refused.wait_seconds)
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]


def test_unknown_and_known_names_are_refused_alike(
    app_client: TestClient, clock: ManualClock, world: World
) -> None:
    for username in ["nobody-here", "translator"]:
        for _ in range(5):
            assert log_in(app_client, username, WRONG).status_code == 401
        refused = log_in(app_client, username, WRONG)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
    # The names were counted as hashes only.
    database: Database = app_client.app.state.database  # type: ignore[attr-defined]
    with database.transaction(write=False) as session:
        keys = set(session.scalars(select(throttle.LoginThrottle.key)))
    assert "nobody-here" not in keys
    assert throttle.name_key("nobody-here") in keys


def test_one_address_trying_many_names_is_throttled_and_reported(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    _give_auditor_an_address(database, world)
    names = [f"guess-{n}" for n in range(20)]
    for name in names:  # one try each: no name reaches its own limit
        assert log_in(app_client, name, WRONG).status_code == 401
    # The address has used up its 20 failures: even a real user with the right password waits.
    refused = log_in(app_client, "auditor")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    clock.advance(timedelta(seconds=30))
    assert log_in(app_client, "auditor").status_code == 303
    # The success of one account does not reset the address.
    app_client.cookies.clear()
    assert log_in(app_client, "guess-x", WRONG).status_code == 401
    assert log_in(app_client, "guess-y", WRONG).status_code == 429

    alerts = _alerts(database)
    assert len(alerts) == 1  # at the fifth name, once
    event, parties = alerts[0]
    assert event["user"] is None
    assert event["users_tried"] == 5
    assert event["address"] == "testclient"
    assert parties == []


def test_failures_are_forgotten_after_a_quiet_day(
    app_client: TestClient, clock: ManualClock, world: World
) -> None:
    for _ in range(5):
        log_in(app_client, "protocol-officer", WRONG)
    assert log_in(app_client, "protocol-officer", WRONG).status_code == 429
    clock.advance(timedelta(days=1))
    # A new run: five free failures again.
    for _ in range(5):
        assert log_in(app_client, "protocol-officer", WRONG).status_code == 401
    assert log_in(app_client, "protocol-officer", WRONG).status_code == 429


def test_processes_share_the_count(
    settings: object, database: Database, clock: ManualClock, world: World
) -> None:
    """Two applications on one database (two ``pouch serve`` processes) add up failures."""
    from pouch.app import create_app

    apps = [create_app(settings, database=database, clock=clock, background=False) for _ in "ab"]  # type: ignore[arg-type]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        for n in range(5):
            client = first if n % 2 else second
            assert log_in(client, "interpreter", WRONG).status_code == 401
        assert log_in(first, "interpreter").status_code == 429
        assert log_in(second, "interpreter").status_code == 429


def test_an_ipv6_client_is_counted_by_its_network() -> None:
    one = throttle.address_key("2001:db8:aa:bb::1")
    other = throttle.address_key("2001:db8:aa:bb:ffff::2")
    assert one == other == "2001:db8:aa:bb::/64"
    assert throttle.address_key("2001:db8:aa:bc::1") != one
