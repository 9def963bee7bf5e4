"""The web like a bank's, in Chromium: the Content-Security-Policy breaks no page of any
role, htmx still works without eval, and a message's remote image is never fetched."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from pouch.db import Database
from pouch.messages.models import MessageRead
from tests.e2e.conftest import Visit, Visitor, route, submit
from tests.e2e.server import Server

#: Recorded in the page before any of its own script runs (an init script is not
#: subject to the page's policy): every violation the browser reports.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""

ROLES = [
    "admin",
    "watch1",
    "principal",
    "staff",
    "protocol",
    "translator",
    "interpreter",
    "auditor",
    "sender-ie",
]


class Watched:
    """A visitor whose page reports what the policy refused."""

    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor
        self.page = visitor.page
        self.console: list[str] = []
        self.page.add_init_script(WATCH_VIOLATIONS)
        self.page.on("console", lambda message: self.console.append(message.text))

    def refused(self) -> list[str]:
        reported: list[str] = self.page.evaluate("window.__violations || []")
        said = [
            text
            for text in self.console
            if "Refused to" in text or "Content Security Policy" in text
        ]
        return reported + said


@pytest.fixture(scope="module")
def letter(server: Server, served_db: Database) -> str:
    """A delivered message with an HTML body, for the pages that show one."""
    public_id = submit(
        server,
        served_db,
        subject="Note verbale on the security review",
        body="<p>The <b>Embassy</b> presents its compliments.</p>",
        body_format="html",
    )
    route(served_db, public_id)
    return public_id


def _pages_of(page: Page) -> list[str]:
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    hrefs = nav.get_by_role("link").evaluate_all("links => links.map(l => l.getAttribute('href'))")
    return ["/", *hrefs]


@pytest.mark.parametrize("username", ROLES)
def test_no_page_of_any_role_breaks_the_policy(
    visit: Visit, username: str, letter: str, server: Server
) -> None:
    watched = Watched(visit(username))
    page = watched.page
    paths = _pages_of(page)
    detail = {
        "/watch": f"/watch/{letter}",
        "/inbox": f"/inbox/{letter}",
        "/track": f"/track/{letter}",
    }
    paths += [detail[p] for p in list(paths) if p in detail]
    assert len(paths) >= 2, paths
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        page.wait_for_load_state("networkidle")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        # Pouch's scripts ran: htmx is there, and pouch.js showed the viewer's time zone.
        assert page.evaluate("typeof htmx") == "object", path
        expect(page.locator("[data-viewer-zone]").first).to_be_visible()
        assert watched.refused() == [], (path, watched.refused())
        # The style sheet applied (a refused one would leave the default look).
        assert page.locator("header.masthead").evaluate("e => getComputedStyle(e).display"), path


def test_the_login_page_and_a_refused_page_break_nothing(visit: Visit) -> None:
    watched = Watched(visit(None))
    page = watched.page
    page.goto("/login")
    expect(page.get_by_label("User name")).to_be_visible()
    page.goto("/no-such-page")
    assert watched.refused() == []


def test_htmx_refreshes_the_queue_without_eval(visit: Visit, letter: str) -> None:
    watched = Watched(visit("watch1"))
    page = watched.page
    page.goto("/watch")
    # The queue polls (htmx's trigger, with no eval) and its answer is swapped in.
    with page.expect_response(re.compile(r"/watch/queue$"), timeout=15_000) as polled:
        pass
    assert polled.value.status == 200
    expect(page.locator("#queue-region")).to_be_visible()
    assert watched.refused() == []


def test_opening_from_the_inbox_records_the_read_by_a_post(
    visit: Visit, server: Server, served_db: Database
) -> None:
    public_id = submit(server, served_db, subject="Letter read through a POST")
    route(served_db, public_id)
    watched = Watched(visit("principal"))
    page = watched.page
    page.goto("/inbox")
    with page.expect_request(lambda r: r.url.endswith(f"/inbox/{public_id}/read")) as posted:
        page.get_by_role("link", name="Letter read through a POST").click()
    assert posted.value.method == "POST"
    expect(page.get_by_text("Your first reading is recorded")).to_be_visible()
    expect(page.get_by_role("button", name="Mark as read")).to_have_count(0)
    assert _reads(served_db, public_id) == 1
    assert watched.refused() == []


def test_without_javascript_the_button_records_the_read(
    visit: Visit, server: Server, served_db: Database
) -> None:
    public_id = submit(server, served_db, subject="Letter read with a button")
    route(served_db, public_id)
    page = visit("staff", javascript=False).page
    page.goto(f"/inbox/{public_id}")
    assert _reads(served_db, public_id) == 0  # shown is not read
    page.get_by_role("button", name="Mark as read").click()
    expect(page.get_by_role("status")).to_contain_text("Your first reading is recorded")
    assert _reads(served_db, public_id) == 1


class _Pixels(http.server.BaseHTTPRequestHandler):
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tracker() -> Iterator[tuple[str, list[str]]]:
    """A sender's tracking server on a free port: the paths it was asked for."""
    seen: list[str] = []
    handler = type("Pixels", (_Pixels,), {"seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_remote_image_is_never_fetched(
    visit: Visit, server: Server, served_db: Database, tracker: tuple[str, list[str]]
) -> None:
    base, seen = tracker
    body = (
        f'<p>Dear President-elect,</p><p><img src="{base}/pixel.png?who=principal" '
        f'alt="our seal" width="1" height="1"></p>'
        f'<p><a href="https://mfa.example"><img src="{base}/linked.png"></a></p>'
    )
    public_id = submit(
        server, served_db, subject="A letter with a tracking pixel", body=body, body_format="html"
    )
    route(served_db, public_id)
    for username, path in [
        ("principal", f"/inbox/{public_id}"),
        ("watch1", f"/watch/{public_id}"),
        ("sender-ie", f"/track/{public_id}"),
    ]:
        watched = Watched(visit(username))
        page = watched.page
        page.goto(path)
        page.wait_for_load_state("networkidle")
        body_html = page.locator(".body-html").first
        expect(body_html).to_contain_text("Dear President-elect")
        assert body_html.locator("img").count() == 0
        link = body_html.get_by_role("link", name=re.compile(r"image not loaded: our seal"))
        expect(link).to_have_attribute("href", f"{base}/pixel.png?who=principal")
        expect(body_html).to_contain_text("[image not loaded: from 127.0.0.1]")
        assert watched.refused() == []  # nothing even tried
    assert seen == [], f"the sender's server was asked for {seen}"


def _reads(database: Database, public_id: str) -> int:
    from sqlalchemy import func, select

    from pouch.messages import service as message_service

    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        return (
            session.scalar(
                select(func.count())
                .select_from(MessageRead)
                .where(MessageRead.message_id == message.id)
            )
            or 0
        )


def test_the_api_docs_work_offline_within_their_policy(visit: Visit, server: Server) -> None:
    """A ministry's network may reach nothing outside: /api/docs lists every operation
    with every request outside Pouch refused, and the page's policy refuses nothing."""
    watched = Watched(visit(None))
    page = watched.page
    outside: list[str] = []

    def only_pouch(route: Any) -> None:
        if route.request.url.startswith(server.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_pouch)
    page.goto("/api/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    # Every operation of the document is listed, the submission among them.
    document = page.request.get("/api/openapi.json").json()
    operations = sum(len(ops) for ops in document["paths"].values())
    listed = page.locator(".opblock-summary").evaluate_all(
        """blocks => blocks.map(b => b.querySelector('.opblock-summary-method').textContent
            + ' ' + b.querySelector('[data-path]').dataset.path)"""
    )
    assert len(set(listed)) == operations  # an operation with two tags is shown twice
    expect(page.locator(".opblock-post").filter(has_text="/api/messages").first).to_be_visible()
    assert outside == []
    assert watched.refused() == []
