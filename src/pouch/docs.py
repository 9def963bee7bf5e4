"""Regenerate the reference pages that are derived from code (``make docs``).

Tests compare each page with what this would write, so a stale page fails CI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def generated_pages() -> dict[str, Callable[[], str]]:
    from pouch.cli import cli_reference
    from pouch.errors import errors_reference
    from pouch.settings import settings_reference

    return {
        "docs/cli.md": cli_reference,
        "docs/errors.md": errors_reference,
        "docs/settings.md": settings_reference,
    }


def main() -> None:
    for path, render in generated_pages().items():
        Path(path).write_text(render(), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
