"""QuickBooks IIF files imported under the former, unkeyed ids of transactions without a TRNSID (a plain
SHA-256 of their content, the customer's name in it), imported again after the ids were keyed: on SQLite
and PostgreSQL, nothing is posted twice, and each document keeps the id it was imported under.

The former ids are pinned as the code of 930674f gave them, by the line of each transaction's TRNS (and
the place among that line's documents: a payment and the `.kept` note of its discount)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.exports.iif import IifParser
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.imports.models import ImportedDocument
from connector.imports.pipeline import import_file
from connector.sync.quarantine import Entry, list_records
from connector.sync.quarantine_retry import retry
from tests.integration.test_former_statement_ids import AsImportedBefore, Key, entries
from tests.integration.test_imports import assert_ledger_verifies
from tests.integration.test_quarantine import no_mappings

QUICKBOOKS = Path(__file__).parents[1] / "fixtures" / "exports" / "quickbooks_desktop.iif"
QUICKBOOKS_BY_PLAIN_HASH: dict[Key, str] = {
    6: "1201",  # a TRNSID: its own id, then as now
    9: "iif-aa4336c8d8024b2f1f34",
    12: "iif-77f7dfb8ee14ffeabdc0",
    21: "1210",
}
DISCOUNTED = (
    "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n"
    "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n!ENDTRNS\n"
    "TRNS\t\tINVOICE\t03/05/26\tAccounts Receivable\t杭州青禾科技\t1200.00\t1001\tMarch\n"
    "SPL\t\tINVOICE\t03/05/26\tSales\t杭州青禾科技\t-1200.00\t1001\t\n"
    "ENDTRNS\n"
    "TRNS\t\tPAYMENT\t03/20/26\tUndeposited Funds\t杭州青禾科技\t1176.00\t512\tInv 1001\n"
    "SPL\t\tPAYMENT\t03/20/26\tAccounts Receivable\t杭州青禾科技\t-1200.00\t512\t\n"
    "SPL\t\tPAYMENT\t03/20/26\tDiscounts Given\t杭州青禾科技\t24.00\t512\t\n"
    "ENDTRNS\n"
    "TRNS\t\tPAYMENT\t03/21/26\tUndeposited Funds\t杭州青禾科技\t50.00\t\t\n"
    "SPL\t\tPAYMENT\t03/21/26\tAccounts Receivable\t杭州青禾科技\t-50.00\t\t\n"
    "ENDTRNS\n"
    "TRNS\t\tPAYMENT\t03/21/26\tUndeposited Funds\t杭州青禾科技\t50.00\t\t\n"
    "SPL\t\tPAYMENT\t03/21/26\tAccounts Receivable\t杭州青禾科技\t-50.00\t\t\n"
    "ENDTRNS\n"
)
DISCOUNTED_BY_PLAIN_HASH: dict[Key, str] = {
    4: "iif-febaabfc69d231746ebd",
    (7, 1): "iif-1cecf8bffa66f5ee039d",
    (7, 2): "iif-1cecf8bffa66f5ee039d.kept",
    11: "iif-a36c5713cd670cc3c0f9",
    14: "iif-a36c5713cd670cc3c0f9#2",
}


def external_ids(container: Container) -> list[str]:
    with unit_of_work(container.sessions) as session:
        return sorted(session.scalars(select(ImportedDocument.external_id)))


@pytest.mark.parametrize(
    ("text", "currency", "former"),
    [
        pytest.param(QUICKBOOKS.read_bytes(), "USD", QUICKBOOKS_BY_PLAIN_HASH, id="fixture"),
        pytest.param(DISCOUNTED.encode(), "CNY", DISCOUNTED_BY_PLAIN_HASH, id="discount-and-repeat"),
    ],
)
def test_an_iif_file_imported_under_the_former_unkeyed_ids_imported_again_changes_nothing(
    container: Container,
    customers: dict[str, str],
    tmp_path: Path,
    text: bytes,
    currency: str,
    former: Mapping[Key, str],
) -> None:
    first, again = tmp_path / "qb.iif", tmp_path / "qb-again.iif"
    first.write_bytes(text)
    again.write_bytes(text + b"\r\n")  # exported again: other bytes, the same transactions
    parser = IifParser(currency, index_key=lambda: container.keyring.index_key)
    before = import_file(container, first, [AsImportedBefore(parser, former)])
    posted = entries(container)
    held = external_ids(container)
    assert posted
    assert set(held) <= set(former.values())

    after = import_file(container, again, [parser])

    assert after.status == "imported"
    assert after.counts["documents"] == before.counts["documents"], after.counts
    assert after.counts["unchanged"] == len(held), after.counts
    assert set(after.counts) <= {"documents", "unchanged", "quarantined"}, after.counts
    # The file's unreadable blocks, and its documents of no known customer, wait as they did.
    assert after.counts["quarantined"] == before.counts["quarantined"]
    assert entries(container) == posted
    assert external_ids(container) == held  # each keeps the id it was imported under
    assert_ledger_verifies(container)


def test_an_iif_file_imported_under_the_keyed_ids_imported_again_changes_nothing(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    first, again = tmp_path / "qb.iif", tmp_path / "qb-again.iif"
    first.write_text(DISCOUNTED, encoding="utf-8")
    again.write_text(DISCOUNTED + "\n", encoding="utf-8")
    before = import_file(container, first, container.document_parsers())
    posted = entries(container)
    stored = external_ids(container)
    assert not set(stored) & set(DISCOUNTED_BY_PLAIN_HASH.values())  # no plain hash of a name is stored

    after = import_file(container, again, container.document_parsers())

    assert after.counts["unchanged"] == after.counts["documents"] == before.counts["documents"], after.counts
    assert entries(container) == posted
    assert external_ids(container) == stored
    assert_ledger_verifies(container)


def open_records(container: Container) -> list[Entry]:
    with unit_of_work(container.sessions) as session:
        return list_records(session)


def test_a_transaction_quarantined_under_its_former_iif_id_is_one_record_that_a_retry_keeps_open(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    first, again = tmp_path / "qb.iif", tmp_path / "qb-again.iif"
    first.write_bytes(QUICKBOOKS.read_bytes())
    again.write_bytes(QUICKBOOKS.read_bytes() + b"\r\n")
    parser = IifParser("USD", index_key=lambda: container.keyring.index_key)
    import_file(container, first, [AsImportedBefore(parser, QUICKBOOKS_BY_PLAIN_HASH)])
    held = open_records(container)
    # The credit memo: no TRNSID (held under its former id) and no customer known.
    [memo] = [record.id for record in held if record.ref == "qb.iif:12"]

    import_file(container, again, [parser])
    [outcome] = retry(container, [memo], parsers=lambda: [parser], mappings=no_mappings)

    assert outcome.status == "retried", outcome
    assert outcome.resolved == []  # it failed again: it never went through
    assert memo in outcome.still_open
    now = open_records(container)
    assert [record.id for record in now] == [record.id for record in held]  # one record per transaction
    assert [record.attempts for record in now] == [3] * len(held)
