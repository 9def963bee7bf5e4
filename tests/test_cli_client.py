"""The command line acts as a person: ``pouch login`` keeps that person's token, and every
officer command calls the HTTP API with it, never the database.

A real Pouch is served over HTTP on a database of its own (SQLite and PostgreSQL);
the commands run through typer's CliRunner with their configuration directory in
a temporary folder and a database URL that points nowhere: whatever they do,
they do through the server.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import select
from sqlalchemy import text as sqltext

from pouch.app import create_app
from pouch.cli import app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import worker
from pouch.messages.models import Message, MessageEvent
from pouch.settings import Settings
from tests.factories import World, build_world, make_token, make_user
from tests.messages.helpers import submit
from tests.monitor.helpers import serve
from tests.officers import NOWHERE, person


@dataclass
class Served:
    url: str
    database: Database
    clock: ManualClock
    world: World
    vkey: str


@pytest.fixture
def pouch(fresh_database: Database, clock: ManualClock, settings: Settings) -> Iterator[Served]:
    world = build_world(fresh_database, clock)
    served = create_app(settings, database=fresh_database, clock=clock, background=False)
    with serve(served) as url:
        yield Served(url, fresh_database, clock, world, served.state.ledger.vkey)


def test_login_keeps_the_token_private_and_whoami_names_the_user(
    pouch: Served, tmp_path: Path
) -> None:
    watch = person(tmp_path, "watch")
    code, output = watch.login(pouch.url + "/", pouch.world.tokens[Role.WATCH_OFFICER])
    assert code == 0, output
    assert f"logged in to {pouch.url} as watch-officer (watch_officer of Office ops)" in output
    assert stat.S_IMODE(watch.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(watch.credentials.parent.stat().st_mode) == 0o700
    kept = json.loads(watch.credentials.read_text())
    assert kept == {"url": pouch.url, "token": pouch.world.tokens[Role.WATCH_OFFICER]}
    code, output = watch.run("whoami")
    assert code == 0 and output == f"watch-officer (watch_officer of Office ops) at {pouch.url}"
    code, output = watch.run("logout")
    assert code == 0 and "logged out" in output and not watch.credentials.exists()
    code, output = watch.run("whoami")
    assert code == 1 and "not logged in: run pouch login --url URL" in output


def test_login_refuses_a_token_the_server_refuses(pouch: Served, tmp_path: Path) -> None:
    someone = person(tmp_path, "someone")
    code, output = someone.login(pouch.url, "not-a-token")
    assert code == 1 and "the bearer token is not a Pouch API token" in output
    assert not someone.credentials.exists()
    code, output = someone.run("login", "--url", "ftp://example.org", "--token-stdin")
    assert code == 1 and "not an http:// or https:// address" in output


def test_without_login_an_officer_command_says_how_to_log_in(pouch: Served, tmp_path: Path) -> None:
    code, output = person(tmp_path, "nobody").run("messages", "queue")
    assert code == 1
    assert output.startswith("error: not logged in: run pouch login --url URL")


def test_a_credentials_file_others_can_read_is_refused(pouch: Served, tmp_path: Path) -> None:
    watch = person(tmp_path, "watch")
    assert watch.login(pouch.url, pouch.world.tokens[Role.WATCH_OFFICER])[0] == 0
    watch.credentials.chmod(0o644)
    code, output = watch.run("messages", "queue")
    assert code == 1 and "can be read by others (mode 0644): not used" in output
    assert "Revoke its token" in output
    watch.credentials.chmod(0o600)
    assert watch.run("messages", "queue")[0] == 0


def test_a_revoked_token_is_refused_with_the_servers_reason(pouch: Served, tmp_path: Path) -> None:
    token = pouch.world.tokens[Role.WATCH_OFFICER]
    watch = person(tmp_path, "watch")
    assert watch.login(pouch.url, token)[0] == 0
    auth = {"Authorization": f"Bearer {token}"}
    (mine,) = httpx.get(f"{pouch.url}/api/tokens", headers=auth).json()
    assert httpx.delete(f"{pouch.url}/api/tokens/{mine['id']}", headers=auth).status_code == 204
    reason = httpx.get(f"{pouch.url}/api/queue", headers=auth).json()["detail"]
    code, output = watch.run("messages", "queue")
    assert code == 1
    assert f"error: {reason}" in output and "revoked" in reason
    assert "make a new one on the web and run pouch login" in output


def test_the_environment_overrides_the_file(pouch: Served, tmp_path: Path) -> None:
    watch = person(tmp_path, "watch")
    assert watch.login(pouch.url, pouch.world.tokens[Role.WATCH_OFFICER])[0] == 0
    auditor = person(tmp_path, "watch", POUCH_TOKEN=pouch.world.tokens[Role.AUDITOR])
    code, output = auditor.run("whoami")
    assert code == 0 and output.startswith("auditor (auditor of Office ops)")
    scripted = person(
        tmp_path, "script", POUCH_URL=pouch.url, POUCH_TOKEN=pouch.world.tokens[Role.AUDITOR]
    )
    assert scripted.run("whoami")[1].startswith("auditor ")


def test_a_server_that_does_not_answer_is_a_clear_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    nobody_home = person(
        tmp_path, "watch", POUCH_URL=f"http://127.0.0.1:{port}", POUCH_TOKEN="pouch_x"
    )
    code, output = nobody_home.run("messages", "queue")
    assert code == 1
    assert output.startswith(f"error: cannot reach Pouch at http://127.0.0.1:{port}")
    assert "Traceback" not in output


def test_two_officers_hold_and_approve_each_as_themselves(pouch: Served, tmp_path: Path) -> None:
    ops = pouch.world.offices["ops"]
    with pouch.database.transaction() as session:
        second = make_user(session, pouch.clock, "watch-two", [(Role.WATCH_OFFICER, ops)])
        second_token = make_token(session, pouch.clock, second, Role.WATCH_OFFICER, ops)
    public_id = submit(pouch.database, pouch.clock, pouch.world).message.public_id
    first = person(tmp_path, "first")
    other = person(tmp_path, "second")
    assert first.login(pouch.url, pouch.world.tokens[Role.WATCH_OFFICER])[0] == 0
    assert other.login(pouch.url, second_token)[0] == 0

    code, output = first.run("messages", "queue")
    assert code == 0 and public_id in output and "Office ie-taoiseach" in output
    code, output = first.run("messages", "hold", public_id, "--minutes", "30", "--reason", "x")
    assert code == 1 and "error: --reason: String should have at least 3 characters" in output
    code, output = first.run(
        "messages", "hold", public_id, "--minutes", "30", "--reason", "verify the sender"
    )
    assert code == 0, output
    hold_id = re.search(r"hold (\d+) requested", output).group(1)  # type: ignore[union-attr]
    code, output = first.run("messages", "approve", public_id, hold_id)
    assert code == 1 and "second officer" in output
    code, output = other.run("messages", "approve", public_id, hold_id)
    assert code == 0 and f"hold {hold_id}: active" in output
    code, output = other.run("messages", "release", public_id, hold_id)
    assert code == 0 and "released" in output
    code, output = first.run("messages", "show", public_id)
    assert code == 0 and "hold.requested" in output and "hold.released" in output

    with pouch.database.transaction(write=False) as session:
        message = session.scalar(select(Message).where(Message.public_id == public_id))
        assert message is not None
        actors = {
            event.kind: event.actor_user_id
            for event in session.scalars(
                select(MessageEvent).where(MessageEvent.message_id == message.id)
            )
        }
    assert actors["hold.requested"] == pouch.world.users[Role.WATCH_OFFICER].id
    assert actors["hold.approved"] == second.id
    assert actors["hold.released"] == second.id


def test_the_workers_failing_rows_are_listed_for_auditors(pouch: Served, tmp_path: Path) -> None:
    public_id = submit(pouch.database, pouch.clock, pouch.world).message.public_id
    with pouch.database.transaction() as session:  # a row the ORM cannot load
        session.execute(
            sqltext("UPDATE messages SET precedence = 'BOGUS' WHERE public_id = :id"),
            {"id": public_id},
        )
    auditor = person(tmp_path, "auditor")
    assert auditor.login(pouch.url, pouch.world.tokens[Role.AUDITOR])[0] == 0
    code, output = auditor.run("messages", "failures")
    assert (code, output.strip()) == (0, "The worker has no failing rows.")
    pouch.clock.advance(timedelta(hours=3))
    with pouch.database.transaction() as session:
        assert worker.run_due(session, now=pouch.clock.now()).failed == 1
    code, output = auditor.run("messages", "failures")
    assert code == 0 and "deliver" in output and "BOGUS" in output, output
    watch = person(tmp_path, "watch")
    assert watch.login(pouch.url, pouch.world.tokens[Role.WATCH_OFFICER])[0] == 0
    code, output = watch.run("messages", "failures")
    assert code == 1 and output.startswith("error: "), output


def test_an_office_is_named_by_its_id_or_its_slug(pouch: Served, tmp_path: Path) -> None:
    admin = person(tmp_path, "admin")
    assert admin.login(pouch.url, pouch.world.tokens[Role.ADMINISTRATOR])[0] == 0
    code, output = admin.run("office", "tag-key", "--office", "ops")
    assert code == 0 and output.startswith("key "), output
    code, output = admin.run("office", "tag-key", "--office", str(pouch.world.offices["ops"].id))
    assert code == 0 and output.startswith("key "), output
    code, output = admin.run("office", "tag-key", "--office", "atlantis")
    assert code == 1
    assert output.startswith("error: --office: no office 'atlantis': give its id or its slug")


def test_listing_commands_print_the_apis_json_for_scripts(pouch: Served, tmp_path: Path) -> None:
    public_id = submit(pouch.database, pouch.clock, pouch.world).message.public_id
    watch = person(tmp_path, "watch")
    assert watch.login(pouch.url, pouch.world.tokens[Role.WATCH_OFFICER])[0] == 0
    code, output = watch.run("messages", "queue", "--json")
    assert code == 0, output
    assert [m["id"] for m in json.loads(output)] == [public_id]
    code, output = watch.run("messages", "show", public_id, "--json")
    assert code == 0 and json.loads(output)["message"]["id"] == public_id
    assert json.loads(output)["events"][0]["kind"] == "accepted"
    for command in (("calls", "requests"), ("language", "queue")):
        code, output = watch.run(*command, "--json")
        assert code == 0, (command, output)
        assert isinstance(json.loads(output), list | dict), command
    auditor = person(tmp_path, "auditor")
    assert auditor.login(pouch.url, pouch.world.tokens[Role.AUDITOR])[0] == 0
    code, output = auditor.run("messages", "failures", "--json")
    assert (code, json.loads(output)) == (0, [])


def test_the_server_decides_who_may_act(pouch: Served, tmp_path: Path) -> None:
    public_id = submit(pouch.database, pouch.clock, pouch.world).message.public_id
    principal = person(tmp_path, "principal")
    assert principal.login(pouch.url, pouch.world.tokens[Role.PRINCIPAL])[0] == 0
    code, output = principal.run("messages", "route", public_id)
    assert code == 1 and output.startswith("error: ") and "watch officer" in output
    watch = person(tmp_path, "watch")
    assert watch.login(pouch.url, pouch.world.tokens[Role.WATCH_OFFICER])[0] == 0
    code, output = watch.run("messages", "route", public_id)
    assert code == 0 and f"{public_id} delivered" in output
    with pouch.database.transaction(write=False) as session:
        routed = session.scalars(
            select(MessageEvent).where(MessageEvent.kind.in_(("routed", "delivered")))
        ).all()
    assert {e.actor_user_id for e in routed} == {pouch.world.users[Role.WATCH_OFFICER].id}


def test_a_decision_the_server_wants_signed_is_refused_with_its_reason(
    fresh_database: Database, clock: ManualClock, settings: Settings, tmp_path: Path
) -> None:
    world = build_world(fresh_database, clock)
    public_id = submit(fresh_database, clock, world).message.public_id
    signing = settings.model_copy(update={"signed_decisions": "required"})
    served = create_app(signing, database=fresh_database, clock=clock, background=False)
    with serve(served) as url:
        watch = person(tmp_path, "watch")
        assert watch.login(url, world.tokens[Role.WATCH_OFFICER])[0] == 0
        code, output = watch.run("messages", "route", public_id)
        assert code == 1 and output.startswith("error: decisions must be signed")
        assert "take this decision in the browser" in output
        assert watch.run("messages", "queue")[0] == 0  # reading needs no signature


def test_as_is_gone(tmp_path: Path) -> None:
    code, output = person(tmp_path, "someone").run(
        "messages", "route", "m-0123456789abcdef0123", "--as", "watch1"
    )
    assert code == 2 and "No such option: --as" in output


# --- no officer command opens the database ------------------------------------------

#: The groups where a person acts; every command in them is listed below.
OFFICER_GROUPS = ("messages", "calls", "language", "office")
#: Commands in those groups that act for no person: the operator's workers (they open
#: the database, on the server) and the language desk's engines run locally.
NOT_OFFICER = {
    ("messages", "due"),
    ("language", "process"),
    ("language", "work"),
    ("language", "detect"),
    ("language", "translate"),
}
#: Every officer command, with arguments that reach the server (ids that do not exist
#: are answered by the server, which is the point).
OFFICER_COMMANDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("whoami",): (),
    ("messages", "queue"): (),
    ("messages", "failures"): (),
    ("messages", "show"): ("m-00000000000000000000",),
    ("messages", "route"): ("m-00000000000000000000",),
    ("messages", "hold"): ("m-00000000000000000000", "--minutes", "5", "--reason", "check"),
    ("messages", "approve"): ("m-00000000000000000000", "1"),
    ("messages", "release"): ("m-00000000000000000000", "1"),
    ("messages", "withdraw"): ("m-00000000000000000000", "1"),
    ("office", "tag-key"): ("--office", "999999"),
    ("office", "check"): ("--office", "999999", "--vkey", "{vkey}"),
    ("language", "queue"): ("--machine",),
    ("calls", "request"): (
        "--leader",
        "1",
        "--from",
        "2026-11-09",
        "--to",
        "2026-11-10",
        "--minutes",
        "20",
    ),
    ("calls", "requests"): (),
    ("calls", "confirm"): ("c-00000000000000000000",),
    ("calls", "cancel"): ("c-00000000000000000000", "--reason", "gone"),
    ("calls", "precedence", "show"): (),
    ("calls", "precedence", "set"): ("{ranking}", "--reason", "test"),
    ("calls", "schedule"): ("--method", "greedy"),
    ("calls", "sheet"): (),
    ("calls", "ical"): ("--output", "{ics}"),
    ("calls", "calendar", "show"): (),
    ("calls", "calendar", "set"): ("--rank-policy", "precedence"),
    ("calls", "busy", "add"): ("2031-01-06T09:00Z/2031-01-06T10:00Z",),
    ("calls", "busy", "remove"): ("999999",),
    ("calls", "interpreters", "list"): (),
    ("calls", "interpreters", "add"): ("--name", "Test", "--pairs", "fr-en"),
    ("calls", "interpreters", "available"): ("999999", "2031-01-06T09:00Z/2031-01-06T10:00Z"),
    ("calls", "interpreters", "remove"): ("999999",),
}


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    # Duck-typed: Typer may bring a click of its own (typer._click).
    subcommands = getattr(group, "commands", None)
    if isinstance(subcommands, dict):
        for name, command in subcommands.items():
            yield from _commands(command, (*path, name))
    else:
        yield path


def test_every_command_where_a_person_acts_is_listed() -> None:
    everything = set(_commands(typer.main.get_command(app)))
    in_groups = {c for c in everything if c[0] in OFFICER_GROUPS}
    assert in_groups - NOT_OFFICER == {c for c in OFFICER_COMMANDS if c[0] in OFFICER_GROUPS}
    assert {("login",), ("logout",), ("whoami",)} <= everything


def test_every_officer_command_works_with_no_database(pouch: Served, tmp_path: Path) -> None:
    watch = person(tmp_path, "watch")
    assert watch.login(pouch.url, pouch.world.tokens[Role.WATCH_OFFICER])[0] == 0
    files = {
        "vkey": tmp_path / "log.vkey",
        "ranking": tmp_path / "ranking.yaml",
        "ics": tmp_path / "calls.ics",
    }
    files["vkey"].write_text(pouch.vkey + "\n")
    files["ranking"].write_text("tiers:\n  - [Nobody]\n")
    for command, arguments in OFFICER_COMMANDS.items():
        args = [a.format(**{k: str(v) for k, v in files.items()}) for a in arguments]
        code, output = watch.run(*command, *args)
        # Done, or refused by the server with its reason: either way through the server.
        assert code in (0, 1), (command, output)
        assert "Traceback" not in output and "nowhere" not in output, (command, output)
        if code == 1:
            assert output.startswith(("error:", "FAILED:")), (command, output)
    assert os.environ.get("POUCH_DATABASE_URL") != NOWHERE


# --- the client module on its own ---------------------------------------------------


def test_the_configuration_directory_follows_xdg(tmp_path: Path) -> None:
    from pouch import cli_client

    assert cli_client.config_dir({"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/h"}) == (
        tmp_path / "pouch"
    )
    # A relative XDG_CONFIG_HOME is invalid by the specification: ignored.
    assert cli_client.config_dir({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.config/pouch"
    )


def test_saving_tightens_a_directory_others_could_enter(tmp_path: Path) -> None:
    from pouch import cli_client

    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    (tmp_path / "pouch").mkdir(mode=0o755)
    path = cli_client.save(cli_client.Credentials("https://pouch.example", "pouch_a"), environ)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert cli_client.load(environ) == cli_client.Credentials("https://pouch.example", "pouch_a")
    path.write_text("not json")
    with pytest.raises(cli_client.NotLoggedIn, match="unreadable"):
        cli_client.load(environ)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(502, text="<html>Bad gateway</html>"), "HTTP 502 from"),
        (httpx.Response(302, headers={"location": "https://sso.example/"}), "redirects to"),
        (
            httpx.Response(
                400,
                json={
                    "type": "/problems/invalid-request",
                    "detail": "body.reason: too short",
                    "errors": [{"field": "body.reason", "message": "too short"}],
                },
            ),
            "--reason: too short",
        ),
    ],
)
def test_answers_become_one_clear_line(answer: httpx.Response, expected: str) -> None:
    from pouch import cli_client

    api = cli_client.Api(
        cli_client.Credentials("https://pouch.example", "pouch_a"),
        transport=httpx.MockTransport(lambda request: answer),
    )
    with pytest.raises(cli_client.CliProblem) as caught:
        api.get("/api/queue")
    problem = caught.value
    lines = (
        problem.lines({"body.reason": "--reason"})
        if isinstance(problem, cli_client.ApiProblem)
        else problem.lines()
    )
    assert expected in " ".join(lines)
    api.close()
