"""scale indexes

A sender office's list (its tracking page, ``/api/messages`` with its token)
is what it sent or received, newest first. With a year of letters the planner
read both halves through the offices' indexes and sorted every message of the
office before the first page (77 ms for 100,000 on SQLite, growing with the
office). Each half is now read in its order from an index, the list a merge of
the two (``messages.search``): the received half had its index
(``ix_messages_addressee_accepted``, 0013), the sent half gets its own, which
also serves what ``ix_messages_sender_office_id`` served.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_sender_accepted",
        "messages",
        ["sender_office_id", "accepted_at", "id"],
        unique=False,
    )
    op.drop_index("ix_messages_sender_office_id", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_sender_office_id", "messages", ["sender_office_id"], unique=False)
    op.drop_index("ix_messages_sender_accepted", table_name="messages")
