"""sync_runs.progress_at: when a run last showed it was going (a batch committed, its lease renewed), so
that a run whose process died is recorded as ending then, not when another process noticed; and an index
of the runs by status and holder, which each lease renewal and each job run look up

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_sync_runs_status_holder", "sync_runs", ["status", "holder"])


def downgrade() -> None:
    op.drop_index("ix_sync_runs_status_holder", table_name="sync_runs")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("progress_at")
