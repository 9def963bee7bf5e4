"""Mail addresses as the directory knows them, and precedence asked in the address.

Pure: strings in, values out. An office lists addresses (``president-elect@…``)
and whole domains (``@mfa.example``) in the directory; a recipient's
``+tag`` asks for a precedence (``president-elect+flash@…``), or the RFC 6477
``MMHS-Primary-Precedence`` header does, for clients that cannot change the
address.
"""

from __future__ import annotations

from dataclasses import dataclass

from pouch.mail import dmarc
from pouch.messages.rules import Precedence

#: What a ``+tag`` may ask for.
TAGS = {p.value.lower(): p for p in Precedence}
#: RFC 6477 §3.1: 0 deferred, 1 routine, 2 priority, 3 immediate, 4 flash, 5 override.
MMHS_LEVELS = {
    "0": Precedence.ROUTINE,
    "1": Precedence.ROUTINE,
    "2": Precedence.PRIORITY,
    "3": Precedence.IMMEDIATE,
    "4": Precedence.FLASH,
    "5": Precedence.FLASH,
}
PRECEDENCE_HEADER = "MMHS-Primary-Precedence"


@dataclass(frozen=True)
class Address:
    """An address split for lookup: the local part without its ``+tag``, the domain."""

    local: str
    domain: str
    tag: str | None = None

    @property
    def plain(self) -> str:
        """The address without its tag, as the directory lists it."""
        return f"{self.local}@{self.domain}"

    @property
    def whole_domain(self) -> str:
        return f"@{self.domain}"


def split(address: str) -> Address | None:
    """``address`` in lower case, its ``+tag`` apart; None when it is no address.

    >>> split("President-Elect+FLASH@Transition.Example")
    Address(local='president-elect', domain='transition.example', tag='flash')
    >>> split("<joe@example.org>").plain
    'joe@example.org'
    >>> split("no-domain") is None
    True
    """
    text = address.strip().strip("<>").strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or " " in text:
        return None
    local, plus, tag = local.partition("+")
    return Address(local=local, domain=domain.rstrip("."), tag=tag if plus and tag else None)


def normalized(address: str) -> str:
    """How the directory stores an address or a domain: lower case, a domain as ``@domain``.

    >>> normalized("Taoiseach@Gov.IE"), normalized("gov.ie"), normalized("@gov.ie")
    ('taoiseach@gov.ie', '@gov.ie', '@gov.ie')
    """
    text = address.strip().lower().rstrip(".")
    if "@" not in text:
        return f"@{text}"
    return text


def precedence(tag: str | None, header: str | None) -> Precedence:
    """The precedence a mail asks for: its recipient's tag, else its RFC 6477 header,
    else ROUTINE. A tag or header Pouch does not know counts as nothing asked.

    >>> [p.value for p in (precedence("flash", None), precedence(None, "3"))]
    ['FLASH', 'IMMEDIATE']
    >>> [p.value for p in (precedence(None, " Priority "), precedence("immediate", "4"))]
    ['PRIORITY', 'IMMEDIATE']
    >>> precedence("bulk", None).value
    'ROUTINE'
    """
    if tag is not None and tag in TAGS:
        return TAGS[tag]
    if header is not None:
        value = header.strip().lower()
        if value in MMHS_LEVELS:
            return MMHS_LEVELS[value]
        if value in TAGS:
            return TAGS[value]
    return Precedence.ROUTINE


def aligned(from_domain: str, signing_domain: str) -> bool:
    """DMARC's relaxed alignment (``dmarc.aligned``): the same organizational domain,
    found with the Public Suffix List.

    >>> aligned("mfa.gov.ie", "gov.ie"), aligned("mfa.gov.ie", "mfa.gov.ie"), aligned("ie", "ie")
    (False, True, True)
    >>> aligned("evil-gov.ie", "gov.ie"), aligned("desk.mfa.example", "mfa.example")
    (False, True)
    """
    return dmarc.aligned(from_domain, signing_domain)
