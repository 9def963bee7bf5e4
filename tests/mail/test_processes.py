"""``pouch mail serve --processes 2``, with real processes: the first binds the port
and starts a sibling that accepts from the same socket. Each of them accepts mail
(which process took a connection is read from /proc: who holds its socket), a
sibling killed with SIGKILL is started again, and stopping the first stops them all."""

from __future__ import annotations

import email
import email.policy
import email.utils
import os
import signal
import smtplib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from pouch.demo import mail as mail_demo
from tests.mail.test_demo_mail import served_mail


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(n) for n in (task / "children").read_text().split()}
    return found


def _inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server's side of the connection from ``client_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(a.split(":")[1], 16) for a in fields[1:3])
        if (local, remote) == (server_port, client_port):
            return int(fields[9])
    return None


def _holder(inode: int, pids: set[int]) -> int | None:
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except FileNotFoundError:
                continue
    return None


def _stopped(task: Path) -> bool:
    """Whether the thread is stopped by a signal (state T in its stat line)."""
    try:
        return (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except FileNotFoundError:  # a thread that ended meanwhile
        return True


@contextmanager
def _frozen(pid: int, *, at_most: float = 20.0) -> Iterator[None]:
    """The process stopped (SIGSTOP), so that a connection goes to another; for at most
    ``at_most`` seconds, in case it was frozen holding the database's write turn."""
    os.kill(pid, signal.SIGSTOP)
    # The signal is sent, not yet taken: a thread running on another core may still
    # accept the next connection. Wait until every thread of it is stopped.
    deadline = time.monotonic() + 10
    while not all(_stopped(task) for task in Path(f"/proc/{pid}/task").iterdir()):
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)  # polling the kernel's view of the process
    timer = threading.Timer(at_most, os.kill, (pid, signal.SIGCONT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        os.kill(pid, signal.SIGCONT)


def _accepted_by(port: int, key: ed25519.Ed25519PrivateKey, pids: set[int], subject: str) -> int:
    """Send a signed letter; the process (of ``pids``) that took the connection, once
    the letter is accepted."""
    raw = mail_demo.letter(key, subject=subject, body="Dear President-elect")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    _, return_path = email.utils.parseaddr(str(parsed["From"]))
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        assert client.sock is not None
        inode = _inode(port, client.sock.getsockname()[1])
        assert inode is not None, "the server's side of the connection is not in /proc"
        holder = _holder(inode, pids)
        client.ehlo(mail_demo.DOMAIN)
        client.mail(return_path)
        assert client.rcpt(mail_demo.TO)[0] == 250
        code, said = client.data(raw)
    assert code == 250 and b"accepted as m-" in said, said
    assert holder is not None, f"none of {pids} holds the connection"
    return holder


def _new_sibling(pid: int, gone: int) -> int:
    """The sibling started in place of ``gone`` (the first process looks every second)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = _children(pid)
        if children and gone not in children:
            (child,) = children
            return child
        time.sleep(0.1)
    pytest.fail(f"no sibling started in place of {gone}: {_children(pid)}")


@pytest.mark.slow  # five processes of Pouch start
def test_two_processes_each_accept_and_a_killed_one_comes_back(tmp_path: Path) -> None:
    with served_mail(tmp_path, "--processes", "2") as (env, server):
        port = int(env["POUCH_MAIL_PORT"])
        key = mail_demo.office_key(Path(env["POUCH_DATA_DIR"]))
        (sibling,) = _children(server.pid)
        both = {server.pid, sibling}

        with _frozen(server.pid):
            assert _accepted_by(port, key, both, "Through the sibling") == sibling
        with _frozen(sibling):
            assert _accepted_by(port, key, both, "Through the first") == server.pid

        os.kill(sibling, signal.SIGKILL)
        again = _new_sibling(server.pid, sibling)
        with _frozen(server.pid):
            assert _accepted_by(port, key, {server.pid, again}, "Through the new one") == again

        server.terminate()
        assert server.wait(timeout=30) == 0
        # The sibling was stopped and reaped by the first process.
        assert not Path(f"/proc/{again}").exists()
