"""The mail quarantine on the watch floor: officers decide in the browser, auditors
read; forms need the session's anti-forgery token."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi.testclient import TestClient
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select

from pouch.app import WEB_DIR
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.mail.flows import MailIntake
from pouch.mail.models import InboundMail, MailState
from pouch.mail.service import Arrival
from pouch.messages.models import Message
from tests.factories import make_user
from tests.identity.helpers import csrf_of, log_in
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import crlf

LETTER = crlf(
    b"From: Desk <desk@new-embassy.example>\nTo: president-elect@pouch.example\n"
    b"Subject: Our new address\nMessage-ID: <p-1@new-embassy.example>\n\nPlease note it.\n"
)


def _quarantined(intake: MailIntake) -> int:
    mail_id, _, _ = intake.receive(
        Arrival(
            raw=LETTER, mail_from="desk@new-embassy.example", recipients=(PRINCIPAL,), peer="::1"
        )
    )
    assert intake.process(mail_id).state == MailState.QUARANTINED
    return mail_id


def _state(database: Database, mail_id: int) -> MailState:
    with database.transaction(write=False) as session:
        mail = session.get(InboundMail, mail_id)
        assert mail is not None
        return mail.state


def test_an_officer_accepts_a_quarantined_mail_from_the_page(
    app_client: TestClient, database: Database, intake: MailIntake, mail_world: MailWorld
) -> None:
    mail_id = _quarantined(intake)
    log_in(app_client, "watch-officer")
    page = app_client.get("/watch/mail")
    assert page.status_code == 200
    assert "Our new address" in page.text
    assert "unknown sender: desk@new-embassy.example" in page.text
    assert (
        app_client.post(f"/watch/mail/{mail_id}/accept", data={"csrf_token": "forged"}).status_code
        == 403
    )

    answer = app_client.post(
        f"/watch/mail/{mail_id}/accept",
        data={
            "csrf_token": csrf_of(page.text),
            "sender_office_id": str(mail_world.lax.id),
            "reason": "Confirmed by telephone",
        },
        follow_redirects=False,
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/watch/mail?notice=released"
    assert _state(database, mail_id) == MailState.ACCEPTED
    with database.transaction(write=False) as session:
        (message,) = session.scalars(select(Message)).all()
        public_id = message.public_id
    shown = app_client.get(f"/watch/{public_id}")
    assert "By e-mail" in shown.text
    assert "No mail waits in quarantine" in app_client.get("/watch/mail").text
    # Whoever reads it is told it was not authenticated and an officer let it in.
    for reader, path in (("watch-officer", "/watch"), ("principal-staff", "/inbox")):
        app_client.cookies.clear()
        log_in(app_client, reader)
        facts = app_client.get(f"{path}/{public_id}").text
        assert "<strong>Not authenticated</strong>: let out of the mail quarantine" in facts


def test_two_officers_reject_from_the_page_and_an_auditor_only_reads(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    intake: MailIntake,
    mail_world: MailWorld,
) -> None:
    mail_id = _quarantined(intake)
    with database.transaction() as session:
        ops = mail_world.world.offices["ops"]
        make_user(session, clock, "second-officer", [(Role.WATCH_OFFICER, ops)])

    log_in(app_client, "auditor")
    read = app_client.get("/watch/mail")
    assert read.status_code == 200
    assert "Read-only" in read.text
    assert "Quarantined: 1" in read.text
    refused = app_client.post(
        f"/watch/mail/{mail_id}/reject", data={"csrf_token": csrf_of(read.text), "reason": "No"}
    )
    assert refused.status_code == 403

    for officer, notice in (("watch-officer", "reject-requested"), ("second-officer", "rejected")):
        app_client.cookies.clear()
        log_in(app_client, officer)
        page = app_client.get("/watch/mail")
        answer = app_client.post(
            f"/watch/mail/{mail_id}/reject",
            data={"csrf_token": csrf_of(page.text), "reason": "Not an embassy we know"},
            follow_redirects=False,
        )
        assert answer.headers["location"] == f"/watch/mail?notice={notice}"
    assert _state(database, mail_id) == MailState.REJECTED


def test_every_reader_is_told_how_a_mail_was_authenticated() -> None:
    """The facts line a message that came by e-mail shows, in each of its four cases."""
    env = Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=True)
    macro = env.from_string('{% import "_macros.html" as ui %}{{ ui.by_mail(m) }}')

    def shown(**mail: object) -> str:
        m = SimpleNamespace(signature={"mail": {"sha256": "ab" * 32, **mail}})
        return " ".join(macro.render(m=m).split())

    passed = [{"d": "mfa.example", "s": "s1", "result": "pass"}]
    failed = [{"d": "mfa.example", "s": "s1", "result": "fail"}]
    assert "Authenticated: DKIM-signed by mfa.example, the sender's domain" in shown(
        dmarc="pass", dkim=passed
    )
    assert "let out of the mail quarantine" in shown(dmarc="fail", dkim=failed, released_by=3)
    assert "its signatures do not match the sender's domain" in shown(dmarc="fail", dkim=failed)
    assert "unsigned (the sender office does not require signed mail)" in shown(
        dmarc="fail", dkim=[]
    )
    assert macro.render(m=SimpleNamespace(signature={"key_id": "k"})).strip() == ""
