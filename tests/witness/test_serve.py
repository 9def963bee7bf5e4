"""``pouch witness serve`` for real: processes on free ports, racing, killed, sharing a state."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from pouch.ledger.note import CosignatureSigner, verify_cosignature
from pouch.witness.protocol import SIZE_CONTENT_TYPE, monitoring_path
from tests.witness.helpers import ORIGIN, TestLog

pytestmark = pytest.mark.slow  # each process takes seconds to start

STARTUP = 120.0  # seconds; start-up only, a loaded CI machine is slow
WITNESS = CosignatureSigner("witness.example/w1", bytes(range(7, 39)), clock=lambda: 0)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    vkey: str
    output: list[bytes] = field(default_factory=list)


@pytest.fixture
def files(tmp_path: Path, log: TestLog) -> dict[str, Path]:
    key = tmp_path / "witness.skey"
    key.write_text(WITNESS.skey + "\n")
    key.chmod(0o600)
    logs = tmp_path / "logs.txt"
    logs.write_text(f"logs/v0\nvkey {log.signer.verifier.vkey}\nqpd 86400\ncontact x\n")
    return {"key": key, "logs": logs, "state": tmp_path / "state.sqlite3"}


def _start(files: dict[str, Path]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        # Pouch's own database does not exist here: the witness must not need it.
        "POUCH_DATABASE_URL": f"sqlite:///{files['state'].parent / 'absent' / 'pouch.sqlite3'}",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", "witness", "serve", "--key", str(files["key"]),
         "--logs", str(files["logs"]), "--state", str(files["state"]), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )  # fmt: skip


class _Output:
    """Everything a process prints, read by a thread of its own from the start, so
    that the access log never fills the pipe and blocks the server."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self.lines: list[bytes] = []
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._stdout = process.stdout
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self._stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(b"")  # the process closed its output: it has exited

    def next_line(self) -> bytes:
        try:
            return self._queue.get(timeout=STARTUP)
        except queue.Empty:
            raise AssertionError(f"nothing printed in {STARTUP} s: {self.lines}") from None


def _wait_for_start(process: subprocess.Popen[bytes], output: _Output) -> Served:
    """Read what the witness prints until its URL and key: it listens by then."""
    printed: list[bytes] = []
    while not any(b"verifier key:" in line for line in printed):
        line = output.next_line()
        assert line, f"pouch witness serve exited: {b''.join(printed).decode()}"
        printed.append(line)
    text = b"".join(printed).decode()
    url = re.search(r"serving on (http://\S+)", text)
    vkey = re.search(r"witness verifier key: (\S+)", text)
    assert url is not None and vkey is not None, text
    return Served(process, url.group(1), vkey.group(1), output.lines)


@contextmanager
def serving(files: dict[str, Path], count: int = 1) -> Iterator[list[Served]]:
    """``count`` processes of ``pouch witness serve --port 0`` on the same files,
    started together; each one's URL is read from what it prints."""
    processes = [_start(files) for _ in range(count)]
    outputs = [_Output(process) for process in processes]
    try:
        yield [_wait_for_start(p, output) for p, output in zip(processes, outputs, strict=True)]
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for output in outputs:
            output.thread.join(timeout=30)  # each pipe ends with its process
        for process in processes:
            assert process.stdout is not None
            process.stdout.close()


def race(bodies: list[tuple[str, bytes]]) -> list[httpx.Response]:
    """POST each body to its URL, all released at once, one thread each."""
    barrier = threading.Barrier(len(bodies))
    responses: list[httpx.Response | None] = [None] * len(bodies)

    def post(i: int) -> None:
        url, body = bodies[i]
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            responses[i] = client.post(f"{url}/add-checkpoint", content=body)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(response is not None for response in responses)
    return [response for response in responses if response is not None]


def test_serve_prints_its_url_and_key_and_cosigns(files: dict[str, Path], log: TestLog) -> None:
    with serving(files) as (served,):
        assert served.vkey == WITNESS.verifier.vkey
        assert httpx.get(f"{served.url}/healthz").text == "ok\n"
        response = httpx.post(f"{served.url}/add-checkpoint", content=log.request(0, 5))
        assert response.status_code == 200, response.text
        cosignature = verify_cosignature(log.checkpoint(5) + response.content, WITNESS.verifier)
        assert cosignature.timestamp > 1_700_000_000  # the real clock, not zero
        monitored = httpx.get(f"{served.url}{monitoring_path(ORIGIN)}")
        assert monitored.status_code == 200
        assert monitored.content.endswith(response.content)


def test_racing_requests_over_http_cosign_once(files: dict[str, Path], log: TestLog) -> None:
    with serving(files) as (served,):
        responses = race([(served.url, log.request(0, size)) for size in range(1, 13)])
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [409] * 11, [r.text for r in responses]
        winner = next(i + 1 for i, r in enumerate(responses) if r.status_code == 200)
        for response in responses:
            if response.status_code == 409:
                assert response.headers["content-type"] == SIZE_CONTENT_TYPE
                assert response.content == f"{winner}\n".encode()


def test_two_processes_sharing_one_state_cosign_once(files: dict[str, Path], log: TestLog) -> None:
    """Two witness processes on one state file (a restart overlapping the old
    process, or a second port): the compare-and-swap holds across processes."""
    with serving(files, count=2) as (first, second):
        for start in (0, 10):
            urls = [first.url, second.url] * 5
            bodies = [(url, log.request(start, start + i + 1)) for i, url in enumerate(urls)]
            responses = race(bodies)
            assert sorted(r.status_code for r in responses) == [200] + [409] * 9
            winner = start + 1 + next(i for i, r in enumerate(responses) if r.status_code == 200)
            if winner != start + 10:
                catch_up = httpx.post(
                    f"{second.url}/add-checkpoint", content=log.request(winner, start + 10)
                )
                assert catch_up.status_code == 200
        checkpoints = {
            httpx.get(f"{s.url}{monitoring_path(ORIGIN)}").content for s in (first, second)
        }
        assert len(checkpoints) == 1


def test_a_killed_witness_remembers_what_it_cosigned(files: dict[str, Path], log: TestLog) -> None:
    """A 200 means the checkpoint is on disk: after kill -9 and a restart, the
    witness still refuses to go back or to cosign another tree of that size."""
    with serving(files) as (served,):
        assert (
            httpx.post(f"{served.url}/add-checkpoint", content=log.request(0, 7)).status_code == 200
        )
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(timeout=30)
    with serving(files) as (restarted,):
        probe = httpx.post(f"{restarted.url}/add-checkpoint", content=log.request(0, 9))
        assert (probe.status_code, probe.text) == (409, "7\n")
        fork = httpx.post(f"{restarted.url}/add-checkpoint", content=log.fork().request(7, 7))
        assert fork.status_code == 422
        assert (
            httpx.post(f"{restarted.url}/add-checkpoint", content=log.request(7, 9)).status_code
            == 200
        )


def test_an_oversized_body_is_refused_by_the_real_server(
    files: dict[str, Path], log: TestLog
) -> None:
    with serving(files) as (served,):
        response = httpx.post(f"{served.url}/add-checkpoint", content=b"x" * (2 << 20))
        assert response.status_code == 413
        assert httpx.get(f"{served.url}/healthz").status_code == 200
