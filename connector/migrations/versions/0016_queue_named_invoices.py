"""reconciliation_items keep the invoices their receipt names (JSON list of [invoice number, at most how
much]): a person's application settles those first, as an automatic one does

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reconciliation_items") as batch:
        batch.add_column(sa.Column("named_json", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_items") as batch:
        batch.drop_column("named_json")
