"""Who signed a mail, kept as evidence: DKIM (RSA and Ed25519), ARC, DMARC alignment.

dkimpy does the cryptography; this module asks it about every signature and
writes down each answer with the signing domain, the selector, the algorithm
and the key record it used (keys rotate, so a later check could no longer
find it). Keys come through ``lookup``, which the caller builds (pins first,
then DNS: ``mail.keys``); nothing here opens a socket.

dkimpy answers a bad signature three ways: ``False``, or an exception
(``ValidationError: body hash mismatch`` for a body changed on the way, a
``KeyFormatError`` for a key it cannot use ...). Each becomes a ``fail``
verdict with its reason; a key that could not be fetched is a ``temperror``.

The From domain is *authenticated* (DMARC's ``pass``) when a signature that
passes is aligned with it: relaxed alignment (the same organizational domain)
unless the domain's DMARC policy asks for strict (``adkim=s``). The policy
(``mail.dmarc``) is kept with the verdicts; one asking to quarantine or reject
mail that is not authenticated sends it to Pouch's quarantine.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from pouch.mail import dmarc

Result = Literal["pass", "fail", "temperror"]
_SIGNATURE_HEADER = b"dkim-signature"
# dkimpy logs each failure itself; the verdicts carry them here.
_QUIET = logging.getLogger("pouch.mail.dkim")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class KeyRecord:
    """A DKIM key record (``v=DKIM1; k=…; p=…``) and where it came from."""

    record: bytes
    source: Literal["pin", "dns"]


class KeyUnavailable(Exception):
    """The key could not be fetched now (DNS timeout, server failure): try again later."""


#: ``selector._domainkey.domain`` (no trailing dot) -> its record, None when there is none.
Lookup = Callable[[str], KeyRecord | None]


@dataclass(frozen=True)
class DkimVerdict:
    domain: str
    selector: str
    algorithm: str
    result: Result
    reason: str | None = None
    key_source: str | None = None
    key_record: str | None = None

    def evidence(self) -> dict[str, Any]:
        """What is stored and logged: the key as its SHA-256 and its record."""
        return {
            "d": self.domain,
            "s": self.selector,
            "a": self.algorithm,
            "result": self.result,
            "reason": self.reason,
            "key": self.key_source,
            "key_record": self.key_record,
            "key_sha256": (
                hashlib.sha256(self.key_record.encode()).hexdigest()
                if self.key_record is not None
                else None
            ),
        }


@dataclass(frozen=True)
class Verdicts:
    from_domain: str
    dkim: tuple[DkimVerdict, ...]
    arc: str = "none"
    arc_reason: str | None = None
    arc_chain: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    #: The S/MIME verdict (``mail.smime``), None for mail not signed so.
    smime: dict[str, Any] | None = None
    #: The From domain's DMARC policy, None when it was not asked for.
    policy: dmarc.Policy | None = None

    @property
    def signed(self) -> bool:
        return bool(self.dkim)

    @property
    def authenticated(self) -> bool:
        """A passing signature aligned with the From domain: DMARC's ``pass``."""
        mode = self.policy.adkim if self.policy is not None else "r"
        return any(
            v.result == "pass" and dmarc.aligned(self.from_domain, v.domain, mode)
            for v in self.dkim
        )

    @property
    def dmarc(self) -> str:
        return "pass" if self.authenticated else "fail"

    def failure(self, *, require_signed: bool) -> str | None:
        """Why the mail cannot be taken as its From domain's, or None when it can.

        An unsigned mail is taken only from an office that does not require signing
        and from a domain whose DMARC policy does not ask to quarantine or reject it;
        a signature that fails, or a mail signed only by other domains, never is.
        """
        if self.authenticated:
            return None
        policy = self.policy
        if not self.dkim and require_signed:
            return "unsigned: the sender office requires DKIM-signed mail"
        if policy is not None and policy.result == "temperror":
            return (
                f"DMARC temperror: the policy of {self.from_domain} could not be fetched "
                f"({policy.reason})"
            )
        if not self.dkim:
            if policy is not None and policy.disposition != "none":
                return (
                    f"DMARC policy {policy.disposition} of {policy.domain} "
                    f"(_dmarc.{policy.domain}: {policy.text}): unsigned"
                )
            return None
        failed = [v for v in self.dkim if v.result != "pass"]
        if failed:
            first = failed[0]
            return f"DKIM {first.result} for d={first.domain} s={first.selector}: {first.reason}"
        domains = ", ".join(sorted({v.domain for v in self.dkim}))
        strict = " (its DMARC policy asks for strict alignment, adkim=s)"
        return (
            f"DMARC alignment: signed by {domains}, not by the From domain {self.from_domain}"
            f"{strict if policy is not None and policy.adkim == 's' else ''}"
        )

    def evidence(self) -> dict[str, Any]:
        return {
            "dkim": [v.evidence() for v in self.dkim],
            "dmarc": self.dmarc,
            "from_domain": self.from_domain,
            "arc": self.arc,
            "arc_reason": self.arc_reason,
            "arc_chain": list(self.arc_chain),
            "smime": self.smime,
            "dmarc_policy": self.policy.evidence() if self.policy is not None else None,
        }


