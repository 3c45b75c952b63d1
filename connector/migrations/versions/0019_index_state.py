"""index_state: the version of the rules the customers' blind indexes (names, e-mails) were made by, and
a fingerprint of the index key they were made with

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_state",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_index_state")),
    )


def downgrade() -> None:
    op.drop_table("index_state")
