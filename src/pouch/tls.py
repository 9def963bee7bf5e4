"""The TLS settings of Pouch's outgoing HTTPS connections (webhooks, witnesses).

One context per process: building one reads and parses the whole bundle of
trusted authorities (about 50 ms here), and a context is safe to share between
clients and threads.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_context() -> ssl.SSLContext:
    """The authorities httpx would trust by itself (``SSL_CERT_FILE`` or
    ``SSL_CERT_DIR`` when set, else certifi's bundle), with hostnames checked."""
    return httpx.create_ssl_context()
