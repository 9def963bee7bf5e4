"""The headers that make a browser hold Pouch's pages to what they are.

Every response carries them (pages, fragments, the API, static files, errors):

- a Content-Security-Policy that runs only Pouch's own script files (no inline
  script, no ``eval``, no plug-ins), styles only from Pouch's own style sheet,
  images only from Pouch itself (so a message body cannot make the reader's
  browser call anyone: see ``messages.sanitize``), forms posted only to Pouch,
  no ``<base>``, and no framing by anyone (``frame-ancestors 'none'``);
- ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``;
- ``Referrer-Policy: same-origin``: a link followed out of a message tells the
  other site nothing of the page it came from;
- ``Cross-Origin-Opener-Policy: same-origin``: a page Pouch opens or is opened
  by shares no window with another site;
- ``X-Content-Type-Options: nosniff``: an attachment is never run as a script;
- ``Strict-Transport-Security`` when the request came over TLS (directly, or
  through a trusted proxy's ``X-Forwarded-Proto``), or when ``POUCH_PUBLIC_URL``
  is https.

The API documentation page (``/api/docs``) is Swagger UI, served by Pouch with
its own start-up script file (``web.apidocs``): its scripts come from Pouch alone
too, but React sets style attributes and Swagger UI draws a few images as
``data:`` URLs, so that page's policy allows inline styles and ``data:`` images,
and no other page's does.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The policy of every response but the API's documentation page.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

#: Swagger UI, served by Pouch: its style attributes and ``data:`` images.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
DOCS_PATHS = frozenset({"/api/docs"})

HSTS = "max-age=31536000"

_FIXED = [
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("X-Content-Type-Options", "nosniff"),
]


def headers_for(path: str, *, tls: bool) -> list[tuple[str, str]]:
    """The security headers of a response to ``path``.

    >>> dict(headers_for("/inbox", tls=False))["Content-Security-Policy"].split("; ")[1]
    "script-src 'self'"
    >>> "Strict-Transport-Security" in dict(headers_for("/", tls=True))
    True
    """
    policy = DOCS_CONTENT_SECURITY_POLICY if path in DOCS_PATHS else CONTENT_SECURITY_POLICY
    headers = [("Content-Security-Policy", policy), *_FIXED]
    if tls:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


class SecurityHeaders:
    """Adds ``headers_for`` to every HTTP response (a header a route set itself stays)."""

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.always_tls = public_url.lower().startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = self.always_tls or scope.get("scheme") == "https"
        extra = headers_for(scope.get("path", ""), tls=tls)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
