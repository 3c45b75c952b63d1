"""imported_documents as the models describe them on databases migrated before two migrations were
edited: bank_account becomes text where 0012 made it VARCHAR(64) (an export's account name has no
length limit), and the amount index 0008 gained afterwards (matching tier 4) is made where it is missing

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    # SQLite enforces no VARCHAR length (the column has TEXT affinity and keeps any text whole): an old
    # VARCHAR(64) there refuses nothing, and changing its declared type would copy the whole table.
    if bind.dialect.name == "postgresql":
        column = next(c for c in inspector.get_columns("imported_documents") if c["name"] == "bank_account")
        if not isinstance(column["type"], sa.Text):
            # VARCHAR to TEXT is binary-coercible on PostgreSQL: no table rewrite, only a brief lock.
            op.alter_column(
                "imported_documents",
                "bank_account",
                type_=sa.Text(),
                existing_type=column["type"],
                existing_nullable=True,
            )
    if "ix_imported_documents_amount" not in {i["name"] for i in inspector.get_indexes("imported_documents")}:
        op.create_index(
            "ix_imported_documents_amount", "imported_documents", ["amount_minor", "kind", "currency"]
        )


def downgrade() -> None:
    # Nothing to undo: revision 0022 as its migrations make it has the text column and the index already.
    pass
