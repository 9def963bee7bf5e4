"""Where DKIM keys come from: an office's pinned keys first, then DNS.

A pin (``dkim_pins``, set in the directory) is used for its domain and
selector even when DNS says otherwise: an office that pins its keys cannot be
impersonated by whoever takes over its DNS. Everything else is asked of DNS
with dnspython, from the resolvers of the machine or the one
``POUCH_MAIL_DNS_SERVER`` names (a test's local server). DMARC policies
(``mail.dmarc``) are asked of the same resolvers, and kept for their TTL.
"""

from __future__ import annotations

from collections.abc import Mapping

import dns.exception
import dns.resolver

from pouch.mail import dmarc
from pouch.mail.authentication import KeyRecord, KeyUnavailable, Lookup


def _resolver(server: str | None, timeout: float) -> dns.resolver.Resolver:
    """The machine's resolvers, or ``server`` (``host`` or ``host:port``) when given."""
    resolver = dns.resolver.Resolver(configure=server is None)
    if server is not None:
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        resolver.nameservers = [host]
        resolver.port = int(port) if port else 53
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def dns_txt(*, server: str | None, timeout: float) -> dmarc.TxtLookup:
    """Every TXT record at a name, each one's strings joined, for DMARC policies; answers
    (NXDOMAIN included) are kept for their TTL, a failure is ``dmarc.TemporaryError``."""
    resolver = _resolver(server, timeout)
    resolver.cache = dns.resolver.LRUCache(1024)

    def lookup(name: str) -> list[str]:
        try:
            answer = resolver.resolve(name + ".", "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
            raise dmarc.TemporaryError(type(error).__name__) from None
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]

    return lookup


def dns_lookup(*, server: str | None, timeout: float) -> Lookup:
    """Key records from DNS TXT: from ``server`` (``host`` or ``host:port``) when given."""
    resolver = _resolver(server, timeout)

    def lookup(name: str) -> KeyRecord | None:
        try:
            answer = resolver.resolve(name + ".", "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
            raise KeyUnavailable(f"{name}: {type(error).__name__}") from None
        # One record, its strings joined (RFC 6376 §3.6.2.2); several records are
        # dkimpy's to refuse, so the first is given.
        for rdata in answer:
            return KeyRecord(b"".join(rdata.strings), "dns")
        return None

    return lookup


def pinned_first(pins: Mapping[str, str], fallback: Lookup) -> Lookup:
    """``pins`` (``selector._domainkey.domain`` -> record) before ``fallback``."""

    def lookup(name: str) -> KeyRecord | None:
        record = pins.get(name)
        if record is not None:
            return KeyRecord(record.encode("ascii"), "pin")
        return fallback(name)

    return lookup


def pin_name(domain: str, selector: str) -> str:
    """
    >>> pin_name("Gov.IE.", "Brisbane")
    'brisbane._domainkey.gov.ie'
    """
    return f"{selector.lower()}._domainkey.{domain.lower().rstrip('.')}"
