"""office tags

Entries become ``pouch-event/v2``: each carries a tag for every party the
event concerns. Openings keep the entry's tags and the parties; each party's
tag key and counter live in ``ledger_tag_keys``. Entries written before stay
v1, and their openings have neither.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_openings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("parties", sa.Text(), nullable=True))
    op.create_table(
        "ledger_tag_keys",
        sa.Column("party", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tag_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_from", sa.BigInteger(), nullable=False),
        sa.Column("next_counter", sa.BigInteger(), nullable=False),
        sa.Column("disclosed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("party", name=op.f("pk_ledger_tag_keys")),
    )


def downgrade() -> None:
    op.drop_table("ledger_tag_keys")
    with op.batch_alter_table("ledger_openings", schema=None) as batch_op:
        batch_op.drop_column("parties")
        batch_op.drop_column("tags")
