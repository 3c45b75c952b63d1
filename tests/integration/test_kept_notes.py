"""A QuickBooks IIF payment that took a discount: the `.kept` credit note of the discount lives and dies
with its payment, on SQLite and PostgreSQL (`connector.imports.kept_notes`)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.imports.corrections import Reversal, reverse_entry
from connector.imports.models import ImportedDocument
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.money import Money
from tests.integration.test_imports import QINGHE_IIF, assert_ledger_verifies, in_batches_of, receivable


def exported(tmp_path: Path, name: str, discount: str | None, *, again: bool = False) -> Path:
    """An IIF export of invoice 1001 (1,200.00) and payment 301 settling it, `discount` of it taken off
    (the rest deposited), or none; `again`: in other bytes (Windows line ends), the same content."""
    paid = "1200.00" if discount is None else f"{1200 - int(discount)}.00"
    text = (
        QINGHE_IIF.format(name="杭州青禾科技")
        + f"TRNS\t301\tPAYMENT\t03/20/26\tUndeposited Funds\t杭州青禾科技\t{paid}\t512\tInv 1001\n"
        + "SPL\t302\tPAYMENT\t03/20/26\tAccounts Receivable\t杭州青禾科技\t-1200.00\t512\t\n"
        + (
            f"SPL\t303\tPAYMENT\t03/20/26\tDiscounts Given\t杭州青禾科技\t{discount}.00\t512\t\n"
            if discount
            else ""
        )
        + "ENDTRNS\n"
    )
    path = tmp_path / name
    path.write_text(text.replace("\n", "\r\n") if again else text, encoding="utf-8", newline="")
    return path


def imported(container: Container, path: Path) -> Counter[str]:
    """What importing `path` did (a count it did not make is 0)."""
    return Counter(import_file(container, path, container.document_parsers()).counts)


def records(container: Container) -> dict[str, tuple[str, int]]:
    """External id → (status, amount) of the payment and its `.kept` note."""
    with unit_of_work(container.sessions) as session:
        found = session.scalars(
            select(ImportedDocument).where(ImportedDocument.external_id.startswith("301"))
        )
        return {d.external_id: (d.status, d.amount_minor) for d in found}


def reverse_payment(container: Container) -> Reversal:
    with unit_of_work(container.sessions) as session:
        entry_id = session.scalars(
            select(ImportedDocument.entry_id).where(ImportedDocument.external_id == "301")
        ).one()
        assert entry_id is not None
        return reverse_entry(
            session,
            entry_id,
            date(2026, 3, 25),
            "bounced",
            "finance",
            container.cipher,
            Accounts.of(container.settings.ledger.chart),
            matching=container.settings.imports.matching,
        )


def test_an_iif_payment_exported_again_without_its_discount_no_longer_credits_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    assert imported(container, exported(tmp_path, "a.iif", "24"))["credit_notes_posted"] == 1

    changed = imported(container, exported(tmp_path, "b.iif", None))

    assert (changed["payments_posted"], changed["reposted"], changed["kept_notes_reversed"]) == (1, 1, 1)
    assert receivable(container, qinghe) == Money.zero("CNY")  # paid 1,200.00 of 1,200.00: no credit
    assert records(container) == {"301": ("posted", 120000), "301.kept": ("changed", 2400)}
    again = imported(container, exported(tmp_path, "c.iif", None, again=True))
    assert (again["unchanged"], again["kept_notes_reversed"]) == (2, 0)
    assert_ledger_verifies(container)


@pytest.mark.parametrize("batch_size", [10_000, 1])
def test_an_iif_discount_given_again_in_a_later_export_is_credited_again(
    container: Container,
    customers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_size: int,
) -> None:
    in_batches_of(batch_size, container, monkeypatch)  # 1: the payment and its note in two batches
    imported(container, exported(tmp_path, "a.iif", "24"))
    imported(container, exported(tmp_path, "b.iif", None))

    back = imported(container, exported(tmp_path, "c.iif", "24", again=True))

    assert (back["payments_posted"], back["credit_notes_posted"]) == (1, 1)
    assert receivable(container, customers["qinghe"]) == Money.zero("CNY")
    assert records(container) == {"301": ("posted", 117600), "301.kept": ("posted", 2400)}
    ended = exported(tmp_path, "d.iif", "24")
    ended.write_text(ended.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # the same, one line longer
    assert imported(container, ended)["unchanged"] == 3
    assert receivable(container, customers["qinghe"]) == Money.zero("CNY")
    assert_ledger_verifies(container)


def test_reversing_an_iif_payment_reverses_its_discount_with_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    imported(container, exported(tmp_path, "a.iif", "24"))
    with unit_of_work(container.sessions) as session:
        note = session.scalars(
            select(ImportedDocument.entry_id).where(ImportedDocument.external_id == "301.kept")
        ).one()

    reversal = reverse_payment(container)

    [kept] = reversal.kept
    assert (kept.external_id, kept.entry_id) == ("301.kept", note)
    assert receivable(container, customers["qinghe"]) == Money.of("1200.00", "CNY")  # credited nothing
    assert records(container) == {"301": ("reversed", 117600), "301.kept": ("reversed", 2400)}
    again = imported(container, exported(tmp_path, "b.iif", "20"))  # edited since: both stay reversed
    assert (again["kept_reversed"], again["credit_notes_posted"], again["payments_posted"]) == (2, 0, 0)
    assert receivable(container, customers["qinghe"]) == Money.of("1200.00", "CNY")
    assert_ledger_verifies(container)


def test_a_reversed_iif_payment_exported_later_with_a_discount_credits_none_of_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    imported(container, exported(tmp_path, "a.iif", None))
    assert reverse_payment(container).kept == ()

    later = imported(container, exported(tmp_path, "b.iif", "24"))

    assert (later["kept_reversed"], later["credit_notes_posted"]) == (2, 0)
    assert receivable(container, customers["qinghe"]) == Money.of("1200.00", "CNY")
    assert records(container) == {"301": ("reversed", 117600), "301.kept": ("reversed", 2400)}
    assert imported(container, exported(tmp_path, "c.iif", "24", again=True))["unchanged"] == 3
    assert_ledger_verifies(container)
