"""`pouch serve` for real: a uvicorn process on a free port, migrated and answering."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serving_children(pid: int) -> list[int]:
    """Child processes started by multiprocessing's spawn (uvicorn's workers), not
    its resource tracker."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").glob("*/children")
        for child in task.read_text().split()
    ]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_migrates_and_answers(tmp_path: Path, workers: int) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "POUCH_DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}",
        "POUCH_PORT": str(port),
        "POUCH_DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", "serve", "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # start-up only; a loaded CI machine is slow
        while True:  # wait for start-up, not for a business deadline
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "pouch serve did not start in 120 s"
            time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
        assert "Log in" in httpx.get(f"{base}/login").text
        assert httpx.get(f"{base}/api/me").status_code == 401
        # First run: the log's key was created, 0600, and the log signs with it.
        key = tmp_path / "log.skey"
        assert key.stat().st_mode & 0o777 == 0o600
        info = httpx.get(f"{base}/api/log").json()
        assert info["origin"] == "localhost/pouch"
        assert key.read_text().startswith("PRIVATE+KEY+localhost/pouch+")
        if workers > 1:
            # A supervisor and its worker processes, each serving the same port.
            assert len(_serving_children(process.pid)) == workers
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
