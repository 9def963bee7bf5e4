"""Accessibility, as axe-core (Deque's engine, from npm: tests/e2e/axe) judges it: every
page of every role, at laptop and at phone width, has no serious or critical violation.

axe-core is pinned in ``tests/e2e/axe/package-lock.json``; ``make test`` and ``.ci/run``
install it (``npm ci``). Without it the test fails, naming the command to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Visit
from tests.e2e.server import LAPTOP, PHONE

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ROLES = ["watch1", "principal", "staff", "protocol", "translator", "interpreter", "auditor",
         "admin", "sender-ie"]  # fmt: skip
#: A list page, and the link on it to one message's own page, visited too.
DETAIL = {
    "/watch": "/watch/m-",
    "/inbox": "/inbox/m-",
    "/track": "/track/m-",
    "/calls": "/briefings/c-",
}
#: Judged on what axe calls serious or critical; lesser findings are printed, not failed.
FAILING = ("serious", "critical")

RUN_AXE = """
async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
}
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed: run `npm ci --prefix {AXE.parents[2]}`")
    return AXE.read_text()


def _violations(page: Page, axe_source: str) -> list[dict[str, object]]:
    # Evaluated through the browser's debugging protocol: the page's own policy,
    # which runs only Pouch's scripts, does not apply to it.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(axe_source)
    found: list[dict[str, object]] = page.evaluate(RUN_AXE)
    return found


@pytest.mark.parametrize("username", ROLES)
def test_no_page_has_a_serious_accessibility_violation(
    visit: Visit, axe_source: str, username: str
) -> None:
    page = visit(username).page
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    links = nav.get_by_role("link").evaluate_all("ls => ls.map(l => l.getAttribute('href'))")
    paths = ["/", *links]
    failing = {}
    for path in paths:
        page.goto(path)
        page.wait_for_load_state("domcontentloaded")
        detail = DETAIL.get(path)
        if detail is not None:
            first = page.locator(f"a[href^='{detail}']").first
            if first.count():
                paths.append(str(first.get_attribute("href")))
        for width, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)  # type: ignore[arg-type]
            serious = [v for v in _violations(page, axe_source) if v["impact"] in FAILING]
            if serious:
                failing[f"{path} ({width})"] = serious
        page.set_viewport_size(LAPTOP)  # type: ignore[arg-type]
    assert len(paths) >= 2, paths
    assert failing == {}, failing


def test_the_login_page_and_an_error_page_too(visit: Visit, axe_source: str) -> None:
    page = visit(None).page
    for path in ("/login", "/no-such-page"):
        page.goto(path)
        serious = [v for v in _violations(page, axe_source) if v["impact"] in FAILING]
        assert serious == [], (path, serious)


def test_axe_finds_what_it_should(visit: Visit, axe_source: str) -> None:
    """The check can fail: an image without a text alternative and a nameless button,
    put in the page, are reported as critical."""
    page = visit(None).page
    page.goto("/login")
    page.evaluate(
        """() => {
            const img = document.createElement("img"); img.src = "/static/none.png";
            const button = document.createElement("button");
            document.querySelector("main").append(img, button);
        }"""
    )
    ids = {v["id"] for v in _violations(page, axe_source) if v["impact"] in FAILING}
    assert {"image-alt", "button-name"} <= ids, ids