class _Keys:
    """dkimpy's ``dnsfunc``: each record asked for is remembered with its source."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.used: dict[str, KeyRecord] = {}

    def __call__(self, name: bytes | str, timeout: int = 5) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        text = text.rstrip(".").lower()
        found = self.lookup(text)
        if found is None:
            return None
        self.used[text] = found
        return found.record


def verify(
    raw: bytes, *, from_domain: str, lookup: Lookup, policies: dmarc.TxtLookup | None = None
) -> Verdicts:
    """Every DKIM signature of ``raw`` checked, and its ARC chain, with keys from ``lookup``;
    with ``policies``, the From domain's DMARC policy too (``dmarc.discover``)."""
    keys = _Keys(lookup)
    try:
        signer = dkim.DKIM(raw, logger=_QUIET)
    except (dkim.DKIMException, IndexError) as error:
        # Headers dkimpy cannot split (IndexError: a first line that continues nothing):
        # no signature is read, and the mail is judged unsigned, its DMARC policy too.
        return Verdicts(
            from_domain=from_domain,
            dkim=(),
            arc="fail",
            arc_reason=str(error),
            policy=_policy(from_domain, (), policies),
        )
    headers = [value for name, value in signer.headers if name.lower() == _SIGNATURE_HEADER]
    verdicts = tuple(_verify_one(signer, i, value, keys) for i, value in enumerate(headers))
    arc, arc_reason, chain = _arc(raw, keys)
    return Verdicts(
        from_domain=from_domain,
        dkim=verdicts,
        arc=arc,
        arc_reason=arc_reason,
        arc_chain=chain,
        policy=_policy(from_domain, verdicts, policies),
    )


def _policy(
    from_domain: str, verdicts: tuple[DkimVerdict, ...], policies: dmarc.TxtLookup | None
) -> dmarc.Policy | None:
    """The From domain's policy; not asked for when a signature of the From domain itself
    passed (strictly aligned: DMARC passes whatever the policy says)."""
    if policies is None:
        return None
    if any(v.result == "pass" and dmarc.aligned(from_domain, v.domain, "s") for v in verdicts):
        return dmarc.Policy(from_domain, "skipped", reason="a signature of the From domain passed")
    return dmarc.discover(from_domain, policies)


def _verify_one(signer: dkim.DKIM, index: int, header: bytes, keys: _Keys) -> DkimVerdict:
    try:
        tags = parse_tag_value(b"".join(header.split()))
    except InvalidTagValueList as error:
        return DkimVerdict("", "", "", "fail", f"signature unreadable: {error}")
    domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
    selector = tags.get(b"s", b"").decode("ascii", "replace").lower()
    algorithm = tags.get(b"a", b"").decode("ascii", "replace")
    result: Result
    try:
        result, reason = (
            ("pass", None)
            if signer.verify(idx=index, dnsfunc=keys)
            else (
                "fail",
                "signature does not verify",
            )
        )
    except KeyUnavailable as error:
        result, reason = "temperror", f"key not available: {error}"
    except dkim.DKIMException as error:
        result, reason = "fail", str(error)
    except (ValueError, IndexError, TypeError) as error:
        # dkimpy on input it did not expect: a failure of that signature, not of Pouch.
        result, reason = "fail", f"{type(error).__name__}: {error}"
    used = keys.used.get(f"{selector}._domainkey.{domain}")
    return DkimVerdict(
        domain=domain,
        selector=selector,
        algorithm=algorithm,
        result=result,
        reason=reason,
        key_source=used.source if used is not None else None,
        key_record=used.record.decode("ascii", "replace") if used is not None else None,
    )


def _arc(raw: bytes, keys: _Keys) -> tuple[str, str | None, tuple[dict[str, Any], ...]]:
    try:
        cv, results, comment = dkim.arc_verify(raw, logger=_QUIET, dnsfunc=keys)
    except KeyUnavailable as error:
        return "temperror", f"key not available: {error}", ()
    except (dkim.DKIMException, ValueError, IndexError, TypeError) as error:
        return "fail", str(error), ()
    chain = tuple(
        {
            "instance": r.get("instance"),
            "signer": _text(r.get("as-domain")),
            "valid": bool(r.get("as-valid")) and bool(r.get("ams-valid")),
            "results": _text(r.get("aar-value")),
        }
        for r in results
    )
    return _text(cv) or "none", str(comment) if comment else None, chain


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return None if value is None else str(value)
