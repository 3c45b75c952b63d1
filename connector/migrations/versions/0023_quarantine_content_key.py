"""quarantine.content_key: a keyed hash of a quarantined file row's text and document id, so that the
same bad row brought back by a file of another name or encoding is found as the record it is, not kept
again beside it. Records kept before have none until their row is seen again under their own name.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("quarantine", sa.Column("content_key", sa.String(length=32), nullable=True))
    op.create_index("ix_quarantine_source_content_key", "quarantine", ["source", "content_key"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_source_content_key", table_name="quarantine")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("content_key")
