"""Bank reconciliation against the ledger, on SQLite and PostgreSQL: a statement imported, receipts posted
from other sources, reversals, and a statement never imported at all."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from adapters.statements.camt053 import Camt053Parser
from adapters.statements.mt940 import Mt940Parser
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.documents import DocumentParser
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.imports.statement_check import Period
from connector.imports.statement_reconcile import FileReconciliation, reconcile_file
from connector.ledger.customers import NewCustomer
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.posting import Ledger
from connector.money import Money
from connector.sync.runs import quarantine
from tests.conftest import REPO

STATEMENTS = REPO / "tests" / "fixtures" / "statements"
CAMT = STATEMENTS / "camt053_v02_two_statements.xml"
MT940 = STATEMENTS / "icbc_statement_gbk.sta"


def receipt(
    container: Container,
    external_id: str,
    amount: str,
    currency: str,
    on: date,
    *,
    bank: str | None = None,
    to: str | None = None,
    customer: str | None = None,
) -> int:
    """A receipt posted from an accounting export, not from a statement: Dr `bank` (the bank role's
    account), Cr `to` (unapplied receipts) for `customer`."""
    chart = container.settings.ledger.chart
    money = Money.of(amount, currency)
    draft = EntryDraft(
        source="zoho_books",
        external_id=external_id,
        posting_date=on,
        voucher=Voucher("payment", "payments.csv", 2),
        memo=f"receipt {external_id}",
        lines=(
            Line.debit(bank or chart.bank.code, money),
            Line.credit(to or chart.unapplied.code, money, customer),
        ),
    )
    with unit_of_work(container.sessions) as session:
        return Ledger(session).post(draft).entry_id


def reverse(container: Container, entry_id: int, on: date) -> int:
    with unit_of_work(container.sessions) as session:
        return Ledger(session).reverse(entry_id, posting_date=on).entry_id


def reconcile(container: Container, path: Path, parser: DocumentParser) -> FileReconciliation:
    with unit_of_work(container.sessions) as session:
        return reconcile_file(session, path, parser, Accounts.of(container.settings.ledger.chart), 3)


def test_an_imported_statement_matches_its_lines_and_shows_what_the_ledger_and_the_bank_lack(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        container.customers(session).create(
            NewCustomer(
                "Müller Maschinenbau GmbH & Co. KG",
                "KA",
                "DE",
                "EUR",
                bank_accounts=("DE02120300000000202051",),
            )
        )
    assert import_file(container, CAMT, [Camt053Parser()]).status == "imported"
    extra = receipt(container, "ZB-PAY-300", "300.00", "EUR", date(2026, 3, 4))
    reverse(container, receipt(container, "ZB-PAY-80", "80.00", "EUR", date(2026, 3, 4)), date(2026, 3, 4))

    result = reconcile(container, CAMT, Camt053Parser())

    euro, yen = result.statements
    assert {m.line.external_id: (m.by_import, m.import_status) for m in euro.matched} == {
        "2026030400003#1": (True, "unapplied"),
        "2026030400003#2": (True, "unapplied"),
        "2026030400003#3": (True, "unapplied"),
    }
    assert {m.line.external_id: m.reason for m in euro.missing_lines} == {
        "2026030400001": "reversed by a later line: its entry and the reversal cancel",
        "2026030400002": "money out: not a receivable, not posted",
        "2026030400004": "reverses 2026030400001 (returned receipt): the import reversed the entry of the "
        "line it cancels, this one is not posted",
    }
    assert [(m.entry.entry_id, m.entry.external_id, m.note) for m in euro.missing_entries] == [
        (extra, "ZB-PAY-300", "")
    ]  # neither the returned receipt nor the Zoho Books receipt reversed in the period is listed
    assert [(m.line.amount, m.by_import) for m in euro.other_matched] == [(Money.of("99.99", "USD"), True)]
    balances = euro.balances
    assert balances.statement_movement == Money.of("949.65", "EUR")
    assert balances.ledger_movement == Money.of(
        "1500.00", "EUR"
    )  # 1,200 still received + 300 from Zoho Books
    assert balances.explained == balances.difference == Money.of("-550.35", "EUR")
    assert balances.self_check == Money.zero("EUR")
    assert [p.reason for p in euro.unreadable][:1] == ["pending entry, not booked"]
    assert (euro.reconciles, yen.reconciles, result.reconciles) == (True, True, True)
    assert [m.how for m in yen.matched] == ["imported from this statement"]


def test_a_statement_never_imported_finds_receipts_from_other_sources_by_amount_and_date(
    container: Container,
) -> None:
    near = receipt(container, "ZB-PAY-58000", "58000.00", "CNY", date(2026, 3, 11))
    receipt(container, "ZB-PAY-OLD", "10.00", "CNY", date(2026, 3, 9))  # the previous statement's day
    reversed_later = receipt(container, "ZB-PAY-77", "77.00", "CNY", date(2026, 3, 10))
    later = reverse(container, reversed_later, date(2026, 3, 12))
    earlier = receipt(container, "ZB-PAY-55", "55.00", "CNY", date(2026, 3, 5))
    reversal = reverse(container, earlier, date(2026, 3, 10))
    with unit_of_work(container.sessions) as session:
        quarantine(session, container.cipher, None, "mt940", f"{MT940.name}:9", {}, "no customer for it")

    (report,) = reconcile(container, MT940, Mt940Parser()).statements

    assert report.period == Period(date(2026, 3, 10), date(2026, 3, 10))  # MT940: the day after 60F
    assert [(m.entry.entry_id, m.how) for m in report.matched] == [(near, "amount and date (±1 day)")]
    assert not report.matched[0].in_period
    assert sorted(m.reason for m in report.missing_lines) == [
        "money out: not a receivable, never imported",
        "quarantined: no customer for it",
    ]
    assert {m.entry.entry_id: m.note for m in report.missing_entries} == {
        reversed_later: f"reversed by entry {later} on 2026-03-12, outside the period",
        reversal: f"reverses entry {earlier} of 2026-03-05, outside the period",
    }
    balances = report.balances
    assert balances.ledger_movement == Money.of("22.00", "CNY")  # 77 received, 55 reversed
    assert balances.timing == Money.of("58000.00", "CNY")
    assert balances.unexplained == Money.zero("CNY")
    assert report.reconciles
