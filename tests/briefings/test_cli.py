"""``pouch briefing`` on the demo served over HTTP: each officer with a token of their own."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pouch.identity.models import Role
from tests.officers import Demo, served_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with served_demo(tmp_path_factory.mktemp("briefing-demo")) as served:
        yield served


def _calls(demo: Demo) -> tuple[str, str]:
    match = re.search(r"a cleared packet for (c-[0-9a-f]{20}); (c-[0-9a-f]{20}) held", demo.summary)
    assert match, demo.summary
    return match.group(1), match.group(2)


def test_the_principal_downloads_the_demo_packet_checked_against_the_log(
    demo: Demo, tmp_path: Path
) -> None:
    packet_call, _ = _calls(demo)
    principal = demo.officer("principal", Role.PRINCIPAL, "president-elect")
    code, output = principal.run("briefing", "show", packet_call)
    assert code == 0, output
    assert "briefing: cleared" in output and "packet 1: issued" in output
    target = tmp_path / "packet.pdf"
    code, output = principal.run("briefing", "pdf", packet_call, "--output", str(target))
    assert code == 0, output
    assert hashlib.sha256(target.read_bytes()).hexdigest() in " ".join(output.split())
    # A sender office never gets it.
    sender = demo.officer("sender-ie", Role.SENDER, "ie-taoiseach")
    code, output = sender.run("briefing", "pdf", packet_call, "--output", str(tmp_path / "x.pdf"))
    assert code == 1 and "this needs one of the roles" in output
    assert not (tmp_path / "x.pdf").exists()


def test_the_desk_runs_a_call_and_an_illegal_move_is_refused(demo: Demo) -> None:
    packet_call, held = _calls(demo)
    auditor = demo.officer("auditor", Role.AUDITOR)
    code, output = auditor.run("briefing", "show", held)
    assert code == 0, output
    assert "completed" in output and "memcon: filed" in output
    watch = demo.officer("watch1", Role.WATCH_OFFICER)
    code, output = watch.run("briefing", "move", held, "placing")
    assert code == 1 and "a completed call cannot become placing" in " ".join(output.split())
    code, output = watch.run("briefing", "move", packet_call, "placing")
    assert code == 0 and f"{packet_call}: placing" in output
    staff = demo.officer("staff", Role.PRINCIPAL_STAFF, "president-elect")
    code, output = staff.run("briefing", "write", packet_call, "--point", "One", "--point", "Two")
    assert code == 0 and "briefing version 2 saved (draft)" in output
    code, output = staff.run("briefing", "clear", packet_call)
    assert code == 1  # staff are not this call's clearing officer
