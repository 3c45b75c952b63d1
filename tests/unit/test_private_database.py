"""The SQLite database the connector makes is this user's alone, as the key file is."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from connector.db import make_engine, upgrade_database


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets group and others read what is made (a common default)."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("open_umask")
def test_a_database_file_the_connector_makes_and_its_wal_and_shm_files_are_mode_0600(tmp_path: Path) -> None:
    database = tmp_path / "connector.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade_database(engine)
        with engine.connect() as connection:  # open: its -wal and -shm files are there
            connection.execute(text("SELECT 1"))
            made = [database, tmp_path / "connector.db-wal", tmp_path / "connector.db-shm"]
            assert {path.name: mode_of(path) for path in made} == {path.name: 0o600 for path in made}
    finally:
        engine.dispose()


@pytest.mark.usefixtures("open_umask")
def test_the_mode_an_admin_gave_an_existing_database_file_is_kept(tmp_path: Path) -> None:
    database = tmp_path / "connector.db"
    database.touch()
    database.chmod(0o640)  # shared with the group that backs it up
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()
    assert mode_of(database) == 0o640
