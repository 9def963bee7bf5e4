"""Every table of Pouch, gathered for Alembic and tests.

Each capability declares its own models; importing them here registers them
on the shared metadata.
"""

from __future__ import annotations

from pouch.briefings import models as briefing_models
from pouch.calls import models as call_models
from pouch.db import Base
from pouch.directory import models as directory_models
from pouch.identity import models as identity_models
from pouch.identity import passkey_models
from pouch.identity import throttle as identity_throttle
from pouch.intake import models as intake_models
from pouch.language import models as language_models
from pouch.ledger import store as ledger_store
from pouch.mail import models as mail_models
from pouch.messages import models as message_models

metadata = Base.metadata

__all__ = [
    "briefing_models",
    "call_models",
    "directory_models",
    "identity_models",
    "identity_throttle",
    "intake_models",
    "language_models",
    "ledger_store",
    "mail_models",
    "message_models",
    "metadata",
    "passkey_models",
]
