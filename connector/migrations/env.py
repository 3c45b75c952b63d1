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

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
