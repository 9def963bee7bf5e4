"""mail intake

Mail as it came (``mail_raw``: the exact bytes, once per SHA-256), each arrival
with its envelope, evidence and outcome (``inbound_mail``), the watch officers'
decisions on quarantined mail (``mail_decisions``), and what each office says of
its mail: its addresses and domains (``office_mail_addresses``), its pinned DKIM
keys (``dkim_pins``) and whether it signs everything (``office_mail_policies``).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _office_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["office_id"],
        ["offices.id"],
        name=op.f(f"fk_{table}_office_id_offices"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "mail_raw",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_mail_raw")),
    )
    op.create_table(
        "dkim_pins",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        _office_fk("dkim_pins"),
        sa.PrimaryKeyConstraint("domain", "selector", name=op.f("pk_dkim_pins")),
    )
    op.create_index(op.f("ix_dkim_pins_office_id"), "dkim_pins", ["office_id"], unique=False)
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_index", sa.BigInteger(), nullable=False),
        sa.Column("mail_from", sa.String(length=320), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("peer", sa.String(length=100), nullable=False),
        sa.Column("helo", sa.String(length=255), nullable=True),
        sa.Column("tls", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "received",
                "accepted",
                "replay",
                "quarantined",
                "rejected",
                name="mailstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("message_id_header", sa.String(length=998), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("sender_office_id", sa.Integer(), nullable=True),
        sa.Column("verdicts", sa.JSON(), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("replay_of_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["replay_of_id"],
            ["inbound_mail.id"],
            name=op.f("fk_inbound_mail_replay_of_id_inbound_mail"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_office_id"],
            ["offices.id"],
            name=op.f("fk_inbound_mail_sender_office_id_offices"),
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["mail_raw.sha256"], name=op.f("fk_inbound_mail_sha256_mail_raw")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mail")),
        sa.UniqueConstraint("received_index", name=op.f("uq_inbound_mail_received_index")),
    )
    op.create_index(
        "ix_inbound_mail_message_id", "inbound_mail", ["message_id_header"], unique=False
    )
    op.create_index(op.f("ix_inbound_mail_sha256"), "inbound_mail", ["sha256"], unique=False)
    op.create_index("ix_inbound_mail_state", "inbound_mail", ["state", "received_at"], unique=False)
    op.create_table(
        "office_mail_addresses",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        _office_fk("office_mail_addresses"),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_office_mail_addresses")),
    )
    op.create_index(
        op.f("ix_office_mail_addresses_office_id"),
        "office_mail_addresses",
        ["office_id"],
        unique=False,
    )
    op.create_table(
        "office_mail_policies",
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("require_signed", sa.Boolean(), nullable=False),
        _office_fk("office_mail_policies"),
        sa.PrimaryKeyConstraint("office_id", name=op.f("pk_office_mail_policies")),
    )
    op.create_table(
        "mail_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["inbound_mail.id"], name=op.f("fk_mail_decisions_mail_id_inbound_mail")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["users.id"], name=op.f("fk_mail_decisions_officer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_decisions")),
        sa.UniqueConstraint("ledger_index", name=op.f("uq_mail_decisions_ledger_index")),
        sa.UniqueConstraint(
            "mail_id", "officer_id", "action", name=op.f("uq_mail_decisions_mail_id")
        ),
    )
    op.create_index(op.f("ix_mail_decisions_mail_id"), "mail_decisions", ["mail_id"], unique=False)


def downgrade() -> None:
    op.drop_table("mail_decisions")
    op.drop_table("office_mail_policies")
    op.drop_table("office_mail_addresses")
    op.drop_table("inbound_mail")
    op.drop_table("dkim_pins")
    op.drop_table("mail_raw")
