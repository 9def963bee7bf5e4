"""A real Pouch for the browser: `pouch demo` into a temporary SQLite file, then `pouch serve`.

Shared by the end-to-end tests (conftest.py) and the screenshot script. The
server is a subprocess on a free port, as an operator would run it; the test
process reaches the same database file directly to inject messages and to
run the deadline worker at a chosen time.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from playwright.sync_api import Browser, Page, Playwright

from pouch.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "pouch-demo-2026"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Server:
    base_url: str
    database_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def settings(self) -> Settings:
        """The settings the server runs with, for services called from the test process."""
        return Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=self.database_url, data_dir=self.data_dir
        )

    def log_text(self) -> str:
        self.log.flush()
        return (self.data_dir / "server.log").read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(
    data_dir: Path, database_url: str, port: int, host_name: str = "127.0.0.1"
) -> dict[str, str]:
    # Only this server's settings: nothing POUCH_* leaks in from the caller's shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("POUCH_")}
    env.update(
        POUCH_DATABASE_URL=database_url,
        POUCH_DATA_DIR=str(data_dir),
        POUCH_HOST="127.0.0.1",
        POUCH_PORT=str(port),
        POUCH_PUBLIC_URL=f"http://{host_name}:{port}",
        # The pages are under test, not language identification: the small models load in
        # a fraction of the time and memory of the accurate ones.
        POUCH_LANGUAGE_LOW_ACCURACY="true",
        # Every test's letters on the floor's one page, however many the suite has sent.
        POUCH_WATCH_PAGE_SIZE="1000",
    )
    return env


@contextmanager
def running(
    data_dir: Path,
    *,
    database_url: str | None = None,
    host_name: str = "127.0.0.1",
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    """The demo served on a free port until the block ends, known to its users as
    ``host_name`` (WebAuthn takes a domain such as localhost, not an address), on
    ``database_url`` (an empty database; by default a SQLite file in ``data_dir``)."""
    port = free_port()
    database_url = database_url or f"sqlite:///{data_dir / 'pouch.sqlite3'}"
    env = {**_environment(data_dir, database_url, port, host_name), **(settings or {})}
    load_demo(data_dir, env)
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", "serve"],
        env=env,
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://{host_name}:{port}", database_url, data_dir, process, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def load_demo(data_dir: Path, env: dict[str, str]) -> None:
    """`pouch demo`, run in this process: a second interpreter would import Pouch again."""
    from typer.testing import CliRunner

    from pouch.cli import app

    # Unset whatever POUCH_* the caller's shell has, set this server's own.
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("POUCH_")}
    overrides.update({k: v for k, v in env.items() if k.startswith("POUCH_")})
    with contextlib.chdir(data_dir):  # no stray .env file is read
        result = CliRunner().invoke(app, ["demo"], env=overrides)
    if result.exit_code != 0:
        raise RuntimeError(f"pouch demo failed ({result.exit_code}):\n{result.output}")


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 120  # start-up only; a loaded CI machine is slow
    while True:  # start-up, not a business deadline
        try:
            # Bound by this process (uvicorn says so), not another test's server that took
            # the port picked for this one.
            if (
                "Uvicorn running on" in server.log_text()
                and httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200
            ):
                return
        except httpx.TransportError:
            pass
        if server.process.poll() is not None:
            raise RuntimeError(f"pouch serve exited:\n{server.log_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"pouch serve did not start in 120 s:\n{server.log_text()}")
        time.sleep(0.1)


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium; a browser download cannot work here."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Through the login form, as a person would."""
    page.goto("/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(re.compile(r"/$"))
