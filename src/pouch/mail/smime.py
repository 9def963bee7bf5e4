"""An S/MIME signature (RFC 8551 ``multipart/signed``), checked and kept as evidence.

Pure. No maintained Python library verifies S/MIME as a whole: cryptography
(50) signs, encrypts and decrypts PKCS #7 but has no verify API (its maintainers
closed pyca/cryptography#12267 and keep ``test_support.pkcs7_verify`` private,
#12116); endesive's ``email.verify`` hashes only a ``text/plain`` payload,
without the signed part's headers, so a signed ``multipart/alternative`` (what
Outlook and Thunderbird send) never verifies, and it checks the chain with a
TLS client policy. So the pieces are put together here from maintained parts:
asn1crypto reads the CMS structure, cryptography checks the signature.

What is checked: the first body part's exact bytes (as they travelled) against
the ``messageDigest`` signed attribute, and the signature over the signed
attributes with the public key of the certificate the signer names (issuer and
serial number), RSA PKCS #1 v1.5, RSA-PSS or ECDSA. What is recorded: the
verdict, the signer's subject, its e-mail addresses, the certificate's
SHA-256 fingerprint and validity dates, and whether one of the certificate's
addresses is the From address.

What is left out, and says so in the verdict (``chain: "unchecked"``): no path
to a trust root is built and no revocation (CRL, OCSP) is asked, so a pass says
"signed by the holder of this certificate's key", not "by who the certificate
claims". A verdict therefore never lets a mail in by itself; it is evidence
beside DKIM. Pinning each office's signing certificates in the directory (as
DKIM keys are pinned) would make it authentication; ``opaque`` signed mail
(``application/pkcs7-mime; smime-type=signed-data``) and encrypted mail are not
read.
"""

from __future__ import annotations

import email
import hashlib
import re
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

SIGNATURE_TYPES = (b"application/pkcs7-signature", b"application/x-pkcs7-signature")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _Failed(Exception):
    """The signature does not hold: the reason says why."""


def verify(raw: bytes, *, from_address: str) -> dict[str, Any] | None:
    """The S/MIME verdict of a mail whose top level is ``multipart/signed``, or None
    for any other mail."""
    head, _, body = raw.partition(b"\r\n\r\n")
    found = _signed_boundary(head)
    if found is None:
        return None
    verdict: dict[str, Any] = {"result": "fail", "chain": "unchecked", "reason": None}
    try:
        signed, signature = _parts(body, found)
        verdict.update(_check(signed, signature, from_address))
        verdict["result"] = "pass"
    except _Failed as error:
        verdict["reason"] = str(error)
    except (ValueError, TypeError, KeyError, LookupError) as error:
        # asn1crypto parses lazily: a malformed structure surfaces at first use.
        verdict["reason"] = f"unreadable signature: {type(error).__name__}: {error}"
    return verdict


# Compiled once: a busy process's regular expressions (the email package's own
# among them) can push these out of ``re``'s cache, to be compiled at every mail.
_FOLDED = re.compile(rb"\r\n[ \t]+")
_SIGNED = re.compile(rb"(?im)^content-type:\s*multipart/signed\s*;(.*)$")
_PROTOCOL = re.compile(rb'(?i)protocol\s*=\s*"?([^";\s]+)')
_BOUNDARY = re.compile(rb'(?i)boundary\s*=\s*(?:"([^"]+)"|([^";\s]+))')


def _signed_boundary(head: bytes) -> bytes | None:
    """The boundary of a top-level ``multipart/signed`` with a PKCS #7 signature."""
    unfolded = _FOLDED.sub(b" ", head)
    match = _SIGNED.search(unfolded)
    if match is None:
        return None
    params = match.group(1)
    protocol = _PROTOCOL.search(params)
    boundary = _BOUNDARY.search(params)
    if protocol is None or boundary is None or protocol.group(1).lower() not in SIGNATURE_TYPES:
        return None
    return boundary.group(1) or boundary.group(2)


