"""Which mapping set is in force, remembered in the database by every process that reads the folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.sync.mapping_sets import MappingsInForce, mappings_in_force
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


BANK_EXPORT = """kind = "document"
source = "cnbank.receipts"
document = "payment"
default_currency = "CNY"

[detect]
headers = ["流水号", "交易日期", "对方户名", "金额"]

[[fields]]
target = "external_id"
source = "流水号"

[[fields]]
target = "date"
source = "交易日期"
convert = [{ name = "date", format = "%Y-%m-%d" }]

[[fields]]
target = "party_name"
source = "对方户名"

[[fields]]
target = "amount"
source = "金额"
convert = ["decimal"]
"""


def _bank_export(folder: Path, source: str) -> None:
    text = BANK_EXPORT.replace("cnbank.receipts", source)
    (folder / "export_cn_bank.toml").write_text(text, encoding="utf-8")


def _in_force(container: Container, folder: Path) -> MappingsInForce:
    with unit_of_work(container.sessions) as session:
        return mappings_in_force(session, folder)


def test_an_export_mapping_may_rename_its_source_while_nothing_was_imported_under_it(
    container: Container, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    _bank_export(folder, "cnbank.receipts")
    assert _in_force(container, folder).from_folder

    _bank_export(folder, "cnbank.payments")

    assert _in_force(container, folder).from_folder
