"""Mail over a real SMTP connection to the running server: published mail in, messages
or quarantine out, and every reply true to what was stored."""

from __future__ import annotations

import email.policy
import hashlib
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.events import EventKind
from pouch.groupcommit import GroupCommitter
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.mail import service as mail_service
from pouch.mail.models import MailState, RawMail
from pouch.messages.models import Message, MessageEvent
from pouch.messages.rules import Precedence
from tests.factories import build_world, make_office
from tests.identity.helpers import log_in
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import (
    DnsServer,
    Reply,
    arrivals,
    corpus,
    crlf,
    mail_auth_case,
    mail_intake,
    quarantine_reason,
    send,
    serving,
)
from tests.messages.helpers import LIMITS

SIGNED_FROM = "joe@football.example.com"


def _messages(database: Database) -> list[Message]:
    with database.transaction(write=False) as session:
        messages = list(session.scalars(select(Message).order_by(Message.id)))
        session.expunge_all()
        return messages


def _kind_at(database: Database, index: int) -> tuple[str, dict[str, object]]:
    with database.transaction(write=False) as session:
        opening = ledger_service.opening(session, index)
        assert opening is not None
        return str(opening.event["kind"]), dict(opening.event)


def test_a_good_dkim_mail_becomes_a_message_with_its_receipt(
    database: Database, smtp_port: int, mail_world: MailWorld, dns_server: DnsServer
) -> None:
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    replies, data = send(
        smtp_port, raw, sender=SIGNED_FROM, to=["President-Elect+FLASH@pouch.example"]
    )

    assert [r.code for r in replies] == [250]
    assert data.code == 250, data.text
    (mail,) = arrivals(database)
    (message,) = _messages(database)
    assert mail.state == MailState.ACCEPTED
    assert mail.messages == [message.public_id]
    assert message.public_id in data.text
    assert f"log index {mail.received_index}" in data.text
    # The exact bytes, content-addressed, before anything else.
    with database.transaction(write=False) as session:
        stored = session.get(RawMail, mail.sha256)
        assert stored is not None
        assert stored.data == raw
        assert hashlib.sha256(stored.data).hexdigest() == mail.sha256
    kind, received = _kind_at(database, mail.received_index)
    assert kind == EventKind.RECEIVED
    assert received["mail"] == mail.sha256
    # The same message path as the API: addressee, sender, precedence, accepted step.
    assert message.addressee_office_id == mail_world.principal.id
    assert message.sender_office_id == mail_world.signing.id
    assert message.precedence == Precedence.FLASH
    assert message.subject == "Is dinner ready?"
    assert message.accepted_index > mail.received_index
    kind, accepted = _kind_at(database, message.accepted_index)
    assert kind == EventKind.ACCEPTED
    assert accepted["mail"] == mail.sha256
    assert accepted["dmarc"] == "pass"
    with database.transaction(write=False) as session:
        steps = session.scalars(
            select(MessageEvent.kind).where(MessageEvent.message_id == message.id)
        ).all()
    assert steps == [EventKind.ACCEPTED]
    # Both signatures, Ed25519 and RSA, with the keys DNS gave.
    assert mail.verdicts is not None
    dkim = {(v["a"], v["s"], v["result"], v["key"]) for v in mail.verdicts["dkim"]}
    assert dkim == {
        ("ed25519-sha256", "brisbane", "pass", "dns"),
        ("rsa-sha256", "test", "pass", "dns"),
    }
    assert all(v["key_sha256"] for v in mail.verdicts["dkim"])
    # The log commits to each signature's key, not only to its result.
    assert sorted((v["s"], v["result"], v["key"]) for v in accepted["dkim"]) == sorted(  # type: ignore[attr-defined]
        (v["s"], v["result"], v["key_sha256"]) for v in mail.verdicts["dkim"]
    )
    assert "brisbane._domainkey.football.example.com" in dns_server.queries
    assert message.signature is not None
    assert message.signature["mail"]["dmarc"] == "pass"


