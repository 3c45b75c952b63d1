"""Shared fixtures: a migrated SQLite file and a migrated PostgreSQL schema, reset before each test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from connector.bootstrap import Container, build_container
from connector.db import Base, make_engine, unit_of_work, upgrade_database
from connector.ledger.chart import ensure_chart
from connector.settings import DatabaseSettings, SecuritySettings, Settings

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("CONNECTOR_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@dataclass
class LedgerDatabase:
    """A migrated database shared by a test session; `reset()` empties it between tests."""

    container: Container
    drop: bool = False

    def reset(self) -> None:
        tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
        with unit_of_work(self.container.sessions) as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    session.execute(text(f"DELETE FROM {table}"))
            ensure_chart(session, self.container.settings.ledger.chart)


def _settings(url: str, keys_dir: Path) -> Settings:
    return Settings(
        database=DatabaseSettings(url=SecretStr(url)),
        security=SecuritySettings(keys_file=keys_dir / "keys.json"),
    )


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerDatabase]:
    directory = tmp_path_factory.mktemp("sqlite")
    container = build_container(_settings(f"sqlite:///{directory / 'ledger.db'}", directory), logging=False)
    yield LedgerDatabase(container)
    container.close()


@pytest.fixture(scope="session")
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerDatabase]:
    url = postgres_url()
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(plain, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {url} is unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    directory = tmp_path_factory.mktemp("postgres")
    container = build_container(
        _settings(f"{url}{separator}options=-csearch_path%3D{schema}", directory), logging=False
    )
    try:
        yield LedgerDatabase(container)
    finally:
        container.close()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> LedgerDatabase:
    """Each ledger test runs on SQLite and on PostgreSQL, starting from an empty ledger."""
    found: LedgerDatabase = request.getfixturevalue(f"{request.param}_database")
    found.reset()
    return found


@pytest.fixture
def container(database: LedgerDatabase) -> Container:
    return database.container


@pytest.fixture
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory with no CONNECTOR_* variables leaking in from the environment."""
    for name in list(os.environ):
        if name.startswith("CONNECTOR_") and name != "CONNECTOR_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


REPO = Path(__file__).resolve().parents[1]


def copy_example_config(destination: Path, *, ledger: bool = True) -> Path:
    """The shipped config.example.toml and mappings/ folder, as an admin would start from them, and with
    `ledger` the database its default URL names set up as `connector db upgrade` sets it up."""
    target = destination / "config.toml"
    shutil.copy(REPO / "config.example.toml", target)
    shutil.copytree(REPO / "mappings", destination / "mappings", dirs_exist_ok=True)
    if ledger:
        set_up_ledger(destination / "connector.db")
    return target


def set_up_ledger(database: Path) -> None:
    """The SQLite ledger at `database`, set up as `connector db upgrade` sets it up."""
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()
