"""`pouch log verify` on another implementation's log and on Pouch's own, and on tampered copies."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pouch.cli import app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import service
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.store import TileCache
from pouch.ledger.verify import (
    DirectorySource,
    HttpSource,
    LogInconsistent,
    LogUnreachable,
    verify_log,
)

TESSERA = Path(__file__).parent / "data" / "tessera-log"
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_tessera_log_verifies_from_files() -> None:
    result = verify_log(DirectorySource(TESSERA), Ed25519Verifier.from_vkey(TESSERA_VKEY))
    assert result.entries == 15
    assert result.checkpoint.origin == "example.com/log/testdata"


@pytest.mark.parametrize("size", range(16))
def test_tessera_log_extends_each_of_its_checkpoints(size: int) -> None:
    earlier = (TESSERA / f"checkpoint.{size}").read_bytes()
    result = verify_log(
        DirectorySource(TESSERA), Ed25519Verifier.from_vkey(TESSERA_VKEY), since=earlier
    )
    assert result.since is not None and result.since.size == size


def test_cli_verifies_tessera_log() -> None:
    code, output = run("log", "verify", "--dir", str(TESSERA), "--vkey", TESSERA_VKEY)
    assert code == 0, output
    assert "OK: example.com/log/testdata has 15 entries" in output


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    copy = tmp_path / "log"
    shutil.copytree(TESSERA, copy)
    return copy


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("target", "offset", "message"),
    [
        ("tile/entries/000.p/15", 3, "tile/0/000.p/15: hash #0 differs"),  # an entry byte
        ("tile/0/000.p/15", 40, "tile/0/000.p/15: hash #1 differs"),
        ("checkpoint", 30, "checkpoint:"),
        ("tile/entries/000.p/15", 5, "entry 1 at byte 5: declares 259 bytes"),  # a length
    ],
)
def test_tampered_copies_are_rejected(
    tampered: Path, target: str, offset: int, message: str
) -> None:
    _flip(tampered / target, offset)
    with pytest.raises(LogInconsistent) as raised:
        verify_log(DirectorySource(tampered), Ed25519Verifier.from_vkey(TESSERA_VKEY))
    assert message in str(raised.value)
    code, output = run("log", "verify", "--dir", str(tampered), "--vkey", TESSERA_VKEY)
    assert code == 1
    assert "INCONSISTENT" in output


def test_a_missing_tile_is_named(tampered: Path) -> None:
    (tampered / "tile/0/000.p/15").unlink()
    with pytest.raises(LogInconsistent, match=r"tile/0/000.p/15: missing"):
        verify_log(DirectorySource(tampered), Ed25519Verifier.from_vkey(TESSERA_VKEY))


def test_a_forked_earlier_checkpoint_is_rejected(tmp_path: Path) -> None:
    # A checkpoint signed by the log key but for a different tree of the same size.
    from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
    from pouch.ledger.note import Ed25519Signer

    skey = (
        "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
    )
    fork = sign_checkpoint(
        Checkpoint(origin="example.com/log/testdata", size=7, root_hash=bytes(32)),
        Ed25519Signer.from_skey(skey),
    )
    with pytest.raises(LogInconsistent, match="does not extend the earlier checkpoint"):
        verify_log(DirectorySource(TESSERA), Ed25519Verifier.from_vkey(TESSERA_VKEY), since=fork)


def test_wrong_key_and_bad_arguments() -> None:
    from pouch.ledger.note import generate_key

    _, other = generate_key("example.com/log/testdata")
    code, output = run("log", "verify", "--dir", str(TESSERA), "--vkey", other)
    assert code == 1 and "no signature from any of the 1 known keys" in output
    code, output = run("log", "verify", "--vkey", TESSERA_VKEY)
    assert code == 2 and "exactly one of --dir and --url" in output
    code, output = run("log", "verify", "--dir", str(TESSERA), "--vkey", "garbage+1+2")
    assert code == 2 and "--vkey" in output


def test_tessera_log_verifies_from_a_url() -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(TESSERA))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, output = run("log", "verify", "--url", url, "--vkey", TESSERA_VKEY)
        assert code == 0, output
        assert "OK: example.com/log/testdata has 15 entries" in output
    finally:
        server.shutdown()
        server.server_close()


def test_a_log_that_cannot_be_reached_is_not_called_inconsistent(tmp_path: Path) -> None:
    """A refused connection or a server error is no verdict: exit 3, not 1."""
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/log"
    with pytest.raises(LogUnreachable):
        verify_log(HttpSource(url), Ed25519Verifier.from_vkey(TESSERA_VKEY))
    code, output = run("log", "verify", "--url", url, "--vkey", TESSERA_VKEY)
    assert code == 3, output
    assert output.startswith("error: cannot reach the log") and "INCONSISTENT" not in output


# -- reading ahead ------------------------------------------------------------------------


class _Recorded:
    """A log as a dict of the paths a walk read (thread-safe to read), optionally changed."""

    def __init__(self, files: dict[str, bytes], vkey: str = "") -> None:
        self.files = dict(files)
        self.vkey = vkey

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)


class _Together(_Recorded):
    """Each bundle read waits until another read is in flight beside it: a walk that
    reads one path at a time never gets past the first."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(files)
        self.barrier = threading.Barrier(2, timeout=10)

    def read(self, path: str) -> bytes | None:
        if path.startswith("tile/entries/"):
            self.barrier.wait()  # cyclic: the next two bundles meet again
        return super().read(path)


