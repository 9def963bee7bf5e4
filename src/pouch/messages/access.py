"""Who may see and do what with a message: pure predicates over the actor and the message.

The one owner of these rules; the API, the pages and the command line all ask
here. Who may see a message: members of its sender office, members of its
addressee office, and the operations center's readers. Who reads an inbox and
acts as the addressee (read, acknowledge, reply): the principal and staff of
the addressee office. Until a message is delivered its addressee sees that it
exists, who sent it and any hold, never its content.

A caller who may not see a message is answered as if it did not exist (404);
one who sees it but may not do what it asks is refused (403).
"""

from __future__ import annotations

from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.messages.models import Attachment, Message, MessageState, Shown

#: The roles that read an office's inbox and answer for it.
ADDRESSEE_ROLES = (Role.PRINCIPAL, Role.PRINCIPAL_STAFF)
#: The operations center's roles that may read any message.
OPERATIONS_READERS = (Role.WATCH_OFFICER, Role.AUDITOR, Role.ADMINISTRATOR, Role.TRANSLATOR)
#: Who watches the floor: watch officers act on it, auditors follow it read-only.
QUEUE_READERS = (Role.WATCH_OFFICER, Role.AUDITOR)


def is_operations_reader(actor: Actor) -> bool:
    return any(actor.holds_in_operations(role) for role in OPERATIONS_READERS)


def may_see(actor: Actor, message: Message) -> bool:
    """Whether the actor may know the message exists."""
    offices = {office for office, _ in actor.roles}
    return (
        message.sender_office_id in offices
        or message.addressee_office_id in offices
        or is_operations_reader(actor)
    )


def names_everyone(actor: Actor) -> bool:
    """Who is told which person took each step of a message: the operations center's
    readers and the principal's office it serves. A foreign office is told its own
    people's names, and otherwise only which side acted (``messages.attribution``)."""
    return is_operations_reader(actor) or bool(inbox_offices(actor))


def answers_for(actor: Actor, office_id: int) -> bool:
    """The principal or staff of the office: reads its inbox, acknowledges, replies."""
    return any(actor.holds(role, office_id) for role in ADDRESSEE_ROLES)


def inbox_offices(actor: Actor) -> list[int]:
    """The offices whose inbox the actor reads."""
    return sorted({office for office, role in actor.roles if role in ADDRESSEE_ROLES})


def content_withheld(actor: Actor, message: Message | Shown) -> bool:
    """The addressee sees a message's content only once it is delivered; until then
    (queued or held) it sees that the message exists, who sent it, and the hold."""
    if message.state not in (MessageState.ACCEPTED, MessageState.HELD):
        return False
    offices = {office for office, _ in actor.roles}
    return message.sender_office_id not in offices and not is_operations_reader(actor)


def may_search(actor: Actor) -> bool:
    """Who finds messages: whoever may see some (``may_see``); each finds only those."""
    return is_operations_reader(actor) or bool(inbox_offices(actor) or tracking_offices(actor))


def page_of(actor: Actor, message: Message) -> str | None:
    """The page where the actor reads the message, if it has one: the watch floor's, the
    inbox's or tracking's."""
    if may_read_queue(actor):
        return f"/watch/{message.public_id}"
    if message.addressee_office_id in inbox_offices(actor):
        return f"/inbox/{message.public_id}"
    if may_track(actor, message):
        return f"/track/{message.public_id}"
    return None


def may_read_queue(actor: Actor) -> bool:
    """The watch floor's queue, read-only: watch officers and auditors."""
    return any(actor.holds_in_operations(role) for role in QUEUE_READERS)


def may_act_on_queue(actor: Actor) -> bool:
    """Route, hold, approve, release, quarantine."""
    return actor.holds_in_operations(Role.WATCH_OFFICER)


def may_fetch(actor: Actor, attachment: Attachment) -> bool:
    """A quarantined attachment is held back from everyone but the watch officers."""
    return attachment.quarantined_at is None or may_act_on_queue(actor)


#: Who sees what the background work could not do: notices given up on, rows that failed.
OPERATIONS_WATCHERS = (Role.AUDITOR, Role.ADMINISTRATOR)


def may_read_operations(actor: Actor) -> bool:
    return any(actor.holds_in_operations(role) for role in OPERATIONS_WATCHERS)


def tracking_offices(actor: Actor) -> set[int]:
    """The offices whose messages the actor follows as their sender."""
    return actor.offices_with(Role.SENDER)


def may_use_tracking(actor: Actor) -> bool:
    """Tracking is for the senders of an office."""
    return bool(tracking_offices(actor))


def may_track(actor: Actor, message: Message) -> bool:
    """A sender follows the messages its office sent or received."""
    offices = tracking_offices(actor)
    return message.sender_office_id in offices or message.addressee_office_id in offices


def may_read_office_ledger(actor: Actor, office_id: int) -> bool:
    """Members of the office, and auditors: the openings of what was addressed to it."""
    member = any(office == office_id for office, _ in actor.roles)
    return member or actor.holds_in_operations(Role.AUDITOR)


def holds_tag_key(actor: Actor, office_id: int) -> bool:
    """An office's tag key is its own: only an administrator of that office receives and
    rotates it, not an administrator of Pouch (the operator it guards against)."""
    return actor.holds(Role.ADMINISTRATOR, office_id)


def may_open(actor: Actor, offices: set[int] | frozenset[int]) -> bool:
    """The opening of a log entry: to members of an office its event concerns, and to the
    operations center's readers, as for a message (``may_see``)."""
    return any(office in offices for office, _ in actor.roles) or is_operations_reader(actor)


def may_read_endpoint(actor: Actor, office_id: int) -> bool:
    """Where an office's notices go: its members, and the operations center's
    administrators and auditors."""
    member = any(office == office_id for office, _ in actor.roles)
    return (
        member
        or actor.holds_in_operations(Role.ADMINISTRATOR)
        or actor.holds_in_operations(Role.AUDITOR)
    )
