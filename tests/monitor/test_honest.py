"""An honest Pouch: every monitor exits 0, poll after poll, reading only what was added."""

from __future__ import annotations

import json
from datetime import timedelta

from pouch.messages import acceptance
from tests.monitor.helpers import Party, Pouch, letter


def test_an_honest_pouch_passes_both_monitors_poll_after_poll(
    pouch: Pouch, office: Party, sender: Party
) -> None:
    first = [pouch.submit(**letter(n)) for n in range(3)]
    pouch.submit(
        subject="With a photograph",
        body="<p>Dear <b>President-elect</b></p><script>x()</script>",
        body_format="html",
        attachments=(acceptance.AttachmentData("photo.txt", "text/plain", b"a photograph"),),
    )
    for accepted in first[:2]:
        pouch.route(accepted.message.public_id)
    pouch.publish()
    for watcher in (office, sender):
        result = watcher.poll()
        assert result.code == 0, result.output
        assert "OK: " in result.output
    # The rest delivered by the worker at the end of triage, well within the deadline.
    pouch.clock.advance(timedelta(hours=2, minutes=1))
    pouch.run_worker()
    pouch.submit(**letter(9))
    pouch.publish()
    for watcher in (office, sender):
        result = watcher.poll()
        assert result.code == 0, result.output
        report = json.loads((watcher.state / "alarms.json").read_text())
        assert report["alarms"] == [] and report["complete"] is True
        assert report["added"] > 0


def test_a_rotation_the_key_file_lacks_is_an_alarm_until_the_key_is_added(
    pouch: Pouch, office: Party
) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    assert office.poll().code == 0
    # The administrator rotates the key and has not yet added the new one to the file:
    # the office finds nothing after the rotation, and says so.
    lines = office.rotate(keep=False)
    later = [pouch.submit(**letter(n)) for n in (1, 2)]
    pouch.publish()
    result = office.poll()
    assert result.code == 1 and result.kinds() == ["unknown-rotation"], result.output
    # The key added: the entries logged since are read again and found, none hidden.
    office.add_keys(lines)
    result = office.poll()
    assert result.code == 0, result.output
    assert "3 messages followed" in result.output
    state = json.loads((office.state / "state.json").read_text())
    followed = {m[0] for m in state["party"]["messages"]}
    assert {a.message.public_id for a in later} <= followed
