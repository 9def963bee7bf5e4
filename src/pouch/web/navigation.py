"""The main menu: each page offered to whoever its access rule lets in.

The rules are the domains' own predicates (``messages/access.py`` …), the same
the pages check, so the menu never offers a page that would refuse its reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pouch.calls import access as calls_access
from pouch.identity import access as identity_access
from pouch.identity.service import Actor
from pouch.intake import access as intake_access
from pouch.language import access as language_access
from pouch.ledger import access as ledger_access
from pouch.messages import access as message_access


@dataclass(frozen=True)
class Entry:
    path: str
    label: str
    offered: Callable[[Actor], bool]


MENU = (
    Entry("/watch", "Watch floor", message_access.may_read_queue),
    Entry("/inbox", "Inbox", lambda actor: bool(message_access.inbox_offices(actor))),
    Entry("/calls", "Calls", calls_access.reads_schedules),
    Entry("/track", "Tracking", lambda actor: bool(message_access.tracking_offices(actor))),
    Entry("/compose", "Write", intake_access.sends_for_an_office),
    Entry("/find", "Find", message_access.may_search),
    Entry("/ledger", "Ledger", ledger_access.reads_ledger_page),
    Entry("/translations", "Translations", language_access.reads_queue),
    Entry("/interpreting", "Interpreting", language_access.interprets),
    Entry("/admin", "Administration", identity_access.administers_pouch),
    Entry("/audit", "Audit", identity_access.audits_identity),
    # Everyone: one's offices (their ids and slugs) and API tokens.
    Entry("/account", "Account", lambda actor: True),
    # Operations staff sign their decisions with their passkeys (identity/passkeys.py).
    Entry(
        "/passkeys",
        "Passkeys",
        lambda actor: any(actor.operations_offices & {o} for o, _ in actor.roles),
    ),
)


def menu(actor: Actor) -> list[Entry]:
    """The entries of the menu ``actor`` is offered, in order."""
    return [entry for entry in MENU if entry.offered(actor)]
