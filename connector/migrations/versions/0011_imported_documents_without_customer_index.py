"""imported_documents lose their customer_id index: nothing looks documents up by customer (figures
come from the ledger), and at a million documents its upkeep costs 5 % of an import

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_imported_documents_customer_id"), table_name="imported_documents")


def downgrade() -> None:
    op.create_index(
        op.f("ix_imported_documents_customer_id"), "imported_documents", ["customer_id"], unique=False
    )
