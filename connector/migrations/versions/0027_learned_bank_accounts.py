"""learned_bank_accounts: which person's decision on a waiting receipt taught a customer's payer bank
account, so later receipts from it post by themselves and `customers show` says why

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "learned_bank_accounts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("bank_account_id", BIG_ID, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("learned_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["customer_bank_accounts.id"],
            name=op.f("fk_learned_bank_accounts_bank_account_id_customer_bank_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["reconciliation_items.id"],
            name=op.f("fk_learned_bank_accounts_item_id_reconciliation_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learned_bank_accounts")),
        sa.UniqueConstraint(
            "bank_account_id", "item_id", name=op.f("uq_learned_bank_accounts_bank_account_id_item_id")
        ),
    )
    op.create_index(
        op.f("ix_learned_bank_accounts_bank_account_id"),
        "learned_bank_accounts",
        ["bank_account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_learned_bank_accounts_item_id"), "learned_bank_accounts", ["item_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_learned_bank_accounts_item_id"), table_name="learned_bank_accounts")
    op.drop_index(op.f("ix_learned_bank_accounts_bank_account_id"), table_name="learned_bank_accounts")
    op.drop_table("learned_bank_accounts")
