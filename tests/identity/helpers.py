"""Logging in through the pages, for tests of pages and forms."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from tests.factories import PASSWORD


def csrf_of(html: str) -> str:
    """The anti-forgery token of the first form in ``html``."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form has no csrf_token field"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Post the login form as a browser would; the client keeps the session cookie."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