def test_a_tampered_mail_is_quarantined_with_its_reason(database: Database, smtp_port: int) -> None:
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    tampered = raw.replace(b"Are you hungry yet?", b"Are you thirsty yet?")

    _, data = send(smtp_port, tampered, sender=SIGNED_FROM, to=[PRINCIPAL])

    assert data.code == 250, data.text  # stored and logged: the sender's MTA is done
    assert "quarantined" in data.text
    (mail,) = arrivals(database)
    assert mail.state == MailState.QUARANTINED
    assert mail.reason is not None
    assert "body hash mismatch" in mail.reason
    assert _messages(database) == []
    assert _kind_at(database, mail.received_index)[0] == EventKind.RECEIVED
    with database.transaction(write=False) as session:
        kinds = [
            ledger_service.opening(session, i)
            for i in range(mail.received_index, mail.received_index + 2)
        ]
    assert [o.event["kind"] if o else None for o in kinds] == [
        EventKind.RECEIVED,
        EventKind.MAIL_QUARANTINED,
    ]


def test_an_unknown_recipient_is_refused_at_rcpt_and_nothing_is_stored(
    database: Database, smtp_port: int
) -> None:
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")

    replies, last = send(smtp_port, raw, sender=SIGNED_FROM, to=["nobody@pouch.example"])

    assert [r.code for r in replies] == [550]
    assert last.code == 550
    assert arrivals(database) == []


def test_mail_from_an_unknown_sender_is_quarantined(database: Database, smtp_port: int) -> None:
    raw = crlf(
        b"From: Someone <someone@unknown.example>\nTo: president-elect@pouch.example\n"
        b"Subject: Hello\nMessage-ID: <1@unknown.example>\n\nA letter.\n"
    )

    _, data = send(smtp_port, raw, sender="someone@unknown.example", to=[PRINCIPAL])

    assert data.code == 250
    assert quarantine_reason(database).startswith("unknown sender: someone@unknown.example")


def test_unsigned_mail_from_an_office_that_signs_everything_is_quarantined(
    database: Database, smtp_port: int
) -> None:
    raw = crlf(
        b"From: Joe <joe@football.example.com>\nTo: president-elect@pouch.example\n"
        b"Subject: Unsigned\nMessage-ID: <2@football.example.com>\n\nNo signature.\n"
    )

    _, data = send(smtp_port, raw, sender=SIGNED_FROM, to=[PRINCIPAL])

    assert data.code == 250
    assert quarantine_reason(database) == "unsigned: the sender office requires DKIM-signed mail"


def test_an_unsigned_report_with_attachments_from_an_office_that_does_not_sign_is_accepted(
    database: Database, smtp_port: int, mail_world: MailWorld
) -> None:
    raw = crlf(corpus("cpython-msg_16.txt"))

    _, data = send(smtp_port, raw, sender="postmaster@ucla.edu", to=[PRINCIPAL])

    assert data.code == 250, data.text
    (mail,) = arrivals(database)
    assert mail.state == MailState.ACCEPTED
    (message,) = _messages(database)
    assert message.sender_office_id == mail_world.lax.id
    assert message.precedence == Precedence.ROUTINE
    assert message.body_text.startswith("This report relates to a message you sent")
    with database.transaction(write=False) as session:
        found = session.get(Message, message.id)
        assert found is not None
        names = [(a.filename, a.declared_type) for a in found.attachments]
    assert names == [
        ("part-1.bin", "message/delivery-status"),
        ("part-2.eml", "message/rfc822"),
    ]


def test_mail_with_wrong_boundaries_is_quarantined_not_cut_short(
    database: Database, smtp_port: int
) -> None:
    raw = (
        crlf(corpus("cpython-msg_15.txt"))
        .replace(b"From: xx@xx.dk", b"From: xx@ucla.edu")
        .replace(b"To: XX", b"To: president-elect@pouch.example")
    )

    _, data = send(smtp_port, raw, sender="xx@ucla.edu", to=[PRINCIPAL])

    assert data.code == 250
    assert quarantine_reason(database).startswith("malformed MIME (StartBoundaryNotFoundDefect)")


def test_the_same_mail_again_is_a_replay_not_a_second_message(
    database: Database, smtp_port: int
) -> None:
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    _, first = send(smtp_port, raw, sender=SIGNED_FROM, to=[PRINCIPAL])
    # The same bytes, and the same letter through another relay (a trace header more).
    relayed = b"Received: from relay.example by mx.example; Fri, 11 Jul 2003 21:01:00 -0700\r\n"
    _, again = send(smtp_port, raw, sender=SIGNED_FROM, to=[PRINCIPAL])
    _, through = send(smtp_port, relayed + raw, sender=SIGNED_FROM, to=[PRINCIPAL])

    (message,) = _messages(database)
    assert first.code == again.code == through.code == 250
    assert f"already accepted as {message.public_id}" in again.text
    assert f"already accepted as {message.public_id}" in through.text
    states = [m.state for m in arrivals(database)]
    assert states == [MailState.ACCEPTED, MailState.REPLAY, MailState.REPLAY]


