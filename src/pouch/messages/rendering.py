"""What every page of the message path renders with (``watch_pages``, ``inbox_pages``,
``track_pages``): the shared context of its templates, and a message body made
safe to show as markup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from pouch.events import label_of
from pouch.identity.service import Actor
from pouch.messages import sanitize
from pouch.messages import service as message_service
from pouch.messages.models import Message
from pouch.web.format import countdown


def context(now: datetime, actor: Actor, names: message_service.OfficeNames) -> dict[str, Any]:
    """The names and helpers ``_macros.html`` and the message templates use."""
    return {
        "actor": actor,
        "now": now,
        "names": names,
        "operations": names.operations,
        "left": lambda deadline: countdown(deadline, now),
        "is_overdue": lambda message: message_service.is_overdue(message, now),
        "active_hold": message_service.active_hold,
        "step_name": label_of,
    }


def body_html(message: Message) -> Markup | None:
    """The HTML body as markup, sanitized again on the way out, its images as links."""
    # Sanitized at acceptance; sanitized again here so that nothing stored
    # (by an older version, or by hand) can ever reach a browser as markup, and
    # no image in it is fetched by the reader's browser (``sanitize``).
    if message.body_html is None:
        return None
    return Markup(sanitize.for_reader(message.body_html))  # noqa: S704
