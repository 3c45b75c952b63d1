"""sync cursors, push outbox, API credit spending

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_cursors",
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at_position", sa.Text(), nullable=False),
        sa.Column("deletions_position", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deletions_seen", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("backend", "stream", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "outbox",
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("desired_json", sa.Text(), nullable=False),
        sa.Column("desired_hash", sa.String(length=64), nullable=False),
        sa.Column("planned_from", sa.String(length=64), nullable=True),
        sa.Column("pushed_hash", sa.String(length=64), nullable=True),
        sa.Column("pushed_json", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_code", sa.String(length=100), nullable=True),
        sa.Column("last_field", sa.String(length=200), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("last_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_outbox_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"], ["sync_runs.id"], name=op.f("fk_outbox_last_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("target", "external_id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_customer_id"), "outbox", ["customer_id"], unique=False)
    op.create_table(
        "api_credit_spend",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "hour", name=op.f("pk_api_credit_spend")),
    )


def downgrade() -> None:
    op.drop_table("api_credit_spend")
    op.drop_index(op.f("ix_outbox_customer_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("sync_cursors")
