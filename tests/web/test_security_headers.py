"""Security headers on every response, and templates the Content-Security-Policy lets work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.settings import Settings
from pouch.web import security
from tests.factories import World
from tests.identity.helpers import log_in

WEB = Path(__file__).parents[2] / "src" / "pouch" / "web"

PATHS = [
    "/login",  # a page
    "/",  # a page that sends a visitor to log in (303)
    "/static/pouch.css",  # a static file
    "/api/me",  # an API error (401 problem)
    "/api/log",  # public JSON
    "/no-such-page",  # a 404 page
    "/healthz",
    "/problems/too-many-attempts",
]


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_headers(app_client: TestClient, path: str) -> None:
    response = app_client.get(path, follow_redirects=False)
    headers = response.headers
    policy = _directives(headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'"]  # no remote image, not even data:
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in headers  # plain HTTP


def test_a_post_and_a_page_of_a_logged_in_user_carry_them(
    app_client: TestClient, world: World
) -> None:
    response = log_in(app_client, "principal")
    assert response.status_code == 303
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page = app_client.get("/inbox")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"


def test_a_refused_body_carries_them(app_client: TestClient, settings: Settings) -> None:
    response = app_client.post(
        "/api/messages",
        content=b"x" * (settings.max_body_bytes + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["x-frame-options"] == "DENY"


def test_hsts_over_tls(settings: Settings, database: Database, clock: ManualClock) -> None:
    app = create_app(settings, database=database, clock=clock, background=False)
    with TestClient(app, base_url="https://pouch.example") as client:
        response = client.get("/login")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_hsts_when_the_public_url_is_https(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    behind_proxy = settings.model_copy(update={"public_url": "https://pouch.mfa.example"})
    app = create_app(behind_proxy, database=database, clock=clock, background=False)
    with TestClient(app) as client:  # plain HTTP from the proxy, not trusted for its headers
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_the_api_docs_page_is_served_by_pouch_alone(app_client: TestClient) -> None:
    response = app_client.get("/api/docs")
    assert response.status_code == 200
    policy = _directives(response.headers["content-security-policy"])
    # No CDN, no inline script: every script is one of Pouch's own files, and served.
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert "https://" not in response.text
    for url in re.findall(r'(?:src|href)="(/[^"]+)"', response.text):
        asset = app_client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert "SwaggerUIBundle" in app_client.get("/api/docs/assets/swagger-ui-bundle.js").text
    # Only that page: the OpenAPI document itself has the strict one.
    strict = app_client.get("/api/openapi.json").headers["content-security-policy"]
    assert strict == security.CONTENT_SECURITY_POLICY


TEMPLATE_FILES = sorted((WEB / "templates").glob("*.html"))
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "style element": re.compile(r"<style", re.I),
    "javascript: URL": re.compile(r"(?:href|src|action)\s*=\s*[\"']?\s*javascript:", re.I),
    "htmx eval (hx-on, hx-vars, js:)": re.compile(r"hx-on|hx-vars|[\"']js:", re.I),
    "htmx trigger filter (eval)": re.compile(r"hx-trigger=\"[^\"]*\[", re.I),
}


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=lambda p: p.name)
def test_templates_need_nothing_the_policy_forbids(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    for what, pattern in FORBIDDEN.items():
        found = pattern.search(text)
        assert found is None, f"{template.name}: {what}: {found.group(0) if found else ''}"


def test_htmx_is_told_not_to_eval_or_inject_styles() -> None:
    base = (WEB / "templates" / "base.html").read_text(encoding="utf-8")
    assert '"allowEval": false' in base
    assert '"includeIndicatorStyles": false' in base
    assert '"allowScriptTags": false' in base


def test_the_checks_find_what_they_look_for() -> None:
    """The patterns above catch each thing they are meant to (else the test proves nothing)."""
    samples = {
        "inline script": "<script>alert(1)</script>",
        "event handler attribute": '<button onclick="x()">',
        "style attribute": '<p style="color:red">',
        "style element": "<style>p{}</style>",
        "javascript: URL": '<a href="javascript:x()">',
        "htmx eval (hx-on, hx-vars, js:)": '<div hx-on:click="x()">',
        "htmx trigger filter (eval)": '<div hx-trigger="every 5s [ok()]">',
    }
    for what, sample in samples.items():
        assert FORBIDDEN[what].search(sample), what
    assert not FORBIDDEN["inline script"].search('<script src="/static/pouch.js" defer></script>')
