"""notification_inbox keeps each callback's digest (channel, the CRM's clock, operation, ids), unique:
the same callback again (Zoho's retry, or a replay) is stored and processed once

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notification_inbox", sa.Column("digest", sa.String(length=64), nullable=True))
    op.create_index("ux_notification_inbox_digest", "notification_inbox", ["digest"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_notification_inbox_digest", table_name="notification_inbox")
    with op.batch_alter_table("notification_inbox") as batch:
        batch.drop_column("digest")
