"""The SQLite database the connector makes is this user's alone, as the key file is."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

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


def _opened(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:Selection of the SingletonThreadPool")
def test_a_shared_in_memory_database_named_by_a_uri_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _opened("sqlite:///file:memdb1?mode=memory&cache=shared&uri=true")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options", ["mode=ro", "mode=rw"])
def test_a_missing_file_a_uri_opens_without_making_it_is_sqlites_own_error_and_none_is_made(
    tmp_path: Path, options: str
) -> None:
    with pytest.raises(OperationalError, match="unable to open database file"):
        _opened(f"sqlite:///file:{tmp_path / 'uri.db'}?{options}&uri=true")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("open_umask")
@pytest.mark.parametrize(
    "name", ["file:{folder}/my%2520ledger.db", "file://localhost{folder}/my%2520ledger.db"]
)
def test_a_database_file_a_uri_names_is_made_mode_0600_where_sqlite_opens_it(
    tmp_path: Path, name: str
) -> None:
    # The URL's %25 is SQLAlchemy's escape of the %, the URI's %20 SQLite's of the space.
    _opened(f"sqlite:///{name.format(folder=tmp_path)}?mode=rwc&uri=true")
    assert {path.name: mode_of(path) for path in tmp_path.iterdir()} == {"my ledger.db": 0o600}
