"""The log over HTTP: tiles, bundles, checkpoint, proofs and receipts."""

from __future__ import annotations

import base64
import gzip
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pouch import migrations
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import events, service
from pouch.ledger.layout import parse_bundle
from pouch.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.ledger.verify import HttpSource, verify_log


def _record(database: Database, clock: ManualClock, count: int) -> list[service.RecordedEvent]:
    recorded = []
    with database.transaction() as session:
        for i in range(count):
            recorded.append(
                service.record_event(session, kind="test", at=clock.now(), details={"n": i})
            )
    return recorded


@pytest.fixture
def ledger(app_client: TestClient) -> service.Ledger:
    ledger: service.Ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    return ledger


def test_nothing_published_yet(app_client: TestClient) -> None:
    response = app_client.get("/log/checkpoint")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_tiles_bundles_and_checkpoint(
    app_client: TestClient, database: Database, clock: ManualClock, ledger: service.Ledger
) -> None:
    recorded = _record(database, clock, 300)
    ledger.integrate_now()
    checkpoint = app_client.get("/log/checkpoint")
    assert checkpoint.status_code == 200
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age=2" in checkpoint.headers["cache-control"]
    assert checkpoint.text.startswith("test.pouch/log\n300\n")

    full = app_client.get("/log/tile/0/000", headers={"accept-encoding": "gzip"})
    assert full.status_code == 200
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.headers["content-encoding"] == "gzip"
    assert full.content[:32] == leaf_hash(recorded[0].entry)
    partial = app_client.get("/log/tile/0/001.p/44")
    assert len(partial.content) == 44 * 32
    assert "immutable" not in partial.headers["cache-control"]
    # A partial tile at a width the tree once had is still served.
    assert len(app_client.get("/log/tile/0/001.p/10").content) == 320
    assert app_client.get("/log/tile/0/001.p/45").status_code == 404  # beyond the checkpoint
    assert app_client.get("/log/tile/0/002").status_code == 404
    assert app_client.get("/log/tile/0/0001").status_code == 404  # not canonical
    bundle = app_client.get("/log/tile/entries/001.p/44")
    entries = parse_bundle(bundle.content)
    assert entries == [r.entry for r in recorded[256:300]]
    raw = app_client.get("/log/tile/entries/000", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert gzip.compress(raw.content)  # httpx has already inflated it

    # The whole log verifies through HTTP with the general-purpose verifier.
    result = verify_log(
        HttpSource("http://testserver/log", client=app_client), ledger.signer.verifier
    )
    assert result.entries == 300


def test_proofs_and_receipts(
    app_client: TestClient, database: Database, clock: ManualClock, ledger: service.Ledger
) -> None:
    first = _record(database, clock, 10)
    ledger.integrate_now()
    old_root = base64.b64decode(app_client.get("/api/log").json()["root"])
    _record(database, clock, 30)
    ledger.integrate_now()
    info = app_client.get("/api/log").json()
    assert info["size"] == 40 and info["sequenced"] == 40
    assert info["vkey"] == ledger.vkey
    root = base64.b64decode(info["root"])

    proof = app_client.get("/api/log/proof", params={"index": 3, "size": 40}).json()
    verify_inclusion(
        leaf_hash=leaf_hash(first[3].entry),
        index=3,
        size=40,
        proof=[base64.b64decode(p) for p in proof["proof"]],
        root=root,
    )
    consistency = app_client.get("/api/log/consistency", params={"from": 10, "to": 40}).json()
    verify_consistency(
        old_size=10,
        new_size=40,
        old_root=old_root,
        new_root=root,
        proof=[base64.b64decode(p) for p in consistency["proof"]],
    )
    receipt = app_client.get("/api/log/receipt/3")
    assert receipt.headers["content-type"] == "text/plain; charset=utf-8"
    verified = verify_receipt(
        receipt.content, first[3].entry, log=Ed25519Verifier.from_vkey(ledger.vkey)
    )
    assert verified.index == 3
    # The opening recomputes the entry that the receipt proves.
    with database.transaction(write=False) as session:
        opening = service.opening(session, 3)
    assert opening is not None and opening.entry() == first[3].entry
    assert opening.event["n"] == 3 and opening.event["kind"] == "test"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/log/proof?index=5&size=5", 400),
        ("/api/log/proof?index=-1&size=5", 400),
        ("/api/log/proof?index=0&size=99", 404),
        ("/api/log/proof?index=0&size=99999999999999999999999", 400),
        ("/api/log/proof?index=abc&size=5", 400),
        ("/api/log/consistency?from=9&to=5", 400),
        ("/api/log/consistency?from=1&to=99", 404),
        ("/api/log/receipt/10", 404),
        ("/api/log/receipt/-3", 400),
        ("/log/tile/99/000", 404),
        ("/log/tile/0/x000/000", 404),
        ("/log/tile/entries/000.p/0", 404),
        ("/log/tile/%2e%2e/%2e%2e/etc/passwd", 404),
    ],
)
def test_bad_proof_requests(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    ledger: service.Ledger,
    path: str,
    status: int,
) -> None:
    _record(database, clock, 10)
    ledger.integrate_now()
    response = app_client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_events_need_kind_and_time_and_stay_small(database: Database, clock: ManualClock) -> None:
    with database.transaction() as session, pytest.raises(events.InvalidEvent, match="limit"):
        service.record_event(session, kind="big", at=clock.now(), details={"x": "y" * 70_000})
    with database.transaction() as session, pytest.raises(events.InvalidEvent, match="kind"):
        service.record_event(session, kind="Not A Kind", at=clock.now(), details={})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_verify_a_running_pouch_over_http(tmp_path: Path, log_skey: str) -> None:
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    database = Database.from_url(url)
    migrations.upgrade(database)
    from datetime import UTC, datetime

    from pouch.ledger.note import Ed25519Signer
    from pouch.ledger.sequencer import integrate
    from pouch.ledger.store import TileCache

    clock = ManualClock(datetime(2026, 11, 5, tzinfo=UTC))
    recorded = _record(database, clock, 600)
    signer = Ed25519Signer.from_skey(log_skey)
    integrate(database, signer=signer, origin=signer.name, clock=clock, cache=TileCache())
    old_checkpoint = tmp_path / "old.checkpoint"
    with database.transaction(write=False) as session:
        latest = service.latest_checkpoint(session)
        assert latest is not None
        old_checkpoint.write_bytes(latest.note)
    _record(database, clock, 100)
    integrate(database, signer=signer, origin=signer.name, clock=clock, cache=TileCache())
    database.dispose()

    port = _free_port()
    env = {
        **os.environ,
        "POUCH_DATABASE_URL": url,
        "POUCH_PORT": str(port),
        "POUCH_LOG_ORIGIN": signer.name,
        "POUCH_LOG_SIGNING_KEY": log_skey,
    }
    served_log = tmp_path / "serve.log"
    with served_log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "pouch.cli", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # start-up only; a loaded CI machine is slow
        while True:  # wait for start-up, on a port this process bound (uvicorn says so)
            try:
                bound = "Uvicorn running on" in served_log.read_text(errors="replace")
                if bound and httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        vkey_file = tmp_path / "log.vkey"
        vkey_file.write_text(signer.verifier.vkey)
        verify = subprocess.run(
            [
                sys.executable,
                "-m",
                "pouch.cli",
                "log",
                "verify",
                "--url",
                f"{base}/log",
                "--vkey",
                str(vkey_file),
                "--since",
                str(old_checkpoint),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert verify.returncode == 0, verify.stderr
        assert (
            "has 700 entries" in verify.stdout
            and "extends the earlier checkpoint of 600" in " ".join(verify.stdout.split())
        )
        receipt = tmp_path / "receipt.txt"
        receipt.write_bytes(httpx.get(f"{base}/api/log/receipt/42").content)
        entry = tmp_path / "entry.bin"
        entry.write_bytes(recorded[42].entry)
        checked = subprocess.run(
            [
                sys.executable,
                "-m",
                "pouch.cli",
                "receipt",
                "verify",
                str(receipt),
                "--entry",
                str(entry),
                "--vkey",
                signer.verifier.vkey,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        entry.write_bytes(recorded[43].entry)
        wrong = subprocess.run(
            [
                sys.executable,
                "-m",
                "pouch.cli",
                "receipt",
                "verify",
                str(receipt),
                "--entry",
                str(entry),
                "--vkey",
                signer.verifier.vkey,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert wrong.returncode == 1 and "INVALID" in wrong.stdout + wrong.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