def _parts(body: bytes, boundary: bytes) -> tuple[bytes, bytes]:
    """The signed part exactly as it travelled: from after the first delimiter line to
    before the CRLF that precedes the next (RFC 2046 §5.1.1); and the signature, decoded."""
    opening = b"--" + boundary + b"\r\n"
    start = body.find(opening)
    if start < 0 or (start > 0 and body[start - 2 : start] != b"\r\n"):
        raise _Failed("the signed part's boundary is not where it should be")
    start += len(opening)
    end = body.find(b"\r\n--" + boundary, start)
    if end < 0:
        raise _Failed("the signed part never ends")
    # The second part starts on the line after its delimiter.
    rest = body[end + len(boundary) + 4 :].partition(b"\r\n")[2]
    closing = rest.find(b"\r\n--" + boundary)
    part = email.message_from_bytes(rest[:closing] if closing >= 0 else rest)
    payload = part.get_payload(decode=True)
    if part.get_content_type().encode() not in SIGNATURE_TYPES or not isinstance(payload, bytes):
        raise _Failed("the second part is not a PKCS #7 signature")
    return body[start:end], payload


def _check(signed: bytes, signature: bytes, from_address: str) -> dict[str, Any]:
    info = cms.ContentInfo.load(signature)
    if info["content_type"].native != "signed_data":
        raise _Failed(f"not a signature but {info['content_type'].native}")
    data = info["content"]
    signers = list(data["signer_infos"])
    if len(signers) != 1:
        raise _Failed(f"{len(signers)} signers; one is read")
    signer = signers[0]
    certificate = _certificate_of(signer, list(data["certificates"] or []))
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise _Failed(f"digest {digest_name} is not accepted")
    digest = hashlib.new(digest_name, signed).digest()
    attributes = signer["signed_attrs"]
    if attributes.native is None:
        to_verify = signed
    else:
        declared = [
            a["values"][0].native for a in attributes if a["type"].native == "message_digest"
        ]
        if declared != [digest]:
            raise _Failed("the signed part was changed: its digest is not the signed one")
        # The signature covers the attributes as a SET (tag 0x31), not as [0] IMPLICIT.
        to_verify = b"\x31" + attributes.dump()[1:]
    _verify_signature(certificate, signer, to_verify, _HASHES[digest_name]())
    addresses = _addresses(certificate)
    return {
        "signer": certificate.subject.rfc4514_string(),
        "addresses": addresses,
        "aligned": from_address.lower() in addresses,
        "certificate_sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "digest": digest_name,
    }


def _certificate_of(signer: cms.SignerInfo, certificates: list[Any]) -> x509.Certificate:
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise _Failed("the signer is named by key identifier; not read")
    issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
    for choice in certificates:
        if not isinstance(choice.chosen, asn1_x509.Certificate):
            continue
        tbs = choice.chosen["tbs_certificate"]
        if tbs["serial_number"].native == serial and tbs["issuer"] == issuer:
            return x509.load_der_x509_certificate(choice.chosen.dump())
    raise _Failed("the signer's certificate is not in the signature")


def _verify_signature(
    certificate: x509.Certificate, signer: cms.SignerInfo, data: bytes, digest: hashes.HashAlgorithm
) -> None:
    key = certificate.public_key()
    value = signer["signature"].native
    algorithm = signer["signature_algorithm"]
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, data, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey) and algorithm.signature_algo == "rsassa_pss":
            params = algorithm["parameters"]
            pss_hash = _HASHES[params["hash_algorithm"]["algorithm"].native]()
            key.verify(
                value,
                data,
                padding.PSS(padding.MGF1(pss_hash), params["salt_length"].native),
                pss_hash,
            )
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), digest)
        else:
            raise _Failed(f"a {type(key).__name__} key is not read")
    except InvalidSignature:
        raise _Failed("the signature does not verify with the signer's certificate") from None


def _addresses(certificate: x509.Certificate) -> list[str]:
    found: list[str] = []
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        found += [str(n).lower() for n in names.value.get_values_for_type(x509.RFC822Name)]
    except x509.ExtensionNotFound:
        pass
    found += [
        str(a.value).lower()
        for a in certificate.subject.get_attributes_for_oid(x509.NameOID.EMAIL_ADDRESS)
    ]
    return sorted(set(found))
