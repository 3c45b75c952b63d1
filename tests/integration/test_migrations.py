from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from connector.bootstrap import Container
from connector.db import Base, current_revision, upgrade_database


def test_the_migrations_create_exactly_the_schema_the_models_describe(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_is_a_no_op(container: Container) -> None:
    before = current_revision(container.engine)
    upgrade_database(container.engine)
    assert current_revision(container.engine) == before == "0005"
