"""list orders

An office's inbox is read newest first: an index on ``messages (addressee_office_id,
accepted_at, id)`` reads its first page in order, without sorting every message the
office ever received (``messages.search``). It replaces the index on the office alone,
of which it is an extension. The watch floor's order, most urgent first, is read one
precedence at a time by deadline: an index on ``messages (precedence, deliver_by, id)``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 18:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_addressee_accepted",
        "messages",
        ["addressee_office_id", "accepted_at", "id"],
        unique=False,
    )
    op.drop_index("ix_messages_addressee_office_id", table_name="messages")
    op.create_index(
        "ix_messages_precedence", "messages", ["precedence", "deliver_by", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_messages_precedence", table_name="messages")
    op.create_index(
        "ix_messages_addressee_office_id", "messages", ["addressee_office_id"], unique=False
    )
    op.drop_index("ix_messages_addressee_accepted", table_name="messages")
