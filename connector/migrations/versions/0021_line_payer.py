"""imported_documents.payer_enc: what a bank line said of its payer (name, bank account, references),
encrypted, so that a bank's return naming its payer is told apart from another payer's receipt of the
same amount however the line was posted

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("imported_documents", sa.Column("payer_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imported_documents") as batch:
        batch.drop_column("payer_enc")
