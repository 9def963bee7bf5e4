"""A message's HTML as a reader's browser may show it: nothing in it is fetched.

A sender's ``<img src="https://tracker.example/pixel.png">`` would tell the
sender (or anyone) when, and from where, the principal opened the message. So
every image of a body is shown as a link to it instead, marked ``[image …]``;
the reader may follow it, the browser never loads it on its own. An image
whose address was removed (a ``data:`` or ``javascript:`` one) is a note alone.
The Content-Security-Policy (``img-src 'self'``, ``web/security.py``) stops
any remote image that slipped past this.

The body stored at acceptance is left as the sender sent it (sanitized), since
its content hash is what the log committed to: this happens on the way out,
after ``acceptance.sanitize_html``, for every page that shows a body.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

from pouch.messages import acceptance

#: The only tags and attributes nh3 lets through, less ``img``: no element loads anything.
_TAGS = set(nh3.ALLOWED_TAGS) - {"img"}
_MARK = {"class": {"remote-image"}}
_URL_SCHEMES = {"http", "https", "mailto"}
#: Elements that never have an end tag (html5ever writes them without a slash).
_VOID = frozenset({"area", "br", "col", "hr", "img", "wbr"})


def for_reader(html: str) -> str:
    """``html`` sanitized (as at acceptance), each image turned into a link to it.

    >>> shown = for_reader('<p>Hi<img src="http://127.0.0.1:9/p.png" alt="logo"></p>')
    >>> shown.removeprefix('<p>Hi<a href="http://127.0.0.1:9/p.png" class="remote-image" ')
    'rel="noopener noreferrer">[image not loaded: logo, from 127.0.0.1]</a></p>'
    >>> shown = for_reader('<a href="https://a.example"><img src="https://b.example/x.gif"></a>')
    >>> shown.removeprefix('<a href="https://a.example" rel="noopener noreferrer">')
    '<span class="remote-image">[image not loaded: from b.example]</span></a>'
    >>> for_reader('<img src="data:image/png;base64,AAAA" alt="x">')
    '<span class="remote-image">[image not loaded: x]</span>'
    """
    rewriter = _ImagesToLinks()
    rewriter.feed(acceptance.sanitize_html(html))
    rewriter.close()
    # Cleaned once more: whatever the rewriting wrote, no image and no script is left.
    return nh3.clean(
        "".join(rewriter.out),
        tags=_TAGS,
        tag_attribute_values={"a": _MARK, "span": _MARK},
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


class _ImagesToLinks(HTMLParser):
    """Writes out sanitized HTML as it reads it, with each ``img`` as a link or a note."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.in_link = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self._image(dict(attrs))
            return
        if tag == "a":
            self.in_link += 1
        written = "".join(f' {name}="{escape(value or "", quote=True)}"' for name, value in attrs)
        self.out.append(f"<{tag}{written}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag == "a":
            self.in_link = max(0, self.in_link - 1)
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def _image(self, attrs: dict[str, str | None]) -> None:
        src = (attrs.get("src") or "").strip()
        alt = " ".join((attrs.get("alt") or "").split())
        host = urlsplit(src).hostname if src else None
        said = ", ".join(part for part in (alt, f"from {host}" if host else "") if part)
        note = escape(f"[image not loaded{': ' + said if said else ''}]", quote=False)
        if src and not self.in_link:
            self.out.append(f'<a href="{escape(src, quote=True)}" class="remote-image">{note}</a>')
        else:  # a link inside a link is no link: the note alone
            self.out.append(f'<span class="remote-image">{note}</span>')
