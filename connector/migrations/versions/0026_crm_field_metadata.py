"""crm_field_metadata: a CRM module's field metadata per org, with when it was read, so a push spends
no API credit reading it again within the configured period

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_field_metadata",
        sa.Column("org", sa.String(length=200), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org", "module", name=op.f("pk_crm_field_metadata")),
    )


def downgrade() -> None:
    op.drop_table("crm_field_metadata")
