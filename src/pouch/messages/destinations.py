"""Where Pouch may send a notice: the rules for a webhook's address. Pure.

An office's administrator chooses its webhook, so its address is untrusted
input that Pouch will connect to. It must be a URL of a real host (no
``http://a..b/``, no ``http://[::1``), over ``https`` unless the operator
allows ``http``, and never at Pouch's own network (loopback, private,
link-local, multicast or reserved addresses) unless the operator allows it.
The address is checked when it is set and again just before each send, on
every address its name resolves to then (a name that resolved to a public
address when it was set may point inward later: DNS rebinding), and the
connection goes to the address that was checked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 500

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Policy:
    """What the operator allows beyond public ``https`` hosts."""

    allow_http: bool = False
    allow_private: bool = False


@dataclass(frozen=True)
class Webhook:
    """A webhook's URL taken apart: where to connect and what to call the host."""

    url: str
    scheme: str
    host: str  # as in the URL, lower case, IDNA-encoded; an IP literal without brackets
    port: int
    literal: Address | None  # the host when it is an IP address


class BadDestination(ValueError):
    """A webhook address Pouch will not send to; the message says why."""


def _hostname(host: str) -> str:
    """The host as DNS knows it (IDNA), or BadDestination.

    >>> _hostname("Ministère.example")
    'xn--ministre-60a.example'
    >>> _hostname("a..b")
    Traceback (most recent call last):
    ...
    pouch.messages.destinations.BadDestination: 'a..b' is not a host name
    """
    try:
        encoded = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadDestination(f"{host!r} is not a host name") from None
    labels = encoded.rstrip(".").split(".")
    if not encoded or len(encoded) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        raise BadDestination(f"{host!r} is not a host name")
    for label in labels:
        if label.startswith("-") or label.endswith("-"):
            raise BadDestination(f"{host!r} is not a host name")
        if not all(c.isalnum() or c == "-" for c in label) or not label.isascii():
            raise BadDestination(f"{host!r} is not a host name")
    return encoded.rstrip(".")


def parse_webhook(url: str, policy: Policy) -> Webhook:
    """The webhook at ``url``, or BadDestination saying what is wrong with it.

    >>> parse_webhook("https://hooks.example.ie/pouch", Policy()).host
    'hooks.example.ie'
    >>> parse_webhook("http://hooks.example.ie/", Policy())
    Traceback (most recent call last):
    ...
    pouch.messages.destinations.BadDestination: a webhook must use https
    >>> parse_webhook("https://10.0.0.7/hook", Policy())
    Traceback (most recent call last):
    ...
    pouch.messages.destinations.BadDestination: 10.0.0.7 is a private address
    >>> parse_webhook("http://[::1]:8080/", Policy(allow_http=True, allow_private=True)).port
    8080
    """
    if len(url) > MAX_URL_LENGTH:
        raise BadDestination(f"a webhook URL is at most {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise BadDestination("a webhook URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        raw_host = parts.hostname
    except ValueError as error:
        raise BadDestination(f"not a URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise BadDestination("a webhook is an https:// URL")
    if scheme == "http" and not policy.allow_http:
        raise BadDestination("a webhook must use https")
    if parts.username is not None or parts.password is not None:
        raise BadDestination("a webhook URL carries no user name or password")
    if not raw_host:
        raise BadDestination("a webhook URL names a host")
    literal: Address | None
    try:
        literal = ipaddress.ip_address(raw_host)
        host = str(literal)
    except ValueError:
        literal = None
        host = _hostname(raw_host)
    if literal is not None:
        check_address(literal, policy)
    return Webhook(
        url=url,
        scheme=scheme,
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
        literal=literal,
    )


def address_problem(address: Address) -> str | None:
    """Why an address is not on the public Internet, or None when it is.

    >>> address_problem(ipaddress.ip_address("127.0.0.1"))
    'a loopback address'
    >>> address_problem(ipaddress.ip_address("::ffff:192.168.1.4"))
    'a private address'
    >>> address_problem(ipaddress.ip_address("192.0.2.10")) is None
    False
    >>> address_problem(ipaddress.ip_address("8.8.8.8")) is None
    True
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def check_address(address: Address, policy: Policy) -> None:
    """BadDestination when the policy does not allow sending to ``address``."""
    if policy.allow_private:
        return
    problem = address_problem(address)
    if problem is not None:
        raise BadDestination(f"{address} is {problem}")
