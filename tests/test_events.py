"""The log's vocabulary: every kind has a label and is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from pouch.events import LABELS, EventKind, label_of
from pouch.ledger.events import entry_for

DOCS = Path(__file__).parent.parent / "docs" / "log-format.md"


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_has_a_label_and_is_documented(kind: EventKind) -> None:
    assert LABELS[kind] and kind.label == LABELS[kind]
    assert f"| `{kind.value}` | {kind.label} |" in DOCS.read_text(encoding="utf-8")
    # The log takes the kind as it is: it commits to it.
    entry = entry_for({"kind": kind.value, "time": "2026-11-05T14:00:00.000Z"}, bytes(32))
    assert entry.startswith(b"pouch-event/v1\n")


def test_a_kind_read_back_shows_its_label_and_an_unknown_one_as_it_is() -> None:
    assert label_of("translation.added") == "Translation added"
    assert label_of("not.a.kind") == "not.a.kind"


def test_no_domain_writes_an_event_kind_as_a_free_string() -> None:
    import ast

    source = Path(__file__).parent.parent / "src" / "pouch"
    free = []
    for path in source.rglob("*.py"):
        if "ledger" in path.parts:
            continue  # the log itself takes any kind
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name not in ("record_event", "record", "_log_membership"):
                continue
            given = [k.value for k in node.keywords if k.arg == "kind"] + node.args[1:3]
            for value in given:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    free.append(f"{path.relative_to(source)}:{node.lineno}")
    assert free == []
