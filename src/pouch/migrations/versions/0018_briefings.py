"""briefings: a call's run and papers

A call's record (state, logistics), its steps, its participants and their
check-ins; its papers (briefing, memcon) with every version; the packets issued
when a briefing is cleared (the PDF and its SHA-256). Self-contained: only new
tables, referring to call_requests and users.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 20:16:34.567188
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The call's run is on the call-day sheet: its writes notify ``pouch_calls`` too (0015).
NOTIFYING = ("call_records", "call_steps", "call_participants")


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "scheduled",
                "confirmed",
                "placing",
                "connected",
                "completed",
                "missed",
                "rescheduled",
                "cancelled",
                name="callstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "mode",
            sa.Enum("phone", "video", name="mode", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("placed_by", sa.String(length=8), nullable=False),
        sa.Column("follow_up_request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_request_id"],
            ["call_requests.id"],
            name=op.f("fk_call_records_follow_up_request_id_call_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["call_requests.id"],
            name=op.f("fk_call_records_request_id_call_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_records")),
        sa.UniqueConstraint("request_id", name=op.f("uq_call_records_request_id")),
    )
    op.create_table(
        "briefing_packets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("briefing_version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_by_user_id", sa.Integer(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cleared_by_user_id"],
            ["users.id"],
            name=op.f("fk_briefing_packets_cleared_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["call_records.id"],
            name=op.f("fk_briefing_packets_record_id_call_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefing_packets")),
        sa.UniqueConstraint("record_id", "number", name="uq_briefing_packet"),
    )
    with op.batch_alter_table("briefing_packets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_briefing_packets_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "call_papers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "clearance",
            sa.Enum(
                "draft",
                "submitted",
                "returned",
                "cleared",
                name="clearance",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.Column("cleared_sha256", sa.String(length=64), nullable=True),
        sa.Column("cleared_version", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["call_records.id"],
            name=op.f("fk_call_papers_record_id_call_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_papers")),
        sa.UniqueConstraint("record_id", "kind", name="uq_call_paper"),
    )
    with op.batch_alter_table("call_papers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_papers_record_id"), ["record_id"], unique=False)

    op.create_table(
        "call_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "interpreter",
                "notetaker",
                "clearing",
                name="participantkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("designated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_in_ledger_index", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["call_records.id"],
            name=op.f("fk_call_participants_record_id_call_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_participants_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_participants")),
        sa.UniqueConstraint("record_id", "user_id", "kind", name="uq_call_participant"),
    )
    with op.batch_alter_table("call_participants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_participants_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "call_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "scheduled",
                "confirmed",
                "placing",
                "connected",
                "completed",
                "missed",
                "rescheduled",
                "cancelled",
                name="callstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "scheduled",
                "confirmed",
                "placing",
                "connected",
                "completed",
                "missed",
                "rescheduled",
                "cancelled",
                name="callstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_call_steps_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["call_records.id"],
            name=op.f("fk_call_steps_record_id_call_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_steps")),
    )
    with op.batch_alter_table("call_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_steps_record_id"), ["record_id"], unique=False)

    op.create_table(
        "call_paper_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_call_paper_versions_author_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["call_papers.id"],
            name=op.f("fk_call_paper_versions_paper_id_call_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_paper_versions")),
        sa.UniqueConstraint("paper_id", "number", name="uq_call_paper_version"),
    )
    with op.batch_alter_table("call_paper_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_paper_versions_paper_id"), ["paper_id"], unique=False
        )
    if op.get_context().dialect.name == "postgresql":
        for table in NOTIFYING:
            op.execute(
                f"""CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION pouch_calls_notify()"""
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in NOTIFYING:
            op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    with op.batch_alter_table("call_paper_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_paper_versions_paper_id"))

    op.drop_table("call_paper_versions")
    with op.batch_alter_table("call_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_steps_record_id"))

    op.drop_table("call_steps")
    with op.batch_alter_table("call_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_participants_record_id"))

    op.drop_table("call_participants")
    with op.batch_alter_table("call_papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_papers_record_id"))

    op.drop_table("call_papers")
    with op.batch_alter_table("briefing_packets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_briefing_packets_record_id"))

    op.drop_table("briefing_packets")
    op.drop_table("call_records")
