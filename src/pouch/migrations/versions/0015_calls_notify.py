"""calls notify

On PostgreSQL, every statement that writes the call desk (a request, a run of the
scheduler and its calls) notifies the channel ``pouch_calls``: the call-day sheets
of every process read the desk again at once instead of at their next poll
(``calls.live``). Once per statement, with no payload: nothing of a call travels on
the channel. SQLite has no channel: its sheets poll.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The tables the call-day sheet is drawn from (``calls.live.stamp``).
TABLES = ("call_requests", "schedule_runs", "scheduled_calls")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        """CREATE FUNCTION pouch_calls_notify() RETURNS TRIGGER LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('pouch_calls', '');
            RETURN NULL;
        END $$"""
    )
    for table in TABLES:
        op.execute(
            f"""CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION pouch_calls_notify()"""
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("DROP FUNCTION pouch_calls_notify()")
