"""DMARC (RFC 7489): the From domain's policy, where it was found, and alignment.

Pure: text in, values out. The policy is the TXT record at ``_dmarc.`` + the
From domain, or, when there is none, at ``_dmarc.`` + its organizational
domain (§6.6.3), found with the Public Suffix List that the
``publicsuffixlist`` package ships (pinned in uv.lock; nothing is downloaded).
The records come through ``TxtLookup``, which the caller builds
(``mail.keys.dns_txt``); nothing here opens a socket.

Pouch never rejects a mail at SMTP time (it is stored and logged first), so a
policy of ``quarantine`` or ``reject`` both mean Pouch's quarantine, with the
policy as the reason; a watch officer may still let the letter in. ``pct`` is
kept as evidence but not sampled: a decision on the record must not depend on
a die, so a policy asking to quarantine or reject any share of failing mail
sends all of it to the quarantine (nothing is lost there). SPF is not
checked: a letter to Pouch comes through the sender's relays, and only a DKIM
signature survives them; DMARC passes only with an aligned DKIM pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from publicsuffixlist import PublicSuffixList

Mode = Literal["r", "s"]
Disposition = Literal["none", "quarantine", "reject"]
_DISPOSITIONS: tuple[Disposition, ...] = ("none", "quarantine", "reject")
_VERSION = "DMARC1"


class TemporaryError(Exception):
    """The policy could not be fetched now (DNS timeout, server failure)."""


#: A DNS name (no trailing dot) -> the text of each TXT record there (its strings
#: joined), [] when there is none; raises ``TemporaryError``.
TxtLookup = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class Record:
    """A DMARC policy record, its defaults filled in (§6.3)."""

    p: Disposition
    sp: Disposition | None = None
    adkim: Mode = "r"
    aspf: Mode = "r"
    pct: int = 100
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()


def is_dmarc(text: str) -> bool:
    """Whether a TXT record is a DMARC record at all: ``v=DMARC1`` first (§6.6.3 step 4).

    >>> is_dmarc("v=DMARC1; p=none"), is_dmarc("v = DMARC1;p=reject"), is_dmarc("p=none; v=DMARC1")
    (True, True, False)
    >>> is_dmarc("v=spf1 -all"), is_dmarc("v=DMARC10; p=none")
    (False, False)
    """
    tags = _tags(text)
    return bool(tags) and tags[0] == ("v", _VERSION)


def parse(text: str) -> Record | None:
    """The record in ``text``, or None when DMARC does not apply with it.

    Unknown tags are ignored and a bad value of an optional tag gives way to its
    default (§6.3). A missing or bad ``p``, or a bad ``sp``, is read as ``p=none``
    when the record names a report address, and as no policy otherwise (§6.6.3
    step 6). RFC 7489 Appendix B.2.1 and B.2.4:

    >>> b21 = parse("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com")
    >>> b21.p, b21.sp, b21.adkim, b21.pct, b21.rua
    ('none', None, 'r', 100, ('mailto:dmarc-feedback@example.com',))
    >>> b24 = parse("v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,"
    ...             "mailto:tld-test@thirdparty.example.net!10m; pct=25")
    >>> b24.p, b24.pct, b24.rua[1]
    ('quarantine', 25, 'mailto:tld-test@thirdparty.example.net!10m')
    >>> parse("v=DMARC1; p=Reject; sp=none; adkim=s; pct=150; future=1")
    Record(p='reject', sp='none', adkim='s', aspf='r', pct=100, rua=(), ruf=())
    >>> parse("v=DMARC1;") is None, parse("v=DMARC1; p=bounce; rua=mailto:a@b.example").p
    (True, 'none')
    """
    tags = _tags(text)
    if not tags or tags[0] != ("v", _VERSION):
        return None
    values: dict[str, str] = {}
    for name, value in tags[1:]:
        values.setdefault(name, value)
    rua, ruf = _uris(values.get("rua")), _uris(values.get("ruf"))
    p = _disposition(values.get("p"))
    sp = _disposition(values["sp"]) if "sp" in values else None
    if p is None or ("sp" in values and sp is None):
        if not rua:
            return None
        p, sp = "none", None
    return Record(
        p=p,
        sp=sp,
        adkim=_mode(values.get("adkim")),
        aspf=_mode(values.get("aspf")),
        pct=_pct(values.get("pct")),
        rua=rua,
        ruf=ruf,
    )


def _tags(text: str) -> list[tuple[str, str]]:
    """``tag=value`` pairs, names in lower case, the version's value as written."""
    pairs = []
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        if not equals:
            if part.strip():
                pairs.append((part.strip().lower(), ""))
            continue
        pairs.append((name.strip().lower(), value.strip()))
    return pairs


