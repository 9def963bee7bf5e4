"""The sender is answered by mail: the message id and its receipt, or the reason for
quarantine; later the message's steps and the addressee's reply, in the mail's
thread, DKIM-signed by Pouch. Every e-mail goes through the real outbox to a real
SMTP relay and is verified with dkimpy against the record the docs say to publish.
Never an answer to a return path no passing signature is aligned with."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import dkim
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.mail import answers
from pouch.mail import flows as mail_flows
from pouch.mail import service as mail_service
from pouch.mail.flows import MailIntake
from pouch.mail.models import MailState
from pouch.messages import destinations, outbox
from pouch.messages import service as message_service
from pouch.messages.dkim_signing import DkimSigner
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import Delivered, Relay, Reply, arrivals, send, serving
from tests.messages.helpers import LIMITS, route

SENDER = "desk@football.example.com"
SELECTOR = "t1"
POUCH_FROM = "desk@pouch.example"


@pytest.fixture
def office_key(database: Database, mail_world: MailWorld) -> ed25519.Ed25519PrivateKey:
    """The sender office's DKIM key, pinned in the directory."""
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    record = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
    with database.transaction() as session:
        mail_service.set_office_mail(
            session,
            mail_world.signing.id,
            mail_service.OfficeMail(
                addresses=["@football.example.com"],
                pins=[{"domain": "football.example.com", "selector": SELECTOR, "record": record}],
                require_signed=True,
            ),
            now=datetime.now(UTC),
            by=None,
        )
    return key


@pytest.fixture
def pouch_signer(tmp_path: Path) -> DkimSigner:
    """Pouch's own key, as an operator makes it (docs/operations.md)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return DkimSigner.from_file(path, domain="pouch.example", selector="pouch2026")


@pytest.fixture
def relay() -> Iterator[Relay]:
    with Relay() as server:
        yield server


@pytest.fixture
def answering_intake(intake: MailIntake) -> MailIntake:
    intake.answering = answers.Policy(per_address=3, per_domain=5, window=timedelta(hours=1))
    intake.mail_from = POUCH_FROM
    return intake


@pytest.fixture
def port(answering_intake: MailIntake, mail_world: MailWorld) -> Iterator[int]:
    with serving(answering_intake, max_bytes=256 * 1024) as bound:
        yield bound


@dataclass
class Desk:
    """A sender office's desk writing to Pouch, and the relay Pouch answers through."""

    database: Database
    clock: ManualClock
    port: int
    key: ed25519.Ed25519PrivateKey
    relay: Relay
    signer: DkimSigner

    def write(self, subject: str, message_id: str, *, sender: str = SENDER) -> Reply:
        """A signed letter over SMTP, ``sender`` as its return path."""
        raw = letter(self.key, subject=subject, message_id=message_id)
        return self.send(raw, sender=sender)

    def send(self, raw: bytes, *, sender: str = SENDER) -> Reply:
        _, done = send(self.port, raw, sender=sender, to=[PRINCIPAL])
        return done

    def drain(self) -> None:
        drain(self.database, self.clock, self.relay, self.signer)

    def answers(self) -> list[tuple[str, str, str]]:
        """Every answer or answer withheld: (address, about, outcome), oldest first."""
        with self.database.transaction(write=False) as session:
            return [
                (row.address, row.about, row.outcome)
                for mail in arrivals(self.database)
                for row in mail_service.answers_of(session, mail.id)
            ]


@pytest.fixture
def desk(
    database: Database,
    clock: ManualClock,
    port: int,
    office_key: ed25519.Ed25519PrivateKey,
    relay: Relay,
    pouch_signer: DkimSigner,
) -> Desk:
    return Desk(database, clock, port, office_key, relay, pouch_signer)


def letter(
    key: ed25519.Ed25519PrivateKey, *, subject: str, message_id: str, body: str = "Dear colleague"
) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Foreign Desk <{SENDER}>"
    mail["To"] = PRINCIPAL
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    mail["Date"] = "Sun, 06 Dec 2026 20:00:00 +0000"
    mail.set_content(body + "\n")
    raw = mail.as_bytes(policy=email.policy.SMTP)
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    signature = dkim.sign(
        raw,
        SELECTOR.encode(),
        b"football.example.com",
        base64.b64encode(seed),
        signature_algorithm=b"ed25519-sha256",
        include_headers=[b"from", b"to", b"subject", b"message-id", b"date"],
    )
    return bytes(signature) + raw