def test_a_message_id_reused_for_another_letter_is_quarantined(
    database: Database, smtp_port: int
) -> None:
    def letter(body: bytes) -> bytes:
        return crlf(
            b"From: <postmaster@ucla.edu>\nTo: president-elect@pouch.example\n"
            b"Subject: Same id\nMessage-ID: <same@ucla.edu>\n\n" + body
        )

    send(smtp_port, letter(b"The first letter.\n"), sender="a@ucla.edu", to=[PRINCIPAL])
    _, second = send(smtp_port, letter(b"Another letter.\n"), sender="a@ucla.edu", to=[PRINCIPAL])

    assert second.code == 250
    assert len(_messages(database)) == 1
    first_mail, second_mail = arrivals(database)
    assert first_mail.state == MailState.ACCEPTED
    assert second_mail.state == MailState.QUARANTINED
    assert second_mail.reason == "the Message-ID was used before for another content"


def test_a_mail_over_the_size_limit_gets_552_and_is_not_stored(
    database: Database, smtp_port: int
) -> None:
    from tests.mail.conftest import MAX_BYTES

    raw = crlf(
        b"From: <postmaster@ucla.edu>\nTo: president-elect@pouch.example\nSubject: Big\n\n"
        + b"x" * 76
        + b"\n"
    ) * (MAX_BYTES // 70)

    try:
        _, data = send(smtp_port, raw, sender="a@ucla.edu", to=[PRINCIPAL])
        code = data.code
    except smtplib.SMTPDataError as error:
        code = error.smtp_code
    except smtplib.SMTPServerDisconnected:
        code = 552  # some servers hang up after the 552 line
    assert code == 552
    assert arrivals(database) == []


def test_nothing_is_counted_twice(database: Database, smtp_port: int) -> None:
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    send(smtp_port, raw, sender=SIGNED_FROM, to=[PRINCIPAL])
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(RawMail)) == 1


def test_mails_arriving_together_share_commits_and_each_is_answered_once_durable(
    fresh_database: Database, clock: ManualClock, dns_server: DnsServer
) -> None:
    """Eight senders at once, on a database of its own (the other tests share one
    connection): each mail stored, logged and accepted before its 250, in one unit of
    the group commit, their units committed together (fewer commits than mails), as
    acceptances over HTTP are."""
    world = build_world(fresh_database, clock)
    with fresh_database.transaction() as session:
        lax = make_office(session, clock, "lax-office", OfficeKind.FOREIGN, "US")
        for office_id, address in (
            (world.offices["president-elect"].id, PRINCIPAL),
            (lax.id, "@ucla.edu"),
        ):
            mail_service.set_office_mail(
                session,
                office_id,
                mail_service.OfficeMail(addresses=[address], pins=[], require_signed=False),
                now=clock.now(),
                by=None,
            )
    committer = GroupCommitter(fresh_database, window=0.005, name="mail-commit")
    committer.start()
    intake = mail_intake(fresh_database, clock, dns=dns_server.address, committer=committer)

    def one(port: int, n: int) -> Reply:
        raw = crlf(
            f"From: Desk {n} <desk{n}@ucla.edu>\nTo: {PRINCIPAL}\nSubject: Together {n}\n"
            f"Message-ID: <together-{n}@ucla.edu>\n\nA letter among eight.\n".encode()
        )
        return send(port, raw, sender=f"desk{n}@ucla.edu", to=[PRINCIPAL])[1]

    try:
        with serving(intake) as port, ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda n: one(port, n), range(8)))
    finally:
        committer.stop()
    assert all(r.code == 250 and "accepted as m-" in r.text for r in replies), replies
    subjects = sorted(m.subject for m in _messages(fresh_database))
    assert subjects == [f"Together {n}" for n in range(8)]
    assert committer.units == 8  # each mail: stored with its received event and accepted
    assert committer.batches < committer.units, (committer.units, committer.batches)


