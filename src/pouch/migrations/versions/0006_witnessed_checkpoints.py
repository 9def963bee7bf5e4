"""witnessed checkpoints

The latest signed checkpoint (row 1) and the latest published one (row 2)
are kept apart, so that a checkpoint is published only once the witnesses of
the policy cosigned it; witnesses and their refusals are recorded.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("witnessing", sa.String(length=16), nullable=True))
    # What was published so far was published as signed, without witnesses.
    op.execute(
        "INSERT INTO ledger_checkpoint (id, size, root, note, published_at, witnessing) "
        "SELECT 2, size, root, note, published_at, 'unwitnessed' FROM ledger_checkpoint "
        "WHERE id = 1"
    )
    op.create_table(
        "ledger_witnesses",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("vkey", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_witnesses")),
    )
    op.create_table(
        "ledger_witness_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("alarm", sa.Boolean(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_witness_refusals")),
    )
    with op.batch_alter_table("ledger_witness_refusals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_witness_refusals_witness"), ["witness"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_witness_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_witness_refusals_witness"))
    op.drop_table("ledger_witness_refusals")
    op.drop_table("ledger_witnesses")
    op.execute("DELETE FROM ledger_checkpoint WHERE id = 2")
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.drop_column("witnessing")
