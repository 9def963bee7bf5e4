"""reply index

A message's page lists its replies (``in_reply_to_id``), which no index served:
with a year of letters, every view of a message read the whole table. Found by
the query-plan test (tests/messages/test_query_plans.py).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 20:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_in_reply_to", "messages", ["in_reply_to_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_in_reply_to", table_name="messages")
