"""reconciliation_items keep who paid (payer name, bank account, references) encrypted: a person deciding
a waiting receipt sees what the bank or the export said about it

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reconciliation_items", sa.Column("payer_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_items") as batch:
        batch.drop_column("payer_enc")
