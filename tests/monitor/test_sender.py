"""A sender office keeps what it sent (``pouch sender send --keep``) and its monitor
checks the log's acceptance against it; without its tag keys it follows the messages
it kept, their deadlines judged by the log's times all the same."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from pouch.cli import app as cli
from pouch.identity.models import Role, User
from pouch.intake import service as intake_service
from pouch.intake.signatures import generate_sender_key
from tests.factories import make_token
from tests.monitor.helpers import Party, Pouch


def send(
    pouch: Pouch, tmp_path: Path, kept: Path, *, precedence: str = "ROUTINE"
) -> tuple[str, str]:
    """``pouch sender send --keep`` as the Irish office runs it: a token and a key of its
    own, the request signed now (the server's clock is set to now). Returns the token and
    the new message's id."""
    now = datetime.now(UTC).replace(microsecond=0)
    pouch.clock.set(now)
    office = pouch.world.offices["ie-taoiseach"]
    seed_file = tmp_path / "ie.seed"
    with pouch.database.transaction() as session:
        user = session.get(User, pouch.world.users[Role.SENDER].id)
        assert user is not None
        token = make_token(session, pouch.clock, user, Role.SENDER, office)
        if not seed_file.exists():
            seed, public = generate_sender_key("ie-monitor")
            seed_file.write_text(base64.b64encode(seed).decode() + "\n")
            intake_service.register_key(
                session, office_id=office.id, key_id="ie-monitor", public_key=public, now=now
            )
    before = set(kept.glob("m-*.json"))
    result = CliRunner().invoke(
        cli,
        [
            "sender", "send", "--url", pouch.url, "--key-id", "ie-monitor",
            "--key-file", str(seed_file), "--from", str(office.id),
            "--to", "president-elect", "--subject", "  Congratulations ",  # by slug
            "--body", "A Uachtaráin tofa, comhghairdeas.", "--precedence", precedence,
            "--token", token, "--keep", str(kept),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (copy,) = set(kept.glob("m-*.json")) - before
    pouch.publish()
    return token, copy.stem


def test_the_sender_checks_the_acceptance_against_what_it_kept(
    pouch: Pouch, sender: Party, tmp_path: Path
) -> None:
    kept = tmp_path / "sent"
    kept.mkdir()
    sender.token, public_id = send(pouch, tmp_path, kept)
    sender.extra = ["--keep", str(kept)]
    result = sender.poll()
    assert result.code == 0, result.output
    copy = kept / f"{public_id}.json"
    data = json.loads(copy.read_text())
    assert (
        data["accepted"]["id"] == public_id and data["submitted"]["subject"] == "  Congratulations "
    )
    # Had Pouch logged another text than the one sent, the sender's copy says so.
    data["submitted"]["body"] = "A Uachtaráin tofa, comhghairdeas ó chroí."
    copy.write_text(json.dumps(data))
    result = sender.poll()
    assert result.code == 1 and result.kinds() == ["content-not-sent"], result.output
    assert f"message {public_id}: the accepted event (log entry" in result.output


def test_a_sender_without_its_tag_keys_follows_what_it_kept(
    pouch: Pouch, sender: Party, tmp_path: Path
) -> None:
    kept = tmp_path / "sent"
    kept.mkdir()
    sender.token, public_id = send(pouch, tmp_path, kept, precedence="FLASH")
    sender.keys = False
    sender.extra = ["--keep", str(kept)]
    result = sender.poll()
    assert result.code == 0 and "1 messages followed" in result.output, result.output
    # The worker is stopped: the FLASH message's deadline passes with nothing logged.
    pouch.clock.advance(timedelta(minutes=11, seconds=1))
    result = sender.poll()
    assert result.code == 1 and result.kinds() == ["deadline-missed"], result.output
    assert public_id in result.output
    # The worker runs again: delivered late, recorded overdue first; found through the
    # message's status, each step opened and checked against the log.
    pouch.run_worker()
    pouch.publish()
    result = sender.poll()
    assert result.code == 0, result.output
