"""customers.bound_backends: the backends of each customer's active bindings, for the name rule

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bound_backends", sa.String(length=400), nullable=False, server_default="")
        )
        batch_op.drop_index(batch_op.f("ix_customers_name_index"))
        batch_op.create_index(
            "ix_customers_name_index_bound_backends", ["name_index", "bound_backends"], unique=False
        )
    connection = op.get_bind()
    backends: defaultdict[int, set[str]] = defaultdict(set)
    rows = connection.execute(
        sa.text("SELECT customer_id, backend FROM customer_bindings WHERE status = 'active'")
    )
    for customer_id, backend in rows:
        backends[customer_id].add(backend)
    if backends:
        connection.execute(
            sa.text("UPDATE customers SET bound_backends = :backends WHERE id = :id"),
            [
                {"id": customer_id, "backends": ",".join(sorted(names))}
                for customer_id, names in backends.items()
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_name_index_bound_backends")
        batch_op.create_index(batch_op.f("ix_customers_name_index"), ["name_index"], unique=False)
        batch_op.drop_column("bound_backends")
