"""The demo's mail, end to end with real processes, as ``make run`` runs them: the
demo office's mail server (``pouch mail mailbox``), ``pouch mail serve``, letters
sent with smtplib, and Pouch's outbox (``pouch messages due``) answering through
its SMTP relay setting, pointed at the mailbox. The answer lands in the office's
Maildir, DKIM-signed by Pouch and threaded; an unsigned letter in the office's name
is quarantined and not answered."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
import yaml

from pouch.demo import mail as mail_demo
from pouch.messages.dkim_signing import DkimSigner

DEMO = Path(mail_demo.__file__).parent
POUCH_FROM = "desk@pouch.localhost"


def _pouch(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pouch.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _first_line(process: subprocess.Popen[str], starts: str) -> str:
    """The line the process prints once it listens (start-up, not a deadline); what it
    prints after is read on and dropped, so that it never blocks on a full pipe."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(starts):
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return line
    raise AssertionError(f"exited ({process.wait()}) before saying {starts!r}")


def _port(line: str) -> int:
    return int(line.split(" on ", 1)[1].split(",")[0].split(";")[0].split(":")[1].split()[0])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    with served_mail(tmp_path) as (env, _):
        yield env


@contextmanager
def served_mail(
    tmp_path: Path, *serve_options: str
) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    """Part of the demo's directory (its offices for mail, the key pinned as `pouch
    demo` pins it), the mailbox and `pouch mail serve` started: the environment, and
    the `pouch mail serve` process."""
    data = tmp_path / "var"
    env = {
        **os.environ,
        "POUCH_DATABASE_URL": f"sqlite:///{data / 'pouch.sqlite3'}",
        "POUCH_DATA_DIR": str(data),
        "POUCH_MAIL_FROM": POUCH_FROM,
        "POUCH_MAIL_DKIM_KEY": str(mail_demo.pouch_key(data)),
    }
    document = yaml.safe_load(
        mail_demo.directory_text((DEMO / "directory.yaml").read_text(), data_dir=data)
    )
    keep = {"ops", "president-elect", mail_demo.OFFICE}
    document["offices"] = [o for o in document["offices"] if o["slug"] in keep]
    directory = tmp_path / "directory.yaml"
    directory.write_text(yaml.safe_dump(document, allow_unicode=True))
    # Both at once; `pouch mail serve` migrates the database, then the directory comes.
    mailbox = _pouch("mail", "mailbox", "--maildir", str(data / "mailbox"), "--port", "0", env=env)
    server = _pouch("mail", "serve", "--port", "0", *serve_options, env=env)
    try:
        env["POUCH_SMTP_HOST"] = "127.0.0.1"
        env["POUCH_SMTP_PORT"] = str(_port(_first_line(mailbox, "mailbox: SMTP on ")))
        env["POUCH_MAIL_PORT"] = str(_port(_first_line(server, "SMTP on ")))
        subprocess.run(
            [sys.executable, "-m", "pouch.cli", "directory", "import", str(directory)],
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
        )
        yield env, server
    finally:
        for process in (server, mailbox):
            process.terminate()
            process.wait(timeout=30)
            if process.stdout is not None:
                process.stdout.close()


def _verified(path: Path, signer: DkimSigner) -> EmailMessage:
    """A filed mail, once Pouch's signature verifies against the record it publishes."""
    raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    published = {f"{signer.record_name}.": signer.record.encode()}
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: published.get(name.decode()))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.slow  # four processes of Pouch start
def test_a_signed_letter_is_answered_in_the_offices_maildir(demo: dict[str, str]) -> None:
    data = Path(demo["POUCH_DATA_DIR"])
    port = int(demo["POUCH_MAIL_PORT"])
    signed = mail_demo.letter(
        mail_demo.office_key(data), subject="Congratulations", body="Dear President-elect"
    )
    code, said = mail_demo.send(signed, host="127.0.0.1", port=port)
    assert code == 250 and "accepted as m-" in said, said
    public_id = said.rsplit("accepted as ", 1)[1].strip()
    # In the office's name, unsigned: the office signs everything, so it is quarantined,
    # and no answer goes to a return path no signature vouches for.
    unsigned = mail_demo.letter(None, subject="Unsigned", body="Is this really us?")
    code, said = mail_demo.send(unsigned, host="127.0.0.1", port=port)
    assert code == 250 and "quarantined" in said and "unsigned" in said, said

    # The outbox, as `pouch serve` runs it, once: answers go to the relay (the mailbox).
    subprocess.run(
        [sys.executable, "-m", "pouch.cli", "messages", "due"],
        env=demo,
        check=True,
        timeout=120,
        capture_output=True,
    )

    # The mailbox files a mail before its 250, so it is there once the outbox is done.
    (filed,) = (data / "mailbox" / mail_demo.DOMAIN / "new").iterdir()
    signer = DkimSigner.from_file(
        Path(demo["POUCH_MAIL_DKIM_KEY"]), domain="pouch.localhost", selector="pouch"
    )
    answer = _verified(filed, signer)
    letter = email.message_from_bytes(signed, policy=email.policy.default)
    assert answer["Delivered-To"] == "private.office@number10.example"
    assert answer["From"] == POUCH_FROM
    assert answer["In-Reply-To"] == letter["Message-ID"]
    assert answer["Subject"] == "[Pouch] accepted: Congratulations"
    text = answer.get_content()
    assert f"Message {public_id}" in text
    assert f"/api/messages/{public_id}/events/" in text and "/receipt" in text
