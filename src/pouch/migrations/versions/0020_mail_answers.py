"""mail answers

Each automatic answer to a mail's sender, or why none was sent
(``mail_answers``): the rows the per-address and per-domain limits count.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=False),
        sa.Column("about", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("notice_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["inbound_mail.id"], name=op.f("fk_mail_answers_mail_id_inbound_mail")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_answers")),
    )
    op.create_index(op.f("ix_mail_answers_mail_id"), "mail_answers", ["mail_id"], unique=False)
    op.create_index("ix_mail_answers_address", "mail_answers", ["address", "at"], unique=False)
    op.create_index("ix_mail_answers_domain", "mail_answers", ["domain", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("mail_answers")
