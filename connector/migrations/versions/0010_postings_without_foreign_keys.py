"""postings keep their references without database foreign keys: the ledger resolves them before
writing, and verify reports a posting whose entry, account or customer is missing

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    ("fk_postings_entry_id_journal_entries", "journal_entries", "entry_id", "id"),
    ("fk_postings_account_code_ledger_accounts", "ledger_accounts", "account_code", "code"),
    ("fk_postings_customer_id_customers", "customers", "customer_id", "id"),
)


def upgrade() -> None:
    with op.batch_alter_table("postings") as batch:
        for name, _, _, _ in FOREIGN_KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("postings") as batch:
        for name, parent, column, parent_column in FOREIGN_KEYS:
            batch.create_foreign_key(name, parent, [column], [parent_column])
