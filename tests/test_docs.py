"""Reference pages that cannot go stale: generated from code and compared here."""

from __future__ import annotations

from pathlib import Path

import pytest

from pouch.docs import generated_pages
from pouch.errors import all_error_types
from pouch.settings import Settings

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("page", sorted(generated_pages()))
def test_generated_page_is_fresh(page: str) -> None:
    render = generated_pages()[page]
    assert (ROOT / page).read_text(encoding="utf-8") == render(), f"run `make docs` ({page})"


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs/settings.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"`POUCH_{name.upper()}`" in text, f"POUCH_{name.upper()} is not in docs/settings.md"


def test_every_problem_type_is_documented() -> None:
    text = (ROOT / "docs/errors.md").read_text(encoding="utf-8")
    slugs = [cls.slug for cls in all_error_types()]
    assert len(slugs) == len(set(slugs)), "two error classes share a problem type"
    for cls in all_error_types():
        assert cls.__doc__, f"{cls.__name__} has no docstring"
        assert f"`{cls.type_uri()}`" in text


def test_every_command_has_help_with_an_example() -> None:
    from typer.main import get_command

    from pouch.cli import app

    root = get_command(app)

    def walk(command: object, path: str) -> list[tuple[str, object]]:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            return [(path, command)]
        found: list[tuple[str, object]] = []
        for name, sub in subcommands.items():
            found.extend(walk(sub, f"{path} {name}"))
        return found

    leaves = walk(root, "pouch")
    assert len(leaves) >= 6
    for path, command in leaves:
        assert getattr(command, "help", None), f"{path} has no help"
        epilog = getattr(command, "epilog", None) or ""
        assert epilog.startswith("Example: ") and path in epilog, f"{path}: no example in its help"
