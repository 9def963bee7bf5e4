"""Pouch's own DKIM signature on the e-mails it sends, and the record to publish for it.

A receiving system (and a sender office checking an answer long after) knows
an e-mail is Pouch's when its DKIM signature verifies against the key Pouch
publishes at ``<selector>._domainkey.<domain>``. dkimpy signs; the key is a
PEM file (RSA, which every receiver checks, or Ed25519, RFC 8463, which only
some do), named by the ``mail_dkim_key`` setting.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

#: What the signature covers: who, to whom, what about, and how it threads.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"in-reply-to",
    b"references",
    b"auto-submitted",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
)


class KeyUnusable(ValueError):
    """The key file is not an RSA (2048 bits or more) or Ed25519 private key."""


@dataclass(frozen=True)
class DkimSigner:
    """Signs as ``d=domain; s=selector`` with one private key."""

    domain: str
    selector: str
    algorithm: str  # "rsa-sha256" or "ed25519-sha256"
    private: bytes  # as dkimpy takes it: PEM for RSA, the base64 seed for Ed25519
    public: str  # the record's p=

    @classmethod
    def from_pem(cls, pem: bytes, *, domain: str, selector: str) -> DkimSigner:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as error:
            raise KeyUnusable(f"not a PEM private key without a password: {error}") from None
        if isinstance(key, ed25519.Ed25519PrivateKey):
            seed = key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            raw_public = key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            return cls(
                domain=domain.lower(),
                selector=selector,
                algorithm="ed25519-sha256",
                private=base64.b64encode(seed),
                public=base64.b64encode(raw_public).decode(),
            )
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < 2048:
                raise KeyUnusable(f"an RSA key of {key.key_size} bits; RFC 8301 asks 2048 or more")
            der = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            private = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
            return cls(
                domain=domain.lower(),
                selector=selector,
                algorithm="rsa-sha256",
                private=private,
                public=base64.b64encode(der).decode(),
            )
        raise KeyUnusable(f"a {type(key).__name__}; DKIM signs with RSA or Ed25519")

    @classmethod
    def from_file(cls, path: Path, *, domain: str, selector: str) -> DkimSigner:
        return cls.from_pem(path.read_bytes(), domain=domain, selector=selector)

    @property
    def record_name(self) -> str:
        """Where the record is published (a TXT record)."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record(self) -> str:
        """The TXT record's value, as RFC 6376 §3.6.1 writes it."""
        kind = "ed25519" if self.algorithm == "ed25519-sha256" else "rsa"
        return f"v=DKIM1; k={kind}; p={self.public}"

    def sign(self, raw: bytes) -> bytes:
        """``raw`` (CRLF line ends) with a DKIM-Signature header in front."""
        header = dkim.sign(
            raw,
            self.selector.encode(),
            self.domain.encode(),
            self.private,
            signature_algorithm=self.algorithm.encode(),
            include_headers=[h for h in SIGNED_HEADERS if _has(raw, h)],
            linesep=b"\r\n",
        )
        return bytes(header) + raw


def _has(raw: bytes, name: bytes) -> bool:
    head = raw.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name + b":") or (b"\r\n" + name + b":") in head
