"""where an imported file's bytes are kept; who resolved a quarantined record, when and how;
imported documents by amount (matching tier 4)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imported_files") as batch:
        batch.add_column(sa.Column("stored_path", sa.Text(), nullable=True))
    op.create_index(
        "ix_imported_documents_amount", "imported_documents", ["amount_minor", "kind", "currency"]
    )
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("resolution", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("resolution")
        batch.drop_column("resolved_by")
        batch.drop_column("resolved_at")
    op.drop_index("ix_imported_documents_amount", table_name="imported_documents")
    with op.batch_alter_table("imported_files") as batch:
        batch.drop_column("stored_path")
