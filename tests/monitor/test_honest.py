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
