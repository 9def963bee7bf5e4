"""Whom an automatic answer may go to, and what it says.

Pure. An answer goes to the mail's return path (RFC 3834 §4: the envelope
sender), and only when a DKIM signature that passed is aligned with the return
path's domain: anyone can write somebody else's address as the return path,
and Pouch must not be the machine that mails a forger's victims
("backscatter"). A mail with no such signature, a null return path, or one
sent by a machine or a list (``Letter.automatic``) is not answered; the
answer not sent is recorded with its reason all the same.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pouch.mail.addresses import aligned


class Withheld(enum.StrEnum):
    """Why no answer was sent."""

    #: The null return path (``MAIL FROM:<>``): a bounce, never answered.
    NO_RETURN_PATH = "no-return-path"
    #: No passing DKIM signature aligned with the return path: it may be forged.
    UNALIGNED = "unaligned"
    #: Sent by a machine or a mailing list.
    AUTOMATIC = "automatic"
    #: Pouch's own address: answering it would loop.
    OURS = "ours"
    #: Past the limit of answers to this address or domain for now.
    LIMITED = "limited"


SENT = "sent"


@dataclass(frozen=True)
class Policy:
    """How many answers one address and one domain get per window (``mail_answer_*``)."""

    per_address: int = 10
    per_domain: int = 100
    window: timedelta = timedelta(hours=1)


def signing_domains(verdicts: Mapping[str, Any] | None) -> list[str]:
    """The domains whose DKIM signature passed, from the stored evidence.

    >>> signing_domains({"dkim": [{"d": "a.example", "result": "pass"},
    ...                           {"d": "b.example", "result": "fail"}]})
    ['a.example']
    """
    found = (verdicts or {}).get("dkim") or []
    return [v["d"] for v in found if isinstance(v, dict) and v.get("result") == "pass"]


def answerable(
    return_path: str, *, signed_by: Iterable[str], automatic: bool, ours: str
) -> Withheld | None:
    """None when an answer may go to ``return_path``, else why not.

    >>> answerable("desk@mfa.example", signed_by=["mfa.example"], automatic=False, ours="p@x")
    >>> answerable("victim@elsewhere.example", signed_by=["mfa.example"], automatic=False,
    ...            ours="p@x")
    <Withheld.UNALIGNED: 'unaligned'>
    >>> answerable("", signed_by=["mfa.example"], automatic=False, ours="p@x")
    <Withheld.NO_RETURN_PATH: 'no-return-path'>
    """
    address = return_path.strip().lower()
    if "@" not in address:
        return Withheld.NO_RETURN_PATH
    if address == ours.strip().lower():
        return Withheld.OURS
    domain = address.rpartition("@")[2]
    if not any(aligned(domain, signer) for signer in signed_by):
        return Withheld.UNALIGNED
    if automatic:
        return Withheld.AUTOMATIC
    return None


def domain_of(address: str) -> str:
    return address.strip().lower().rpartition("@")[2]


def accepted_text(
    *,
    received_index: int,
    sha256: str,
    messages: Sequence[str],
    receipt_urls: Sequence[str],
    track_url: str,
    released: bool,
) -> str:
    """The answer for a mail that became messages (one per addressee office)."""
    how = "accepted by a watch officer after review" if released else "accepted"
    lines = [
        f"Your mail was received (log index {received_index}, SHA-256 {sha256}) and {how}.",
        "",
    ]
    for public_id, url in zip(messages, receipt_urls, strict=False):
        lines += [
            f"Message {public_id}",
            f"  receipt (signed, with its proof of inclusion in the log): {url}",
            f"  track it: {track_url}/{public_id}",
        ]
    lines += [
        "",
        "Delivery, reading, acknowledgement and replies will come to this address,",
        "DKIM-signed by Pouch, in this thread.",
    ]
    return "\n".join(lines) + "\n"


def quarantined_text(*, received_index: int, sha256: str, reason: str, arrival_url: str) -> str:
    """The answer for a mail held for a watch officer."""
    return (
        f"Your mail was received (log index {received_index}, SHA-256 {sha256}) but not\n"
        "accepted as a message: it waits for a watch officer, who will accept it or,\n"
        "with a second officer, reject it. The reason:\n\n"
        f"  {reason}\n\n"
        "Nothing is dropped: the mail is kept as it came and its arrival is in the log.\n"
        f"Receipt of its arrival (signed, with its proof of inclusion in the log):\n"
        f"  {arrival_url}\n"
    )


def rejected_text(*, received_index: int, sha256: str, reason: str, arrival_url: str) -> str:
    return (
        f"Your mail (log index {received_index}, SHA-256 {sha256}) was rejected by two\n"
        f"watch officers: {reason}\nIt stays on the record as it came.\n"
        f"Receipt of its arrival (signed, with its proof of inclusion in the log):\n"
        f"  {arrival_url}\n"
    )
