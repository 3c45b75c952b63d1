"""Alembic environment: runs against the engine handed over in `config.attributes["engine"]`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import connector.imports.models
import connector.ledger.models
import connector.master.models
import connector.security.models
import connector.sync.models
import connector.sync.notification_models  # noqa: F401
from connector.db import Base

# Processes starting together (daemon replicas, an import beside them) would each read the revision and
# run the same DDL: on PostgreSQL one waits here for the other's transaction and then finds the schema
# current. (SQLite's BEGIN IMMEDIATE takes its write lock up front already.)
MIGRATION_LOCK = 0x636F6E6E6563  # pg_advisory_xact_lock's key: "connec" in ASCII

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