def test_a_mail_is_on_the_watch_floor_with_its_dkim_verdict(
    app_client: TestClient, database: Database, smtp_port: int, mail_world: MailWorld
) -> None:
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    _, data = send(smtp_port, raw, sender=SIGNED_FROM, to=["President-Elect+FLASH@pouch.example"])
    assert data.code == 250, data.text
    (message,) = _messages(database)

    log_in(app_client, "watch-officer")
    queue = app_client.get("/watch/queue")
    assert queue.status_code == 200 and message.public_id in queue.text
    page = app_client.get(f"/watch/{message.public_id}")
    assert page.status_code == 200
    shown = " ".join(page.text.split())
    # Two signatures by one domain: the domain named once.
    assert "Authenticated: DKIM-signed by football.example.com, the sender's domain" in shown
    assert "DKIM d=football.example.com s=brisbane: pass (key from dns)" in shown
    assert "DKIM d=football.example.com s=test: pass (key from dns)" in shown


def _lax_letter(subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Consul <consul@ucla.edu>"
    mail["To"] = PRINCIPAL
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{subject.replace(' ', '-')}@ucla.edu>"
    return mail


def test_the_precedence_header_html_and_attachments_take_the_apis_path(
    database: Database, smtp_port: int, mail_world: MailWorld
) -> None:
    """RFC 6477's header when the address has no tag; the HTML body through the same
    sanitizer as the API's; attachments over the cap quarantined with the reason."""
    letter = _lax_letter("Urgent note")
    letter["MMHS-Primary-Precedence"] = "immediate"
    letter.set_content("Plain words.")
    letter.add_alternative(
        '<p onclick="steal()">Please <b>call</b>.</p><script>alert(1)</script>', subtype="html"
    )
    raw = letter.as_bytes(policy=email.policy.SMTP)
    _, data = send(smtp_port, raw, sender="consul@ucla.edu", to=[PRINCIPAL])
    assert data.code == 250 and "accepted as m-" in data.text, data.text
    (message,) = _messages(database)
    assert message.precedence == Precedence.IMMEDIATE
    assert message.body_html is not None
    assert "<b>call</b>" in message.body_html
    assert "script" not in message.body_html and "onclick" not in message.body_html

    crowded = _lax_letter("Six annexes")
    crowded.set_content("Annexes attached.")
    for n in range(LIMITS.max_attachments + 1):
        crowded.add_attachment(b"%PDF-1.4 annex", maintype="application", subtype="pdf",
                               filename=f"annex-{n}.pdf")  # fmt: skip
    raw = crowded.as_bytes(policy=email.policy.SMTP)
    _, data = send(smtp_port, raw, sender="consul@ucla.edu", to=[PRINCIPAL])
    assert data.code == 250 and "quarantined" in data.text, data.text
    assert len(_messages(database)) == 1
    crowd = arrivals(database)[-1]
    assert crowd.state == MailState.QUARANTINED
    assert crowd.reason is not None and "attachment" in crowd.reason, crowd.reason


def test_a_quarantined_mails_sender_proves_its_arrival_with_a_receipt(
    app_client: TestClient, database: Database, smtp_port: int, mail_world: MailWorld
) -> None:
    """Whoever holds the mail's bytes asks, with no credentials, for the receipt of its
    arrival: the ``received`` event's opening and a tlog-proof under the log's key."""
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    tampered = raw.replace(b"Are you hungry yet?", b"Are you thirsty yet?")
    _, data = send(smtp_port, tampered, sender=SIGNED_FROM, to=[PRINCIPAL])
    assert "quarantined" in data.text
    sha256 = hashlib.sha256(tampered).hexdigest()

    url = f"/api/mail/{sha256}/receipt"
    pending = app_client.get(url)
    assert pending.status_code == 200, pending.text
    ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    ledger.integrate_now()
    shown = app_client.get(url).json()
    opening = Opening.from_json(shown["opening"])
    assert opening.event["kind"] == EventKind.RECEIVED and opening.event["mail"] == sha256
    assert shown["receipt_url"].endswith(url)
    verified = verify_receipt(
        shown["receipt"].encode(), opening.entry(), log=Ed25519Verifier.from_vkey(ledger.vkey)
    )
    assert verified.index == opening.index == arrivals(database)[0].received_index

    # Another mail's hash, or no hash at all: nothing to show.
    assert app_client.get(f"/api/mail/{'0' * 64}/receipt").status_code == 404
    for bad in ("ABC", "g" * 64, "0" * 65, "%00" * 64):
        refused = app_client.get(f"/api/mail/{bad}/receipt")
        assert refused.status_code in (400, 404), (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
