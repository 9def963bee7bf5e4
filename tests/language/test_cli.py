"""``pouch language queue`` on the demo served over HTTP: read as the person logged in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pouch.identity.models import Role
from tests.officers import Demo, served_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with served_demo(tmp_path_factory.mktemp("language-demo")) as served:
        yield served


def test_the_translators_queue_as_the_translator_and_a_watch_officer(demo: Demo) -> None:
    translator = demo.officer("translator", Role.TRANSLATOR)
    code, output = translator.run("language", "queue")
    assert code == 0, output
    assert "claimed" in output and "Tomás Translator" in output
    code, with_machine = translator.run("language", "queue", "--machine")
    assert code == 0 and len(with_machine) >= len(output)
    code, watched = demo.officer("watch1", Role.WATCH_OFFICER).run("language", "queue")
    assert code == 0 and watched == output


def test_the_principal_does_not_read_the_translators_queue(demo: Demo) -> None:
    principal = demo.officer("principal", Role.PRINCIPAL, "president-elect")
    code, output = principal.run("language", "queue")
    assert code == 1
    assert output.startswith("error: this needs one of the roles") and "translator" in output