def _disposition(value: str | None) -> Disposition | None:
    value = (value or "").lower()
    for each in _DISPOSITIONS:
        if value == each:
            return each
    return None


def _mode(value: str | None) -> Mode:
    return "s" if (value or "").lower() == "s" else "r"


def _pct(value: str | None) -> int:
    if value is None or not value.isdigit() or len(value) > 3 or int(value) > 100:
        return 100
    return int(value)


def _uris(value: str | None) -> tuple[str, ...]:
    """The report URIs of ``rua``/``ruf``: those with a scheme (``mailto:``, ``https:``)."""
    found = (uri.strip() for uri in (value or "").split(","))
    return tuple(uri for uri in found if ":" in uri and uri.partition(":")[0].isalpha())


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The registered domain under a public suffix (§3.2), or the domain itself when it
    is a public suffix.

    >>> organizational_domain("Desk.MFA.Gov.IE."), organizational_domain("mail.example.co.uk")
    ('mfa.gov.ie', 'example.co.uk')
    >>> organizational_domain("child.example.com"), organizational_domain("co.uk")
    ('example.com', 'co.uk')
    """
    name = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(name) or name


def aligned(from_domain: str, domain: str, mode: Mode = "r") -> bool:
    """Identifier alignment (§3.1): strict, the same name; relaxed, the same
    organizational domain. RFC 7489 Appendix B.1.2 (``d=`` against the From domain):

    >>> aligned("example.com", "example.com", "s"), aligned("child.example.com", "example.com")
    (True, True)
    >>> aligned("child.example.com", "example.com", "s"), aligned("child.example.com", "sample.net")
    (False, False)
    >>> aligned("mfa.gov.ie", "gov.ie")  # gov.ie is a public suffix: nobody's domain
    False
    """
    a, b = from_domain.lower().rstrip("."), domain.lower().rstrip(".")
    if not a or not b:
        return False
    if mode == "s":
        return a == b
    return organizational_domain(a) == organizational_domain(b)


@dataclass(frozen=True)
class Policy:
    """What policy discovery found for a From domain (§6.6.3).

    ``result``: ``found``; ``none`` (no record, or one DMARC does not apply with);
    ``temperror`` (DNS did not answer); ``skipped`` (not asked: a signature of
    the From domain itself passed, and DMARC passes whatever the policy says).
    """

    from_domain: str
    result: Literal["found", "none", "temperror", "skipped"]
    #: Where the record was found: the From domain or its organizational domain.
    domain: str | None = None
    text: str | None = None
    record: Record | None = None
    reason: str | None = None

    @property
    def adkim(self) -> Mode:
        return self.record.adkim if self.record is not None else "r"

    @property
    def disposition(self) -> Disposition:
        """What the policy asks for failing mail: ``sp`` for a subdomain whose policy
        came from its organizational domain, ``p`` otherwise.

        >>> record = Record(p="reject", sp="quarantine")
        >>> Policy("a.gov.example", "found", "gov.example", "…", record).disposition
        'quarantine'
        >>> Policy("gov.example", "found", "gov.example", "…", record).disposition
        'reject'
        """
        if self.record is None:
            return "none"
        if self.domain != self.from_domain and self.record.sp is not None:
            return self.record.sp
        return self.record.p

    def evidence(self) -> dict[str, Any]:
        found: dict[str, Any] = {"result": self.result, "domain": self.domain}
        if self.record is not None:
            found |= {
                "record": self.text,
                "p": self.record.p,
                "sp": self.record.sp,
                "adkim": self.record.adkim,
                "pct": self.record.pct,
                "applied": self.disposition,
            }
        if self.reason is not None:
            found["reason"] = self.reason
        return found


def discover(from_domain: str, lookup: TxtLookup) -> Policy:
    """The From domain's policy: at ``_dmarc.<From domain>``, else at its organizational
    domain's. Records not starting ``v=DMARC1`` are set aside; more than one is none."""
    domain = from_domain.lower().rstrip(".")
    if not domain:
        return Policy(from_domain, "none", reason="no From domain")
    candidates = [domain]
    organizational = organizational_domain(domain)
    if organizational != domain:
        candidates.append(organizational)
    for at in candidates:
        try:
            texts = [text for text in lookup(f"_dmarc.{at}") if is_dmarc(text)]
        except TemporaryError as error:
            return Policy(domain, "temperror", at, reason=f"_dmarc.{at}: {error}")
        if len(texts) > 1:
            return Policy(domain, "none", at, reason=f"{len(texts)} DMARC records at _dmarc.{at}")
        if texts:
            record = parse(texts[0])
            if record is None:
                return Policy(domain, "none", at, texts[0], reason="no valid p= and no rua=")
            return Policy(domain, "found", at, texts[0], record)
    return Policy(domain, "none")
