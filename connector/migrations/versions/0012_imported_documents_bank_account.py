"""imported_documents remember the bank account a receipt names (a statement line's own account, a
payment's deposit account), so that the two records of one receipt pair only within one bank account,
a bank's reversal finds its line in the same account, and a statement is reconciled with its own money

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table copy): documents imported before name no account.
    op.add_column("imported_documents", sa.Column("bank_account", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imported_documents") as batch:
        batch.drop_column("bank_account")
