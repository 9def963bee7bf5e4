"""Finding messages in Chromium: words, filters and pages on the find page, a search in
the inbox that never matches what is withheld, and focus one can see."""

from __future__ import annotations

import re
import secrets
import string

from playwright.sync_api import Page, expect

from pouch.db import Database
from pouch.messages.rules import Precedence
from tests.e2e.conftest import Visit, route, submit
from tests.e2e.server import Server


def _word() -> str:
    """A word no other test's letter contains (letters only: search splits on the rest)."""
    return "zq" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


def _found(page: Page) -> list[str]:
    return page.locator("ol.found > li h3").all_inner_texts()


def test_an_officer_finds_by_words_narrows_by_precedence_and_pages_through(
    visit: Visit, server: Server, served_db: Database
) -> None:
    word = _word()
    flash = submit(
        server, served_db, subject=f"Flash {word}", body="x", precedence=Precedence.FLASH
    )
    for number in range(51):
        submit(server, served_db, subject=f"Letter {number}", body=f"About the {word} visit.")
    page = visit("watch1").page
    page.goto("/watch")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find", exact=True).click()
    page.get_by_label("Words").fill(word[:6].upper())  # a prefix, in capitals
    page.get_by_role("button", name="Find").click()
    expect(page.locator("ol.found > li")).to_have_count(50)
    assert _found(page)[0] == "Letter 50"
    page.get_by_test_id("next-page").click()
    assert _found(page) == ["Letter 0", f"Flash {word}"]
    expect(page.get_by_test_id("next-page")).to_have_count(0)
    page.get_by_role("link", name="← First page").click()
    assert _found(page)[0] == "Letter 50"

    page.get_by_text("Filters and order").click()
    page.get_by_label("Precedence").select_option("FLASH")
    page.get_by_role("button", name="Find").click()
    assert _found(page) == [f"Flash {word}"]
    expect(page.get_by_label("Precedence")).to_have_value("FLASH")
    page.get_by_role("link", name=f"Flash {word}").click()
    expect(page).to_have_url(re.compile(f"/watch/{flash}$"))

    page.goto(f"/find?q={word}&since=someday")
    expect(page.locator("main")).to_contain_text("since")
    assert page.locator("main h1").inner_text() != "Find a message"


def test_the_inbox_finds_a_delivered_letter_by_its_text_never_a_queued_one(
    visit: Visit, server: Server, served_db: Database
) -> None:
    word = _word()
    delivered = submit(server, served_db, subject="Delivered", body=f"The {word} treaty.")
    route(served_db, delivered)
    submit(server, served_db, subject="Still queued", body=f"The {word} treaty, again.")
    page = visit("principal").page
    page.goto("/inbox")
    page.get_by_label("Words").fill(word)
    page.get_by_label("Words").press("Enter")
    assert _found_in_inbox(page) == ["Delivered"]
    page.get_by_role("link", name="Clear").click()
    expect(page.get_by_label("Words")).to_have_value("")
    page.get_by_label("Words").fill(f"{word} nothing")
    page.get_by_label("Words").press("Enter")
    expect(page.get_by_test_id("nothing-found")).to_contain_text("No message of this inbox")


def _found_in_inbox(page: Page) -> list[str]:
    return page.locator("ol.inbox > li.card h3").all_inner_texts()


def test_keyboard_focus_is_drawn_with_at_least_3_to_1_contrast(visit: Visit) -> None:
    """WCAG 2.2's focus appearance: the ring against what is behind it, on the page and in
    the masthead."""
    page = visit("watch1").page
    page.goto("/find")
    main_nav = page.get_by_role("navigation", name="Main")
    for target in (
        page.get_by_label("Words"),
        main_nav.get_by_role("link", name="Find", exact=True),
    ):
        target.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        ratio = page.evaluate(
            """(element) => {
                const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
                const lum = ([r, g, b]) => [r, g, b].map((v) => {
                    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                }).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
                const style = getComputedStyle(element);
                if (style.outlineStyle === "none" || parseFloat(style.outlineWidth) < 2) return 0;
                let behind = element.parentElement;
                while (behind && getComputedStyle(behind).backgroundColor === "rgba(0, 0, 0, 0)")
                    behind = behind.parentElement;
                const bg = behind ? getComputedStyle(behind).backgroundColor : "rgb(255,255,255)";
                const [a, b] = [lum(rgb(style.outlineColor)), lum(rgb(bg))].sort((x, y) => y - x);
                return (a + 0.05) / (b + 0.05);
            }""",
            target.element_handle(),
        )
        assert ratio >= 3, (target, ratio)
