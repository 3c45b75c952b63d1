"""journal_entries name the imported file their voucher comes from (`imported_files.id`, which holds its
content hash): monthly exports share one file name, so the name and row alone do not say which file an
entry, its reversal and its next revision came from. Entries posted before keep none: which of the
files of that name was theirs is not recorded anywhere to fill it from.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("journal_entries") as batch:
        batch.add_column(sa.Column("voucher_file_id", BIG_ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("journal_entries") as batch:
        batch.drop_column("voucher_file_id")
