"""step notify

On PostgreSQL, every statement that writes steps of messages (``message_events``)
notifies the channel ``pouch_steps``: the live feeds of every process read the new
steps at once instead of at their next poll (``messages.live``). Once per
statement and with no payload, so that a group commit of hundreds of steps is one
notification, and nothing of a message travels on the channel. SQLite has no
channel: its feeds poll.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        """CREATE FUNCTION pouch_steps_notify() RETURNS TRIGGER LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('pouch_steps', '');
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER message_events_notify AFTER INSERT ON message_events
        FOR EACH STATEMENT EXECUTE FUNCTION pouch_steps_notify()"""
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER message_events_notify ON message_events")
    op.execute("DROP FUNCTION pouch_steps_notify()")
