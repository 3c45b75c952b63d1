"""sync_runs.holder: the process a run is running in (host and pid), so that a run whose process was
killed is recorded as failed by the next process on that host

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("holder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("holder")
