"""Letters in the scripts foreign offices write in: each is drawn with a real font (no
boxes: `.ci/run` installs Noto for CJK, Arabic, Devanagari and Hebrew), and text
written right to left reads right to left on every page that shows it (``dir=auto``).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from pouch.db import Database
from tests.e2e.conftest import Visit, route, submit
from tests.e2e.server import Server

#: language: (subject, first line of the body, the direction it is written in)
LETTERS = {
    "ar": ("رسالة تهنئة من رئيس الوزراء", "فخامة الرئيس المنتخب، تحية طيبة وبعد", "rtl"),
    "he": ("מכתב ברכה מראש הממשלה", "כבוד הנשיא הנבחר, שלום רב", "rtl"),
    "zh": ("国务院总理的贺信", "尊敬的当选总统阁下：您好", "ltr"),
    "ja": ("内閣総理大臣からの祝辞", "次期大統領閣下、ご当選おめでとうございます", "ltr"),
    "hi": ("प्रधानमंत्री का बधाई पत्र", "माननीय निर्वाचित राष्ट्रपति महोदय, नमस्कार", "ltr"),
}

#: Draws each character alone, in the element's own font, and compares it with a
#: character no font has (a private-use code point): the same pixels are the box a
#: browser draws for a missing glyph. Returns the characters drawn as that box.
MISSING_GLYPHS = """
([selector, text]) => {
  const font = getComputedStyle(document.querySelector(selector)).font;
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const draw = (c) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = font.replace(/\\d+(\\.\\d+)?px/, "32px");
    ctx.fillText(c, 8, 44);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(",");
  };
  const box = draw("\\u{10FFFD}");
  return Array.from(text).filter((c) => c.trim() && draw(c) === box);
}
"""


def _missing(page: Page, selector: str, text: str) -> list[str]:
    missing: list[str] = page.evaluate(MISSING_GLYPHS, [selector, text])
    return missing


@pytest.mark.parametrize("language", sorted(LETTERS))
def test_each_script_is_drawn_and_runs_its_own_way(
    visit: Visit, server: Server, served_db: Database, language: str
) -> None:
    subject, body, direction = LETTERS[language]
    public_id = submit(server, served_db, subject=subject, body=body, language=language)
    route(served_db, public_id)
    page = visit("principal").page

    page.goto(f"/inbox/{public_id}")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(subject)
    assert heading.evaluate("e => getComputedStyle(e).direction") == direction
    text = page.locator(".original .body")
    assert text.evaluate("e => getComputedStyle(e).direction") == direction
    assert _missing(page, "h1", subject) == []
    assert _missing(page, ".original .body", body) == []

    # The inbox's list and the watch floor's page run the same way.
    page.goto("/inbox")
    link = page.get_by_role("link", name=subject)
    assert link.evaluate("e => getComputedStyle(e).direction") == direction
    watch = visit("watch1").page
    watch.goto(f"/watch/{public_id}")
    assert (
        watch.get_by_role("heading", level=1).evaluate("e => getComputedStyle(e).direction")
        == direction
    )


def test_a_missing_glyph_is_seen_as_one(visit: Visit) -> None:
    """The check above can fail: a character no installed font has is reported."""
    page = visit(None).page
    page.goto("/login")
    assert _missing(page, "h1", "\U0010fffc") == ["\U0010fffc"]
    assert _missing(page, "h1", "Pouch") == []