@pytest.fixture
def pouch_log(app_client: TestClient, database: Database, clock: ManualClock) -> _Recorded:
    """Pouch's own log of 1,000 entries (three full bundles and a partial one), as its
    server serves it."""
    with database.transaction() as session:
        for n in range(1_000):
            service.record_event(session, kind="test", at=clock.now(), details={"n": n})
    ledger: service.Ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    ledger.integrate_now()
    read: dict[str, bytes] = {}
    with database.transaction(write=False) as session:
        served = service.DatabaseSource(session, TileCache())

        class Keeping:
            def read(self, path: str) -> bytes | None:
                data = served.read(path)
                if data is not None:
                    read[path] = data
                return data

        verify_log(Keeping(), Ed25519Verifier.from_vkey(ledger.vkey))
    return _Recorded(read, ledger.vkey)


def test_a_walk_reading_ahead_finds_what_a_walk_in_turn_finds(pouch_log: _Recorded) -> None:
    key = Ed25519Verifier.from_vkey(pouch_log.vkey)
    seen: list[int] = []
    in_turn = verify_log(pouch_log, key)
    ahead = verify_log(pouch_log, key, read_ahead=4, on_entry=lambda i, _: seen.append(i))
    assert (ahead.entries, ahead.tiles, ahead.checkpoint) == (
        1_000,
        in_turn.tiles,
        in_turn.checkpoint,
    )
    assert seen == list(range(1_000))  # in order, whatever order the reads finished in

    # Reads really go side by side: this source lets no bundle read finish alone.
    assert verify_log(_Together(pouch_log.files), key, read_ahead=4).entries == 1_000
    with pytest.raises(threading.BrokenBarrierError):
        together = _Together(pouch_log.files)
        together.barrier = threading.Barrier(2, timeout=0.5)
        verify_log(together, key)

    # A changed entry or a missing tile is found, and named, as in turn.
    changed = _Recorded(pouch_log.files)
    bundle = bytearray(changed.files["tile/entries/002"])
    bundle[40] ^= 0x01
    changed.files["tile/entries/002"] = bytes(bundle)
    with pytest.raises(LogInconsistent, match=r"tile/0/002: hash #\d+ differs"):
        verify_log(changed, key, read_ahead=4)
    missing = _Recorded(pouch_log.files)
    del missing.files["tile/0/001"]
    with pytest.raises(LogInconsistent, match=r"tile/0/001: missing"):
        verify_log(missing, key, read_ahead=4)
