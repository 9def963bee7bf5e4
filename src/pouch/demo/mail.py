"""The demo's mail: a foreign office that signs its letters, and its mail server.

``make run`` plays both sides of a letter by e-mail. The Prime Minister's
Office (``gb-number-10``, ``@number10.example``) signs its mail with an Ed25519
DKIM key made on the first run and kept in ``<data_dir>/demo-mail/`` (never
committed), its public half pinned in the demo's directory; ``pouch mail
send-demo`` writes a letter from it, signs it with dkimpy and hands it to
``pouch mail serve`` over SMTP. Pouch's answers go out through its SMTP relay
setting, which ``make run`` points at ``pouch mail mailbox``: a real SMTP
server (aiosmtpd) standing for the office's own mail server, which files every
mail it is given into a Maildir per recipient domain (the office's in
``var/mailbox/number10.example/new/``), as the office's desk would find it.
Pouch signs its answers with a key of its own, also made here
(``POUCH_MAIL_DKIM_KEY``). Nothing here is a real credential.
"""

from __future__ import annotations

import asyncio
import base64
import email.policy
import email.utils
import mailbox
import os
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import yaml
from aiosmtpd.smtp import SMTP, Envelope
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

FOLDER = "demo-mail"
OFFICE = "gb-number-10"
DOMAIN = "number10.example"
SELECTOR = "demo"
SENDER = f"Private Office <private.office@{DOMAIN}>"
TO = "president-elect@pouch.localhost"
#: Pouch's own DKIM key in the demo (``make run`` sets POUCH_MAIL_DKIM_KEY to it).
POUCH_KEY = "pouch-dkim.pem"


def _write_private(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def office_key(data_dir: Path) -> ed25519.Ed25519PrivateKey:
    """The demo office's signing key, made on the first call (mode 0600)."""
    path = data_dir / FOLDER / f"{DOMAIN}.pem"
    if not path.exists():
        _write_private(path, _pem(ed25519.Ed25519PrivateKey.generate()))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def pouch_key(data_dir: Path) -> Path:
    """Where the demo keeps Pouch's own DKIM key (RSA 2048), made on the first call."""
    path = data_dir / FOLDER / POUCH_KEY
    if not path.exists():
        _write_private(path, _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    return path


def key_record(key: ed25519.Ed25519PrivateKey) -> str:
    """The DKIM key record of ``key``, as the office would publish it (and the demo pins)."""
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"


def directory_text(text: str, *, data_dir: Path) -> str:
    """The demo's directory with the office's key pinned (made now if it is missing)."""
    document = yaml.safe_load(text)
    for office in document["offices"]:
        if office["slug"] == OFFICE:
            office["mail"]["dkim_pins"] = [
                {"domain": DOMAIN, "selector": SELECTOR, "record": key_record(office_key(data_dir))}
            ]
    return str(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def letter(
    key: ed25519.Ed25519PrivateKey | None,
    *,
    subject: str,
    body: str,
    to: str = TO,
    sender: str = SENDER,
) -> bytes:
    """A letter from the demo office, DKIM-signed (Ed25519) unless ``key`` is None."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
    mail.set_content(body if body.endswith("\n") else body + "\n")
    raw = mail.as_bytes(policy=email.policy.SMTP)
    if key is None:
        return raw
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    signature = dkim.sign(
        raw,
        SELECTOR.encode(),
        DOMAIN.encode(),
        base64.b64encode(seed),
        signature_algorithm=b"ed25519-sha256",
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return bytes(signature) + raw


def send(raw: bytes, *, host: str, port: int, to: str = TO) -> tuple[int, str]:
    """One SMTP transaction: the return path is the From address; DATA's reply."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    _, return_path = email.utils.parseaddr(str(parsed["From"]))
    with smtplib.SMTP(host, port, timeout=60) as client:
        client.ehlo(DOMAIN)
        client.mail(return_path)
        code, said = client.rcpt(to)
        if code != 250:
            return code, said.decode("utf-8", "replace")
        code, said = client.data(raw)
        return code, said.decode("utf-8", "replace")


class Maildir:
    """aiosmtpd's handler: each mail into the Maildir ``root/<recipient's domain>``, its
    envelope as the ``Return-Path`` and ``Delivered-To`` headers a delivery agent adds
    on top. The demo office's mail is in ``root/number10.example/new/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def box(self, recipient: str) -> mailbox.Maildir:
        """The Maildir of the recipient's domain.

        >>> import tempfile
        >>> Maildir(Path(tempfile.mkdtemp())).box("Desk@Number10.Example")._path.endswith(
        ...     "/number10.example")
        True
        """
        domain = recipient.rpartition("@")[2].lower()
        if not domain or not all(c.isalnum() or c in ".-" for c in domain) or ".." in domain:
            domain = "other"
        return mailbox.Maildir(self.root / domain.strip("."), create=True)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or b""
        keys = []
        for rcpt in envelope.rcpt_tos:
            top = f"Return-Path: <{envelope.mail_from}>\r\nDelivered-To: {rcpt}\r\n".encode()
            keys.append(self.box(rcpt).add(top + content))
        return f"250 2.0.0 filed as {', '.join(keys)}"


async def serve_mailbox(
    path: Path, *, host: str, port: int, hostname: str, ready: Callable[[int], None]
) -> None:
    """The mailbox server until cancelled; ``ready`` is told the port it listens on."""
    handler = Maildir(path)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=hostname), host=host, port=port
    )
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()
