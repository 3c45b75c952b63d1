"""export_sources: the source each export mapping file served in a valid set, filled from the sets kept,
so that a file renaming its source (half of each document's idempotency key) is refused while documents
are imported under the old one

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import PurePath

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "export_sources",
        sa.Column("stem", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("first_valid_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stem", "source"),
    )
    seen: set[tuple[str, str]] = set()
    for (files_json,) in op.get_bind().execute(sa.text("SELECT files_json FROM mapping_set_versions")):
        for name, text in json.loads(files_json).items():
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                continue  # a set was kept only when every file parsed: never so
            source = data.get("source")
            if data.get("kind") in ("document", "voucher") and isinstance(source, str):
                seen.add((PurePath(name).stem, source))
    now = datetime.now(UTC)
    rows = [{"stem": stem, "source": source, "first_valid_at": now} for stem, source in sorted(seen)]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("export_sources")
