"""days off and rank policy

The call desk as a realistic month tried it (issue 17): the principal's weekends
and holidays (a country, and a part of it, whose days off the principal keeps),
which comes first where two calls cannot both fit (``rank_policy``: the order of
precedence or urgency), a leader's own part of the country (its holidays: Easter
Monday in England), the leader's busy times, and windows in the leader's dates.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("principal_calendars") as table:
        table.add_column(sa.Column("days_off_country", sa.String(2), nullable=True))
        table.add_column(sa.Column("days_off_subdivision", sa.String(16), nullable=True))
        table.add_column(
            sa.Column("rank_policy", sa.String(16), nullable=False, server_default="precedence")
        )
    with op.batch_alter_table("call_requests") as table:
        table.add_column(
            sa.Column("leader_busy", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        table.add_column(
            sa.Column(
                "dates_in_leader_zone", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("people") as table:
        table.add_column(sa.Column("subdivision", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as table:
        table.drop_column("subdivision")
    with op.batch_alter_table("call_requests") as table:
        table.drop_column("dates_in_leader_zone")
        table.drop_column("leader_busy")
    with op.batch_alter_table("principal_calendars") as table:
        table.drop_column("rank_policy")
        table.drop_column("days_off_subdivision")
        table.drop_column("days_off_country")
