"""Keys pinned in the directory before DNS, ARC kept as evidence, and the transport:
LMTP, STARTTLS, and 451 when the mail cannot be stored."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.mail import service as mail_service
from pouch.mail.flows import MailIntake
from pouch.mail.models import MailState
from pouch.mail.server import tls_context
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import (
    DnsServer,
    arrivals,
    corpus,
    crlf,
    mail_auth_case,
    mail_intake,
    send,
    serving,
)

SIGNED_FROM = "joe@football.example.com"


def _pin(database: Database, mail_world: MailWorld, pins: list[dict[str, str]]) -> None:
    with database.transaction() as session:
        mail_service.set_office_mail(
            session,
            mail_world.signing.id,
            mail_service.OfficeMail(
                addresses=["@football.example.com"], pins=pins, require_signed=True
            ),
            now=datetime.now(UTC),
            by=None,
        )


def _records() -> dict[str, str]:
    records, _ = mail_auth_case("mail-auth-dkim-001.txt")
    return records


@pytest.fixture
def silent_dns() -> Iterator[DnsServer]:
    with DnsServer({}) as server:
        yield server


def test_pinned_keys_verify_without_dns(
    database: Database, clock: ManualClock, mail_world: MailWorld, silent_dns: DnsServer
) -> None:
    records = _records()
    _pin(
        database,
        mail_world,
        [
            {
                "domain": "football.example.com",
                "selector": "brisbane",
                "record": records["brisbane._domainkey.football.example.com"],
            },
            {
                "domain": "football.example.com",
                "selector": "test",
                "record": corpus("dkimpy-test.txt").decode().strip(),
            },
        ],
    )
    with serving(mail_intake(database, clock, dns=silent_dns.address)) as port:
        # The simple/simple twin of the RFC 8463 letter, from dkimpy's tests.
        _, data = send(
            port, crlf(corpus("dkimpy-rfc6376.signed.msg")), sender=SIGNED_FROM, to=[PRINCIPAL]
        )

    assert data.code == 250, data.text
    (mail,) = arrivals(database)
    assert mail.state == MailState.ACCEPTED
    assert mail.verdicts is not None
    assert {(v["s"], v["result"], v["key"]) for v in mail.verdicts["dkim"]} == {
        ("brisbane", "pass", "pin"),
        ("test", "pass", "pin"),
    }
    assert silent_dns.queries == []


def test_a_pin_wins_over_dns(
    database: Database, smtp_port: int, mail_world: MailWorld, dns_server: DnsServer
) -> None:
    # DNS has the right keys; the office pinned other ones (it rotated, or DNS was
    # taken over): the pins are believed, and the mail is quarantined.
    other = corpus("dkimpy-test.txt").decode().strip()
    _pin(
        database,
        mail_world,
        [
            {"domain": "football.example.com", "selector": "brisbane", "record": other},
            {"domain": "football.example.com", "selector": "test", "record": other[:-12] + "AQAB"},
        ],
    )
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")

    _, data = send(smtp_port, raw, sender=SIGNED_FROM, to=[PRINCIPAL])

    assert data.code == 250
    (mail,) = arrivals(database)
    assert mail.state == MailState.QUARANTINED
    assert mail.reason is not None
    assert mail.reason.startswith("DKIM fail for d=football.example.com")
    assert not any(q.startswith("brisbane.") for q in dns_server.queries)


def test_arc_is_kept_as_evidence_when_a_list_broke_the_authors_signature(
    database: Database, smtp_port: int
) -> None:
    _, raw = mail_auth_case("mail-auth-arc-001.txt")

    _, data = send(smtp_port, raw, sender="jmap-bounces@ietf.org", to=[PRINCIPAL])

    assert data.code == 250
    (mail,) = arrivals(database)
    assert mail.state == MailState.QUARANTINED
    assert mail.verdicts is not None
    assert mail.verdicts["arc"] == "pass"
    assert mail.verdicts["arc_chain"][0]["signer"] == "google.com"
    by_domain = {v["d"]: v["result"] for v in mail.verdicts["dkim"]}
    assert by_domain["stalw.art"] == "fail"
    assert mail.verdicts["dmarc"] == "fail"


def test_lmtp_answers_once_per_recipient(
    database: Database, intake: MailIntake, mail_world: MailWorld
) -> None:
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    with serving(intake, lmtp=True) as port, smtplib.LMTP("127.0.0.1", port) as client:
        client.ehlo_or_helo_if_needed()
        assert client.mail(SIGNED_FROM)[0] == 250
        assert client.rcpt(PRINCIPAL)[0] == 250
        assert client.rcpt("president-elect+immediate@pouch.example")[0] == 250
        assert client.rcpt("stranger@pouch.example")[0] == 550
        first = client.data(raw)
        second = client.getreply()

    assert first[0] == second[0] == 250
    (mail,) = arrivals(database)
    assert mail.state == MailState.ACCEPTED
    assert len(mail.recipients) == 2


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pouch.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, private = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_starttls_when_a_certificate_is_configured(
    database: Database, intake: MailIntake, mail_world: MailWorld, tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path)
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    trusting = ssl.create_default_context(cafile=str(cert))
    trusting.check_hostname = False
    with (
        serving(intake, tls=tls_context(cert, key)) as port,
        smtplib.SMTP("127.0.0.1", port) as client,
    ):
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=trusting)
        client.ehlo()
        client.sendmail(SIGNED_FROM, [PRINCIPAL], raw)

    (mail,) = arrivals(database)
    assert mail.tls is True
    assert mail.state == MailState.ACCEPTED


def test_a_database_that_does_not_answer_gets_451_at_rcpt(
    clock: ManualClock, silent_dns: DnsServer
) -> None:
    # Nothing listens on port 1: every connection is refused, as with a database down.
    down = Database.from_url("postgresql+psycopg://postgres@127.0.0.1:1/pouch?connect_timeout=2")
    intake = mail_intake(down, clock, dns=silent_dns.address)
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")
    try:
        with serving(intake) as port:
            replies, last = send(port, raw, sender=SIGNED_FROM, to=[PRINCIPAL])
    finally:
        down.dispose()

    assert [r.code for r in replies] == [451]
    assert last.text.startswith("4.3.0")


def test_mail_that_cannot_be_stored_gets_451_never_250(database: Database, smtp_port: int) -> None:
    # The recipient checks out, then the table of raw mail is gone: nothing can be
    # stored, so nothing may be acknowledged (rolled back with the test).
    with database.transaction() as session:
        for table in ("mail_decisions", "mail_answers", "inbound_mail"):
            session.execute(text(f"DROP TABLE {table}"))
    _, raw = mail_auth_case("mail-auth-dkim-001.txt")

    _, data = send(smtp_port, raw, sender=SIGNED_FROM, to=[PRINCIPAL])

    assert data.code == 451
    assert data.text.startswith("4.3.0")
