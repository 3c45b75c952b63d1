"""a receipt recorded twice (a bank line and the accounting system's payment for the same money) is
linked to the document that posted it

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imported_documents") as batch:
        batch.add_column(sa.Column("linked_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")))
        batch.create_foreign_key(
            "fk_imported_documents_linked_id_imported_documents", "imported_documents", ["linked_id"], ["id"]
        )
        batch.create_index("ix_imported_documents_linked_id", ["linked_id"])


def downgrade() -> None:
    with op.batch_alter_table("imported_documents") as batch:
        batch.drop_index("ix_imported_documents_linked_id")
        batch.drop_constraint("fk_imported_documents_linked_id_imported_documents", type_="foreignkey")
        batch.drop_column("linked_id")
