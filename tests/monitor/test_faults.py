"""A server that does not answer, or serves a malformed tile or bundle, is an alarm
naming it, and the monitor's state stays as it was: the next good poll goes on from
where the last good one ended. A checkpoint without the witness policy's quorum is
an alarm too."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pouch.ledger.note import generate_cosigner_key
from tests.monitor.helpers import Party, Pouch, letter, serve


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_an_alarm_and_the_state_stays(pouch: Pouch, office: Party) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    assert office.poll().code == 0
    kept = office.state_files()
    real = pouch.url
    pouch.url = f"http://127.0.0.1:{closed_port()}"
    for _ in range(2):
        result = office.poll()
        assert result.code == 1 and result.kinds() == ["server-unreachable"], result.output
        assert f"Pouch at {pouch.url} did not answer" in result.output
        assert office.state_files() == kept
    assert "(alerted before)" in result.output
    report = json.loads((office.state / "alarms.json").read_text())
    assert report["complete"] is False and report["alarms"][0]["kind"] == "server-unreachable"
    # Back: the poll goes on from the last good one, and the alarm is over.
    pouch.url = real
    pouch.submit(**letter(1))
    pouch.publish()
    result = office.poll()
    assert result.code == 0, result.output
    assert json.loads((office.state / "alerted.json").read_text()) == {}


def tampering(upstream: str, corrupt: Callable[[str, bytes], bytes]) -> Starlette:
    """A proxy in front of Pouch that passes everything on, and corrupts what ``corrupt``
    changes (given the path below /log/ and the body)."""

    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient() as client:
            answer = await client.get(
                upstream
                + request.url.path
                + (f"?{request.url.query}" if request.url.query else ""),
                headers={k: v for k, v in request.headers.items() if k.lower() == "authorization"},
            )
        body = answer.content
        if request.url.path.startswith("/log/") and answer.status_code == 200:
            body = corrupt(request.url.path.removeprefix("/log/"), body)
        return Response(
            body, status_code=answer.status_code, media_type=answer.headers.get("content-type")
        )

    return Starlette(routes=[Route("/{path:path}", forward)])


def test_a_malformed_tile_or_bundle_is_an_alarm_naming_it_and_the_state_stays(
    pouch: Pouch, office: Party
) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    assert office.poll().code == 0
    kept = office.state_files()
    pouch.submit(**letter(1))
    pouch.publish()
    real = pouch.url

    def flip_tile(path: str, body: bytes) -> bytes:
        return bytes([body[0] ^ 1]) + body[1:] if path.startswith("tile/0/") else body

    def cut_bundle(path: str, body: bytes) -> bytes:
        return body[:-3] if path.startswith("tile/entries/") else body

    for corrupt, named in ((flip_tile, "tile/0/000.p/"), (cut_bundle, "tile/entries/000.p/")):
        with serve(tampering(real, corrupt)) as proxy:  # type: ignore[arg-type]
            pouch.url = proxy
            result = office.poll()
        pouch.url = real
        assert result.code == 1 and result.kinds() == ["log-malformed"], result.output
        assert f"ALARM log-malformed: {named}" in result.output
        assert office.state_files() == kept
    assert office.poll().code == 0


def test_a_checkpoint_without_the_policy_s_quorum_is_an_alarm(pouch: Pouch, office: Party) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    vkey = pouch.vkey_file.read_text().strip()
    witness = generate_cosigner_key("witness.embassy.example/w1")[1]
    policy = office.state.parent / "witnesses.policy"
    policy.write_text(f"log {vkey}\nwitness embassy {witness}\nquorum embassy\n")
    result = office.poll("--policy", str(policy))
    assert result.code == 1 and result.kinds() == ["checkpoint-unverified"], result.output
    assert "the policy's quorum is embassy" in result.output
    assert not (office.state / "state.json").exists()
    policy.write_text(f"log {vkey}\nquorum none\n")
    assert office.poll("--policy", str(policy)).code == 0
