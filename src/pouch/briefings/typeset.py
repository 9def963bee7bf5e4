"""The packet as a PDF, typeset by typst (the only typst import).

The template (``packet.typ``) is fixed; the packet's words reach it as one JSON
document in ``sys.inputs``, read with ``json(...)`` and placed as content, so
nothing a leader's name or a staff member's talking point says is ever read as
markup. Fonts: the machine's Noto families (``fonts-noto-core``,
``fonts-noto-cjk``) for Chinese, Japanese, Arabic, Hebrew, Devanagari; typst's
own fonts otherwise. The creation time is the packet's issue time, so the same
packet typesets to the same bytes.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import typst

TEMPLATE = Path(__file__).with_name("packet.typ")
FONT_DIRS = [
    str(path)
    for path in (
        Path("/usr/share/fonts/truetype/noto"),
        Path("/usr/share/fonts/opentype/noto"),
    )
    if path.is_dir()
]

_compiler: typst.Compiler | None = None
_lock = threading.Lock()


def _the_compiler() -> typst.Compiler:
    # One compiler per process: it keeps the fonts and the template parsed between packets.
    global _compiler
    if _compiler is None:
        _compiler = typst.Compiler(str(TEMPLATE), font_paths=FONT_DIRS)
    return _compiler


def pdf(document: dict[str, Any], *, at: datetime) -> bytes:
    """The PDF of ``document`` (``packet.printable``), dated ``at``."""
    inputs = {"packet": json.dumps(document, ensure_ascii=False)}
    with _lock:  # a compiler is not to be shared by two threads at once
        out = _the_compiler().compile(
            format="pdf", sys_inputs=inputs, timestamp=int(at.timestamp())
        )
    assert isinstance(out, bytes)
    return out
