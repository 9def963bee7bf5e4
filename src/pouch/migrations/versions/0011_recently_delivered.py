"""recently delivered

The watch floor lists the messages delivered in the last 24 hours: an index on
``messages.delivered_at`` keeps that a range read however many messages there are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_delivered_at", "messages", ["delivered_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_delivered_at", table_name="messages")
