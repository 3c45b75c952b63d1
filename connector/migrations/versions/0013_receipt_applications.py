"""receipt_applications: the invoices a receipt names, which aging settles with it before the others
(oldest first is for what a receipt does not name)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "receipt_applications",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("invoice_number", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_receipt_applications_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_receipt_applications_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_applications")),
    )
    op.create_index(
        op.f("ix_receipt_applications_customer_id"), "receipt_applications", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_receipt_applications_customer_id"), table_name="receipt_applications")
    op.drop_table("receipt_applications")
