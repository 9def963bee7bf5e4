"""Who may see and do what at the language desk: pure predicates over the actor.

The one owner of these rules; the API, the pages and the command line all ask
here. Each route's gate is one of the role sets below (``web.deps.Authorize``
and ``AuthorizePage`` check it), held in the operations office.

- Translators and watch officers read the translators' queue; translators
  claim and submit; a claim is released by its translator, or by a watch
  officer, who may release anyone's.
- Administrators and protocol officers keep the interpreter roster, which the
  ministry's staff read (not the principal's office, not senders).
- Interpreters see the calls they interpret.
- A message's translations go with the message: whoever may see the message
  (``pouch.messages.access``) sees them; why no engine could translate it is
  shown to the operations center's readers only (it names internal servers).
"""

from __future__ import annotations

from pouch.identity.models import Role
from pouch.identity.service import Actor
from pouch.messages import access as message_access

QUEUE_READER_ROLES = (Role.TRANSLATOR, Role.WATCH_OFFICER)
TRANSLATOR_ROLES = (Role.TRANSLATOR,)
ROSTER_READER_ROLES = (
    Role.ADMINISTRATOR,
    Role.PROTOCOL_OFFICER,
    Role.WATCH_OFFICER,
    Role.TRANSLATOR,
    Role.INTERPRETER,
    Role.AUDITOR,
)
ROSTER_EDITOR_ROLES = (Role.ADMINISTRATOR, Role.PROTOCOL_OFFICER)
INTERPRETER_ROLES = (Role.INTERPRETER,)


def _in_operations(actor: Actor, roles: tuple[Role, ...]) -> bool:
    return any(actor.holds_in_operations(role) for role in roles)


def reads_queue(actor: Actor) -> bool:
    """Reads the translators' queue and each translation's original."""
    return _in_operations(actor, QUEUE_READER_ROLES)


def reads_roster(actor: Actor) -> bool:
    """Reads the interpreter roster."""
    return _in_operations(actor, ROSTER_READER_ROLES)


def edits_roster(actor: Actor) -> bool:
    """Adds, changes and retires interpreters."""
    return _in_operations(actor, ROSTER_EDITOR_ROLES)


def interprets(actor: Actor) -> bool:
    """Sees the calls to interpret."""
    return _in_operations(actor, INTERPRETER_ROLES)


def translates(actor: Actor) -> bool:
    """Claims queued translations and submits them."""
    return _in_operations(actor, TRANSLATOR_ROLES)


def releases_any_claim(actor: Actor) -> bool:
    """Gives back another translator's claim (a claim's own translator always may)."""
    return actor.holds_in_operations(Role.WATCH_OFFICER)


def sees_engine_errors(actor: Actor) -> bool:
    """Reads why no engine translated a message."""
    return message_access.is_operations_reader(actor)
