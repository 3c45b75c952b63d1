"""Which mapping set is in force, remembered in the database by every process that reads the folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.sync.mapping_sets import mappings_in_force
from connector.sync.models import MappingSetVersion
from tests.conftest import REPO
from tests.integration.helpers import at_once


def test_processes_seeing_a_new_mapping_set_at_once_all_go_on_and_it_is_remembered_once(
    container: Container, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    shutil.copytree(REPO / "mappings", folder)
    with (folder / "zoho_accounts.toml").open("a", encoding="utf-8") as handle:
        handle.write("# edited\n")

    def read() -> None:
        with unit_of_work(container.sessions) as session:
            assert mappings_in_force(session, folder).from_folder

    failures = at_once(read, read, read, read)

    assert failures == []
    with unit_of_work(container.sessions) as session:
        assert session.scalar(select(func.count()).select_from(MappingSetVersion)) == 1
