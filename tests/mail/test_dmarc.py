"""DMARC policy discovery (RFC 7489) against what Pouch did not write: the RFC's own
example records (Appendix B), the Public Suffix List as the publicsuffixlist package
ships it, DNS answers from a real DNS server on a free port, and letters sent over
SMTP to the real listener, DKIM-signed with dkimpy."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from types import SimpleNamespace

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jinja2 import Environment, FileSystemLoader

from pouch.app import WEB_DIR
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.mail import dmarc
from pouch.mail import service as mail_service
from pouch.mail.keys import dns_txt
from pouch.mail.models import InboundMail, MailState
from pouch.messages import service as message_service
from tests.factories import make_office
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import DnsServer, arrivals, mail_intake, send, serving

# RFC 7489 Appendix B, as published there.
B_2_1 = "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com"
B_2_2 = (
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@example.com"
)
B_2_3 = (
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; "
    "ruf=mailto:auth-reports@thirdparty.example.net"
)
B_2_3_THIRD_PARTY = "v=DMARC1;"  # example.com._report._dmarc.thirdparty.example.net
# B.2.4, _dmarc.test.example.com: four strings in the zone file, one record.
B_2_4 = (
    "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,"
    "mailto:tld-test@thirdparty.example.net!10m; pct=25"
)
B_3_1 = "v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com"


def test_the_rfc_example_records() -> None:
    b21, b22, b23, b24, b31 = (dmarc.parse(t) for t in (B_2_1, B_2_2, B_2_3, B_2_4, B_3_1))
    assert b21 == dmarc.Record(p="none", rua=("mailto:dmarc-feedback@example.com",))
    assert b22 is not None and b22.ruf == ("mailto:auth-reports@example.com",)
    assert b23 is not None and b23.ruf == ("mailto:auth-reports@thirdparty.example.net",)
    assert b24 is not None
    assert (b24.p, b24.sp, b24.adkim, b24.pct) == ("quarantine", None, "r", 25)
    assert b24.rua == (
        "mailto:dmarc-feedback@example.com",
        "mailto:tld-test@thirdparty.example.net!10m",
    )
    assert b31 is not None and (b31.p, b31.aspf) == ("reject", "r")
    # The third party's authorization record is a DMARC record, but no policy.
    assert dmarc.is_dmarc(B_2_3_THIRD_PARTY) and dmarc.parse(B_2_3_THIRD_PARTY) is None


def test_the_rfc_alignment_examples() -> None:
    """Appendix B.1.2: d=example.com against three From domains."""
    assert dmarc.aligned("example.com", "example.com", "s")
    assert dmarc.aligned("child.example.com", "example.com", "r")
    assert not dmarc.aligned("child.example.com", "example.com", "s")
    assert not dmarc.aligned("child.example.com", "sample.net", "r")


def test_organizational_domains_come_from_the_public_suffix_list() -> None:
    assert dmarc.organizational_domain("a.b.example.co.uk") == "example.co.uk"
    assert dmarc.organizational_domain("mail.diplomatie.gouv.fr") == "diplomatie.gouv.fr"
    assert not dmarc.aligned("mfa.gov.ie", "dfa.gov.ie")  # gov.ie is a public suffix


@pytest.fixture
def policies() -> Iterator[DnsServer]:
    with DnsServer(
        {
            "_dmarc.test.example.com": B_2_4,
            "_dmarc.example.com": B_3_1,
            "_dmarc.two.example": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
            "_dmarc.mixed.example": ["v=spf1 -all", "v=DMARC1; p=quarantine; sp=none"],
        }
    ) as server:
        yield server


def test_discovery_over_dns(policies: DnsServer) -> None:
    lookup = dns_txt(server=policies.address, timeout=2)

    own = dmarc.discover("test.example.com", lookup)
    assert (own.result, own.domain, own.disposition, own.text) == (
        "found",
        "test.example.com",
        "quarantine",
        B_2_4,
    )
    # No record of its own: the organizational domain's, and its p (no sp there).
    child = dmarc.discover("mail.child.example.com", lookup)
    assert (child.result, child.domain, child.disposition) == ("found", "example.com", "reject")
    assert policies.queries[-2:] == ["_dmarc.mail.child.example.com", "_dmarc.example.com"]
    # Two DMARC records: no policy (§6.6.3 step 5), and no look further up.
    two = dmarc.discover("two.example", lookup)
    assert (two.result, two.reason) == ("none", "2 DMARC records at _dmarc.two.example")
    # Another TXT record beside it is set aside; a subdomain gets sp.
    assert dmarc.discover("mixed.example", lookup).disposition == "quarantine"
    assert dmarc.discover("desk.mixed.example", lookup).disposition == "none"
    assert dmarc.discover("nowhere.example", lookup).result == "none"


def test_a_dns_server_that_does_not_answer_is_a_temperror() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        lookup = dns_txt(server=f"127.0.0.1:{mute.getsockname()[1]}", timeout=0.2)
        found = dmarc.discover("example.com", lookup)
    assert found.result == "temperror"
    assert found.reason == "_dmarc.example.com: LifetimeTimeout"


# -- through the real SMTP listener --------------------------------------------

SELECTOR = "s1"


@pytest.fixture
def key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def desk_dns() -> Iterator[DnsServer]:
    with DnsServer({}, ttl=0) as server:
        yield server


@pytest.fixture
def port(
    database: Database,
    clock: ManualClock,
    mail_world: MailWorld,
    key: ed25519.Ed25519PrivateKey,
    desk_dns: DnsServer,
) -> Iterator[int]:
    """An office writing from mfa.example and its subdomains, which does not require
    signed mail; its key pinned, its DMARC policy in DNS."""
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    record = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
    with database.transaction() as session:
        office = make_office(session, clock, "mfa", OfficeKind.FOREIGN, "IE")
        mail_service.set_office_mail(
            session,
            office.id,
            mail_service.OfficeMail(
                addresses=["@mfa.example", "@desk.mfa.example"],
                pins=[{"domain": "mfa.example", "selector": SELECTOR, "record": record}],
                require_signed=False,
            ),
            now=datetime.now(UTC),
            by=None,
        )
    with serving(mail_intake(database, clock, dns=desk_dns.address)) as bound:
        yield bound


def _letter(sender: str, key: ed25519.Ed25519PrivateKey | None, n: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = PRINCIPAL
    mail["Subject"] = f"Letter {n}"
    mail["Message-ID"] = f"<dmarc-{n}@mfa.example>"
    mail.set_content("Dear colleague\n")
    raw = mail.as_bytes().replace(b"\n", b"\r\n")
    if key is None:
        return raw
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return (
        dkim.sign(
            raw,
            SELECTOR.encode(),
            b"mfa.example",
            base64.b64encode(seed),
            signature_algorithm=b"ed25519-sha256",
        )
        + raw
    )


def _arrive(port: int, sender: str, key: ed25519.Ed25519PrivateKey | None, n: int) -> str:
    _, done = send(port, _letter(sender, key, n), sender=sender, to=[PRINCIPAL])
    assert done.code == 250, done.text
    return done.text


def _last(database: Database) -> InboundMail:
    return arrivals(database)[-1]


def test_a_policy_decides_for_unsigned_mail(
    database: Database, port: int, desk_dns: DnsServer
) -> None:
    desk_dns.records["_dmarc.mfa.example"] = "v=DMARC1; p=none; sp=reject"
    # p=none for the domain itself: taken, unauthenticated, the policy on the record.
    assert "accepted as m-" in _arrive(port, "desk@mfa.example", None, 1)
    (public_id,) = _last(database).messages
    with database.transaction(write=False) as session:
        evidence = message_service.get_message(session, public_id).signature["mail"]
    assert evidence["dmarc"] == "fail"
    assert evidence["dmarc_policy"]["record"] == "v=DMARC1; p=none; sp=reject"
    assert evidence["dmarc_policy"]["applied"] == "none"

    # A subdomain without a record of its own: the organizational domain's sp.
    assert "quarantined" in _arrive(port, "clerk@desk.mfa.example", None, 2)
    mail = _last(database)
    assert mail.reason == (
        "DMARC policy reject of mfa.example (_dmarc.mfa.example: v=DMARC1; p=none; "
        "sp=reject): unsigned"
    )
    assert mail.verdicts is not None
    assert mail.verdicts["dmarc_policy"] == {
        "result": "found",
        "domain": "mfa.example",
        "record": "v=DMARC1; p=none; sp=reject",
        "p": "none",
        "sp": "reject",
        "adkim": "r",
        "pct": 100,
        "applied": "reject",
    }


def test_strict_alignment_is_asked_by_the_policy(
    database: Database, port: int, key: ed25519.Ed25519PrivateKey, desk_dns: DnsServer
) -> None:
    desk_dns.records["_dmarc.mfa.example"] = "v=DMARC1; p=quarantine"
    # Signed by mfa.example, written from desk.mfa.example: relaxed alignment passes.
    assert "accepted as m-" in _arrive(port, "clerk@desk.mfa.example", key, 1)
    assert _last(database).verdicts["dmarc"] == "pass"  # type: ignore[index]

    desk_dns.records["_dmarc.mfa.example"] = "v=DMARC1; p=quarantine; adkim=s"
    assert "quarantined" in _arrive(port, "clerk@desk.mfa.example", key, 2)
    mail = _last(database)
    assert mail.state == MailState.QUARANTINED
    assert mail.reason == (
        "DMARC alignment: signed by mfa.example, not by the From domain desk.mfa.example "
        "(its DMARC policy asks for strict alignment, adkim=s)"
    )


def test_a_signature_of_the_from_domain_needs_no_policy(
    database: Database, port: int, key: ed25519.Ed25519PrivateKey, desk_dns: DnsServer
) -> None:
    desk_dns.records["_dmarc.mfa.example"] = "v=DMARC1; p=reject; adkim=s"
    assert "accepted as m-" in _arrive(port, "desk@mfa.example", key, 1)
    verdicts = _last(database).verdicts
    assert verdicts is not None and verdicts["dmarc"] == "pass"
    assert verdicts["dmarc_policy"]["result"] == "skipped"
    assert not any(q.startswith("_dmarc.") for q in desk_dns.queries)


def test_a_policy_dns_cannot_tell_sends_unsigned_mail_to_the_quarantine(
    database: Database, clock: ManualClock, mail_world: MailWorld
) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute,
        DnsServer({}) as keys,
    ):
        mute.bind(("127.0.0.1", 0))
        intake = mail_intake(database, clock, dns=keys.address)
        intake.policies = dns_txt(server=f"127.0.0.1:{mute.getsockname()[1]}", timeout=0.2)
        with serving(intake) as bound:
            text = _arrive(bound, "desk@ucla.edu", None, 1)
    assert "quarantined" in text
    assert _last(database).reason == (
        "DMARC temperror: the policy of ucla.edu could not be fetched "
        "(_dmarc.ucla.edu: LifetimeTimeout)"
    )


def test_readers_see_the_policy_with_the_authentication() -> None:
    env = Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=True)
    macro = env.from_string('{% import "_macros.html" as ui %}{{ ui.by_mail(m) }}')

    def shown(policy: dmarc.Policy) -> str:
        mail = {"sha256": "ab" * 32, "dmarc": "fail", "dkim": [], "dmarc_policy": policy.evidence()}
        return " ".join(macro.render(m=SimpleNamespace(signature={"mail": mail})).split())

    found = dmarc.Policy("desk.mfa.example", "found", "mfa.example", B_2_4, dmarc.parse(B_2_4))
    assert "DMARC policy of mfa.example: p=quarantine adkim=r pct=25, applied: quarantine" in (
        shown(found)
    )
    assert "no DMARC policy" in shown(dmarc.Policy("mfa.example", "none"))
