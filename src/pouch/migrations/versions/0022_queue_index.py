"""queue index

The watch floor's queue (``state`` accepted or held) in its order, one
precedence at a time, nearest deadline first. It was read along
``ix_messages_precedence`` with the state as a filter: with a year of letters,
nearly all delivered, the routine part walked every routine message of the
year to find the few still queued (153 ms p95 at 100,000 on SQLite, growing
with the year). Each state is now read apart (``messages.search.queue``) from
this index, which holds the queue's few rows at its front.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 23:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_queue",
        "messages",
        ["state", "precedence", "deliver_by", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_queue", table_name="messages")
