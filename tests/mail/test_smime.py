"""S/MIME-signed mail (RFC 8551 multipart/signed) over real SMTP: the verdict is kept
as evidence beside DKIM; a changed body fails; the chain is recorded as unchecked."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pouch.db import Database
from pouch.mail import smime
from pouch.mail.models import MailState
from pouch.messages import service as message_service
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import arrivals, logged_event, send

SIGNER = "consul@ucla.edu"


def _certificate(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """A self-issued S/MIME certificate, as a ministry's own CA would issue one."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Consul General")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(SIGNER)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def signed_mail(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, body: bytes) -> bytes:
    """A detached S/MIME signature over a text part, as cryptography (OpenSSL) writes it."""
    certificate = _certificate(key)
    smime_body = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body)
        .add_signer(certificate, key, hashes.SHA256())
        .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    )
    head = (
        f"From: Consul General <{SIGNER}>\r\nTo: {PRINCIPAL}\r\n"
        "Subject: Signed instructions\r\nMessage-ID: <smime-1@ucla.edu>\r\n"
    ).encode()
    return head + smime_body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_good_signature_is_kept_as_evidence(
    database: Database, smtp_port: int, mail_world: MailWorld, kind: str
) -> None:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    raw = signed_mail(key, b"Proceed as agreed.\r\n")

    _, done = send(smtp_port, raw, sender=SIGNER, to=[PRINCIPAL])

    assert done.code == 250, done.text
    (mail,) = arrivals(database)
    assert mail.state == MailState.ACCEPTED  # an office that does not require DKIM
    assert mail.verdicts is not None
    verdict = mail.verdicts["smime"]
    assert verdict["result"] == "pass", verdict
    assert verdict["chain"] == "unchecked"
    assert verdict["addresses"] == [SIGNER] and verdict["aligned"] is True
    assert verdict["signer"] == "CN=Consul General"
    assert len(verdict["certificate_sha256"]) == 64
    # The accepted event commits to the verdict and the certificate it was made with.
    (public_id,) = mail.messages
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        accepted_index = message.accepted_index
    assert accepted_index is not None
    assert logged_event(database, accepted_index)["smime"] == {
        "result": "pass",
        "certificate_sha256": verdict["certificate_sha256"],
        "aligned": True,
    }


def test_a_changed_body_fails(database: Database, smtp_port: int, mail_world: MailWorld) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = signed_mail(key, b"Proceed as agreed.\r\n").replace(b"as agreed", b"at once  ")

    _, done = send(smtp_port, raw, sender=SIGNER, to=[PRINCIPAL])

    assert done.code == 250
    (mail,) = arrivals(database)
    assert mail.verdicts is not None
    verdict = mail.verdicts["smime"]
    assert verdict["result"] == "fail"
    assert verdict["reason"] == "the signed part was changed: its digest is not the signed one"


def test_mail_that_is_not_signed_so_has_no_verdict() -> None:
    assert smime.verify(b"From: a@b.example\r\n\r\nHello\r\n", from_address="a@b.example") is None


def test_a_garbled_signature_is_a_failure_not_a_crash() -> None:
    raw = (
        b"From: a@ucla.edu\r\nContent-Type: multipart/signed; "
        b'protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n--b\r\n"
        b"Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\nAAECAwQ=\r\n--b--\r\n"
    )
    verdict = smime.verify(raw, from_address="a@ucla.edu")
    assert verdict is not None and verdict["result"] == "fail"
    assert verdict["reason"].startswith("unreadable signature")
