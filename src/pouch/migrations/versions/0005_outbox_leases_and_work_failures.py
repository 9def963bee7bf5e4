"""outbox leases and keys, work failures

A notice names the office it goes to (its endpoint is read when it is sent),
carries an idempotency key and a lease; a webhook's secret is no longer
copied into each notice. Rows the worker fails on are recorded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("office_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("secret")
    # Notices written before keys existed get one each.
    op.execute("UPDATE notifications SET key = 'n-' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_notifications_key"), ["key"])

    op.create_table(
        "work_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_failures")),
        sa.UniqueConstraint("job", "row_id", name=op.f("uq_work_failures_job")),
    )
    with op.batch_alter_table("work_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_failures_retry_at"), ["retry_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_failures_retry_at"))
    op.drop_table("work_failures")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_notifications_key"), type_="unique")
        batch_op.add_column(sa.Column("secret", sa.String(length=100), nullable=True))
        batch_op.drop_column("lease_until")
        batch_op.drop_column("office_id")
        batch_op.drop_column("key")