def drain(database: Database, clock: ManualClock, relay: Relay, signer: DkimSigner) -> None:
    """One round of the real outbox, through the relay, signing with Pouch's key."""
    transport = outbox.Transport(
        http=httpx.Client(),
        relay=outbox.MailRelay(
            host="127.0.0.1",
            port=relay.port,
            starttls=False,
            username=None,
            password=None,
            mail_from=POUCH_FROM,
            signer=signer,
        ),
        timeout=10,
        policy=destinations.Policy(allow_http=True, allow_private=True),
    )
    box = outbox.Outbox(
        database, clock=clock, transport=transport, interval=1, lease=timedelta(minutes=1)
    )
    try:
        result = box.run_once()
    finally:
        box.close()
    assert result.retried == 0 and result.failed == 0, result


def verified(delivered: Delivered, signer: DkimSigner) -> EmailMessage:
    """The mail, once its DKIM signature verifies against the published record only."""
    published = {f"{signer.record_name}.": signer.record.encode()}

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return published.get(name.decode())

    assert dkim.verify(delivered.raw, dnsfunc=dns), delivered.raw[:400]
    parsed = email.message_from_bytes(delivered.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_an_accepted_mail_is_answered_with_its_message_and_receipt(desk: Desk) -> None:
    done = desk.write("Congratulations", "<c1@football.example.com>")
    assert done.code == 250, done.text
    (mail,) = arrivals(desk.database)
    assert mail.state == MailState.ACCEPTED
    desk.drain()

    (answer,) = desk.relay.received
    assert answer.rcpt_tos == (SENDER,)
    assert answer.mail_from == POUCH_FROM
    parsed = verified(answer, desk.signer)
    assert parsed["In-Reply-To"] == "<c1@football.example.com>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    text = parsed.get_content()
    (public_id,) = mail.messages
    assert f"Message {public_id}" in text
    assert f"/api/messages/{public_id}/events/" in text and "/receipt" in text
    assert f"log index {mail.received_index}" in text
    assert desk.answers() == [(SENDER, "accepted", "sent")]


def test_a_quarantined_mail_is_answered_with_the_reason(desk: Desk) -> None:
    # Signed and aligned, from the right office, but the (unsigned) Content-Type
    # makes it a multipart whose boundary never comes: cut short.
    _cut_short(desk, "<q1@football.example.com>")
    (mail,) = arrivals(desk.database)
    desk.drain()

    (answer,) = desk.relay.received
    parsed = verified(answer, desk.signer)
    assert "[Pouch] quarantined" in parsed["Subject"]
    assert mail.reason is not None
    assert " ".join(mail.reason.split()) in " ".join(parsed.get_content().split())
    # Where the sender gets the receipt of its arrival.
    assert f"/api/mail/{mail.sha256}/receipt" in parsed.get_content()


def test_a_forged_return_path_gets_no_answer(desk: Desk) -> None:
    """Someone replays a well-signed letter with a victim's return path, and sends an
    unsigned one in the office's name: neither return path is answered."""
    desk.write("Signed", "<f1@football.example.com>", sender="victim@innocent.example")
    forged = letter(desk.key, subject="Forged", message_id="<f2@football.example.com>")
    desk.send(forged.replace(b"DKIM-Signature:", b"X-Removed:"))
    desk.drain()

    assert desk.relay.received == []
    first, second = arrivals(desk.database)
    assert first.state == MailState.ACCEPTED  # the letter itself is genuine
    assert second.state == MailState.QUARANTINED
    assert desk.answers() == [
        ("victim@innocent.example", "accepted", "unaligned"),
        (SENDER, "quarantined", "unaligned"),
    ]


def test_answers_are_limited_per_address(desk: Desk) -> None:
    for n in range(5):
        desk.write(f"Note {n}", f"<n{n}@football.example.com>")
    desk.drain()
    assert len(desk.relay.received) == 3  # per_address=3 in the window
    assert [outcome for *_, outcome in desk.answers()] == ["sent"] * 3 + ["limited"] * 2
    # The window passes: the next one is answered again.
    desk.clock.advance(timedelta(hours=1, seconds=1))
    desk.write("Later", "<later@football.example.com>")
    desk.drain()
    assert len(desk.relay.received) == 4


def test_an_automatic_mail_gets_no_automatic_answer(desk: Desk) -> None:
    raw = letter(desk.key, subject="Out of office", message_id="<ooo@football.example.com>")
    desk.send(b"Auto-Submitted: auto-replied\r\n" + raw)
    desk.drain()
    assert desk.relay.received == []
    assert desk.answers() == [(SENDER, "accepted", "automatic")]


def test_steps_and_the_reply_go_back_by_mail_in_the_thread(
    desk: Desk, mail_world: MailWorld
) -> None:
    original_id = "<thread@football.example.com>"
    desk.write("A call next week?", original_id)
    (mail,) = arrivals(desk.database)
    (public_id,) = mail.messages
    users = mail_world.world.users
    database, clock = desk.database, desk.clock
    route(database, clock, mail_world.world, public_id)
    with database.transaction() as session:
        message = message_service.get_message(session, public_id, for_update=True)
        principal = users[Role.PRINCIPAL].id
        message_service.mark_read(session, message=message, user_id=principal, now=clock.now())
        message_service.acknowledge(session, message=message, user_id=principal, now=clock.now())
        reply = message_service.reply(
            session,
            message,
            body="Tuesday at ten suits the President-elect.",
            body_format="text",
            language="en",
            precedence=Precedence.ROUTINE,
            subject=None,
            user_id=principal,
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
            limits=LIMITS,
        )
        reply_id = reply.message.public_id
    route(database, clock, mail_world.world, reply_id)
    desk.drain()

    mails = [verified(d, desk.signer) for d in desk.relay.received]
    assert all(d.rcpt_tos == (SENDER,) for d in desk.relay.received)
    # The outbox sends concurrently: in any order.
    subjects = [str(m["Subject"]) for m in mails]
    for step in ("accepted", "delivered", "read", "acknowledged"):
        assert any(s.startswith(f"[Pouch] {step}: A call next week?") for s in subjects), step
    (answer,) = [m for m in mails if m["Subject"] == "Re: A call next week?"]
    assert "Tuesday at ten" in answer.get_content()
    assert answer["Auto-Submitted"] is None  # a person's reply, not a robot's
    for each in mails:
        assert each["In-Reply-To"] == original_id
        assert original_id in str(each["References"])


def test_the_published_record_is_what_dkimpy_reads(pouch_signer: DkimSigner) -> None:
    assert pouch_signer.record_name == "pouch2026._domainkey.pouch.example"
    assert pouch_signer.record.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")


def _cut_short(desk: Desk, message_id: str) -> int:
    """A signed, aligned letter quarantined for a MIME defect; its arrival's id."""
    raw = letter(desk.key, subject="Cut short", message_id=message_id)
    raw = raw.replace(
        b"Content-Type: text/plain", b'Content-Type: multipart/mixed; boundary="never"'
    )
    assert "quarantined" in desk.send(raw).text
    return arrivals(desk.database)[-1].id


def test_the_officers_decision_is_answered_too(desk: Desk, mail_world: MailWorld) -> None:
    released, rejected = (
        _cut_short(desk, "<r1@football.example.com>"),
        _cut_short(desk, "<r2@football.example.com>"),
    )
    users = mail_world.world.users
    policy = answers.Policy()
    with desk.database.transaction() as session:
        mail_flows.release(
            session,
            released,
            officer_id=users[Role.WATCH_OFFICER].id,
            sender_office_id=None,
            addressee_office_id=None,
            reason="Read it: complete",
            now=desk.clock.now(),
            timetable=DEFAULT_TIMETABLE,
            limits=LIMITS,
            base_url="http://testserver",
            answering=policy,
            mail_from=POUCH_FROM,
        )
        for officer in (Role.WATCH_OFFICER, Role.ADMINISTRATOR):
            mail_flows.reject(
                session,
                rejected,
                officer_id=users[officer].id,
                reason="Not a letter",
                now=desk.clock.now(),
                answering=policy,
                mail_from=POUCH_FROM,
                base_url="http://testserver",
            )
    desk.drain()

    subjects = sorted(str(verified(d, desk.signer)["Subject"]) for d in desk.relay.received)
    assert subjects == [
        "[Pouch] quarantined: Cut short",
        "[Pouch] quarantined: Cut short",
        "[Pouch] rejected: Cut short",
        "[Pouch] released: Cut short",
    ]
    assert [about for _, about, _ in desk.answers()] == [
        "quarantined",
        "released",
        "quarantined",
        "rejected",
    ]
