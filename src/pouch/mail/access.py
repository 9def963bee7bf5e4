"""Who sees and decides on the mail quarantine: the watch floor's own rule."""

from __future__ import annotations

from pouch.identity.service import Actor
from pouch.messages import access as message_access


def may_read_quarantine(actor: Actor) -> bool:
    """Watch officers, and auditors who count it."""
    return message_access.may_read_queue(actor)


def may_decide(actor: Actor) -> bool:
    """Reject (with a second officer) or accept a quarantined mail: watch officers."""
    return message_access.may_act_on_queue(actor)
