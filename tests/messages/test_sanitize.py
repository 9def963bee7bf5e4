"""Message bodies as a reader's browser gets them: no image is ever loaded."""

from __future__ import annotations

import re

import pytest

from pouch.messages.sanitize import for_reader

TRICKS = [
    '<img src="http://127.0.0.1:9/p.png">',
    '<IMG SRC="https://tracker.example/p.gif" onerror="alert(1)">',
    '<img srcset="https://t.example/a.png 2x" src="https://t.example/b.png">',
    '<p><img src="//t.example/x.png" alt="\'&quot;><img src=https://t.example/y>"></p>',
    '<picture><source srcset="https://t.example/p.webp"><img src="https://t.example/p"></picture>',
    '<table background="https://t.example/bg.png"><tr><td>x</td></tr></table>',
    '<svg><image href="https://t.example/s.png"/></svg>',
    '<div style="background:url(https://t.example/s.png)">x</div>',
    '<video poster="https://t.example/v.png" src="https://t.example/v.mp4"></video>',
    '<link rel="stylesheet" href="https://t.example/s.css"><style>@import "https://t.example/i.css";</style>',
    '<input type="image" src="https://t.example/i.png">',
    '<object data="https://t.example/o"></object><embed src="https://t.example/e">',
    '<iframe src="https://t.example/f"></iframe><script src="https://t.example/s.js"></script>',
]


@pytest.mark.parametrize("html", TRICKS)
def test_nothing_in_a_body_loads_anything(html: str) -> None:
    shown = for_reader(html)
    for loader in (
        "<img",
        "<source",
        "<image",
        "<video",
        "<link",
        "<style",
        "<input",
        "<object",
        "<embed",
        "<iframe",
        "<script",
        "style=",
        "srcset",
        "background=",
        "poster=",
    ):
        assert loader not in shown.lower(), shown
    # An address appears only as a link's href (or as text), which the browser does not fetch.
    assert not re.search(r"<[^>]*\ssrc=", shown), shown


def test_an_image_becomes_a_link_with_its_description() -> None:
    shown = for_reader('<p>See <img src="https://t.example/p.png?u=1&amp;m=2" alt="the seal"></p>')
    assert shown == (
        '<p>See <a href="https://t.example/p.png?u=1&amp;m=2" class="remote-image" '
        'rel="noopener noreferrer">[image not loaded: the seal, from t.example]</a></p>'
    )


def test_text_and_links_are_kept_as_they_were() -> None:
    html = '<p>1 &lt; 2 &amp; <a href="https://mfa.example/x">a link</a><br>&quot;q&quot;</p>'
    assert for_reader(html) == (
        '<p>1 &lt; 2 &amp; <a href="https://mfa.example/x" rel="noopener noreferrer">a link</a>'
        '<br>"q"</p>'
    )


def test_a_class_of_the_sender_is_not_taken_for_ours() -> None:
    shown = for_reader('<span class="remote-image">fake</span><a class="remote-image">x</a>')
    assert "class" not in shown
