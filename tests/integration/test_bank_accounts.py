"""Bank accounts kept apart (`ledger.chart.bank_accounts`), on SQLite and PostgreSQL: receipts into one
post to its own ledger account, its statements reconcile against that account alone, and its receipts
count in the customers' figures like any other."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update

from adapters.statements.camt053 import Camt053Parser
from connector.bootstrap import Container
from connector.cli.statement_report import reconciliation_json, reconciliation_text
from connector.credit.figures import customer_figures
from connector.db import unit_of_work
from connector.errors import ConfigError
from connector.imports.models import ImportedDocument
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.imports.statement_reconcile import reconcile_file
from connector.ledger.chart import ensure_chart
from connector.ledger.customers import NewCustomer
from connector.ledger.models import AccountBalance, LedgerAccount
from connector.money import Money
from connector.settings import BankAccount, ChartSettings
from connector.sync.models import QuarantinedRecord
from connector.sync.quarantine_retry import retry
from tests.conftest import REPO
from tests.integration.test_imports import PARSERS, JsonLines, assert_ledger_verifies, no_mapping_set, write
from tests.integration.test_reconciliation_queue import auto_post_tiers
from tests.integration.test_same_receipt import line, payment, statuses
from tests.integration.test_statement_reconcile import (
    IBAN,
    camt_file,
    entry_xml,
    receipt,
    reverse,
    statement_xml,
)

CAMT = REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml"
EURO_ACCOUNT = "DE89 3704 0044 0532 0130 00"  # the fixture's EUR statement; its JPY one is not kept apart


def keep_apart(
    container: Container, monkeypatch: pytest.MonkeyPatch, *accounts: BankAccount
) -> ChartSettings:
    settings = container.settings
    chart = settings.ledger.chart.model_copy(update={"bank_accounts": list(accounts)})
    ledger = settings.ledger.model_copy(update={"chart": chart})
    monkeypatch.setattr(container, "settings", settings.model_copy(update={"ledger": ledger}))
    with unit_of_work(container.sessions) as session:
        ensure_chart(session, chart)
    return chart


def test_a_statement_of_an_account_kept_apart_posts_there_and_reconciles_against_it_alone(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = keep_apart(
        container, monkeypatch, BankAccount(code="100201", name="EUR 基本户", numbers=[EURO_ACCOUNT])
    )
    euro_code, general = "100201", chart.bank.code
    assert import_file(container, CAMT, [Camt053Parser()]).status == "imported"
    # Another account's receipt, posted to the bank role's account: not this statement's to miss.
    receipt(container, "P-1", "300.00", "EUR", date(2026, 3, 4))

    with unit_of_work(container.sessions) as session:
        balances = {
            (row.account_code, row.currency): row.balance_minor
            for row in session.scalars(select(AccountBalance))
        }
        account = session.get_one(LedgerAccount, euro_code)
        assert (account.name, account.kind, account.role, account.per_customer) == (
            "EUR 基本户",
            "asset",
            None,
            False,
        )
        euro, yen = reconcile_file(
            session, CAMT, Camt053Parser(), Accounts.of(chart), 3, lambda: container.cipher
        ).statements

    assert balances[(euro_code, "EUR")] == 120_000  # the statement's receipts still standing
    assert balances[(general, "EUR")] == 30_000  # the export's receipt alone
    assert balances[(general, "JPY")] > 0  # the JPY statement's account is not kept apart
    assert (euro.ledger_account, yen.ledger_account) == (euro_code, general)
    assert euro.missing_entries == ()
    assert euro.balances.ledger_movement == Money.of("1200.00", "EUR")
    assert euro.balances.difference == euro.balances.explained == Money.of("-250.35", "EUR")  # money out
    assert euro.reconciles
    assert yen.reconciles
    assert_ledger_verifies(container)


def test_a_receipt_in_another_currency_into_an_account_kept_apart_is_missing_from_its_statement_apart(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chart = keep_apart(container, monkeypatch, BankAccount(code="100201", name="EUR", numbers=[IBAN]))
    dollars = receipt(container, "P-USD", "300.00", "USD", date(2026, 3, 10), bank="100201")
    receipt(container, "P-GBP", "40.00", "GBP", date(2026, 3, 10))  # the bank role's: another account's
    march = statement_xml("MAR", 3, "0.00", "100.00", entry_xml("M1", "100.00", "2026-03-02"))

    with unit_of_work(container.sessions) as session:
        result = reconcile_file(
            session,
            camt_file(tmp_path / "mar.xml", march),
            Camt053Parser(),
            Accounts.of(chart),
            3,
            lambda: container.cipher,
        )

    (euro,) = result.statements
    assert [(m.entry.entry_id, m.entry.amount) for m in euro.other_missing_entries] == [
        (dollars, Money.of("300.00", "USD"))
    ]
    assert euro.missing_entries == ()
    assert euro.other_currencies == ("USD",)
    assert euro.reconciles  # in EUR, the statement's currency: the only one it states balances in
    text = reconciliation_text(result)
    assert (
        "  Ledger entries in other currencies than EUR missing from the bank, kept out of the balances (1)"
        in text
    )
    assert text[-1] == (
        "mar.xml: every statement reconciles in its own currency; USD not checked (kept out of the balances)"
    )
    as_json = reconciliation_json(result)
    assert as_json["unchecked_currencies"] == ["USD"]
    (missing,) = as_json["statements"][0]["other_currencies"]["missing_from_bank"]
    assert (missing["entry_id"], missing["amount"]["amount"]) == (dollars, "300.00")


def test_a_receipt_whose_account_is_not_known_matches_the_line_of_the_account_kept_apart(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = keep_apart(container, monkeypatch, BankAccount(code="100201", name="EUR", numbers=[EURO_ACCOUNT]))
    # The statement's 450 EUR line of 2026-03-04 (never imported) and the export's receipt of the same
    # money, posted to the bank role's account: they match, and the receipt counts for this statement.
    # The export's 77 EUR receipt matches no line: it may be another account's, so it is not missing.
    paid = receipt(container, "P-450", "450.00", "EUR", date(2026, 3, 4))
    receipt(container, "P-77", "77.00", "EUR", date(2026, 3, 4))

    with unit_of_work(container.sessions) as session:
        euro, _ = reconcile_file(
            session, CAMT, Camt053Parser(), Accounts.of(chart), 3, lambda: container.cipher
        ).statements

    matched = {m.entry.entry_id: m.how for m in euro.matched}
    assert matched.get(paid, "").startswith("amount and date")
    assert euro.balances.ledger_movement == Money.of("450.00", "EUR")
    assert euro.missing_entries == ()


def test_receipts_into_an_account_kept_apart_count_in_the_customers_figures(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = keep_apart(
        container, monkeypatch, BankAccount(code="100202", name="CNY 一般户", numbers=["6222 0000 1111"])
    )
    with unit_of_work(container.sessions) as session:
        customer = container.customers(session).create(
            NewCustomer("上海明远贸易有限公司", "SME", "SH", "CNY")
        )
    to, who = chart.advances.code, customer.account_no
    receipt(container, "P-9", "880.00", "CNY", date(2026, 5, 6), bank="100202", to=to, customer=who)

    with unit_of_work(container.sessions) as session:
        figures = customer_figures(
            session, [customer.id], date(2026, 5, 31), chart, container.settings.credit
        )
    assert figures[customer.id]["last_payment_date"] == date(2026, 5, 6)
    assert figures[customer.id]["last_payment_amount"] == Money.of("880.00", "CNY").amount


def test_a_bank_account_code_the_ledger_uses_for_something_else_is_refused(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(container.sessions) as session:
        session.add(LedgerAccount(code="1403", name="Raw materials", kind="asset", per_customer=True))
    with pytest.raises(ConfigError) as refused:
        keep_apart(container, monkeypatch, BankAccount(code="1403", name="EUR", numbers=[EURO_ACCOUNT]))
    assert refused.value.problems == [
        "ledger.chart.bank_accounts: 1403 is the ledger's asset account 'Raw materials', not a bank account"
    ]


def test_a_bank_account_holding_postings_cannot_be_dropped_from_the_configuration(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = keep_apart(container, monkeypatch, BankAccount(code="100201", name="EUR", numbers=[EURO_ACCOUNT]))
    receipt(container, "P-10", "10.00", "EUR", date(2026, 3, 4), bank="100201")
    with pytest.raises(ConfigError) as refused, unit_of_work(container.sessions) as session:
        ensure_chart(session, chart.model_copy(update={"bank_accounts": []}))
    assert refused.value.problems == [
        "ledger.chart.bank_accounts: 100201 (EUR) holds postings; keep it in the configuration "
        "(an account in use cannot be dropped)"
    ]


A, B = (
    BankAccount(code="100201", name="A", numbers=["A-1"]),
    BankAccount(code="100202", name="B", numbers=["B-1"]),
)


def bank_balances(container: Container) -> dict[str, int]:
    with unit_of_work(container.sessions) as session:
        rows = session.scalars(
            select(AccountBalance).where(AccountBalance.account_code.in_(["1002", "100201", "100202"]))
        )
        return {row.account_code: row.balance_minor for row in rows}


def test_a_payment_pairs_with_a_line_of_its_own_bank_account_only(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keep_apart(container, monkeypatch, A, B)
    acme = customers["acme"]
    import_file(
        container,
        write(tmp_path / "a.jsonl", line("L-A", "500.00", "2026-03-04", account="A-1", references=[acme])),
        PARSERS,
    )
    payments = write(
        tmp_path / "p.jsonl",
        payment("P-B", acme, "500.00", "2026-03-03", account="B-1"),  # the same money, but into B
        payment("P-A", acme, "500.00", "2026-03-03", account="a 1"),  # A as the export writes it
    )
    result = import_file(container, payments, PARSERS)
    assert (result.counts["receipts_linked"], result.counts["payments_posted"]) == (1, 1)
    found = statuses(container)
    assert found["P-A"] == ("linked", found["L-A"][1])
    assert found["P-B"][0] == "posted"
    assert bank_balances(container) == {"100201": 50_000, "100202": 50_000}
    assert_ledger_verifies(container)


def test_a_bank_reversal_returns_the_line_of_its_own_account(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keep_apart(container, monkeypatch, A, B)
    acme = customers["acme"]
    lines = write(
        tmp_path / "s.jsonl",
        line("L-B", "300.00", "2026-03-02", account="B-1", references=[acme]),
        line("L-A", "300.00", "2026-03-04", account="A-1", references=[acme]),  # the latest of that amount
    )
    import_file(container, lines, PARSERS)
    returned = line("R-B", "-300.00", "2026-03-05", account="B-1", bank_reversal=True)
    assert import_file(container, write(tmp_path / "r.jsonl", returned), PARSERS).counts["reversed"] == 1
    found = statuses(container)
    assert (found["L-B"][0], found["L-A"][0]) == ("reversed", "posted")
    assert bank_balances(container) == {"100201": 30_000, "100202": 0}
    assert_ledger_verifies(container)


def test_another_statements_line_is_not_this_statements_money(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chart = keep_apart(container, monkeypatch, BankAccount(code="100201", name="EUR", numbers=[EURO_ACCOUNT]))
    other = line("C-450", "450.00", "2026-03-04", account="C-ACCOUNT", currency="EUR")  # not kept apart: 1002
    import_file(container, write(tmp_path / "c.jsonl", other), PARSERS)

    with unit_of_work(container.sessions) as session:
        euro, _ = reconcile_file(
            session, CAMT, Camt053Parser(), Accounts.of(chart), 3, lambda: container.cipher
        ).statements

    assert [m.line.amount for m in euro.matched] == []  # its 450 line is not account C's
    assert euro.missing_entries == ()


def test_a_receipt_linked_to_a_line_of_an_account_kept_apart_is_not_missed_by_another_statement(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chart = keep_apart(container, monkeypatch, BankAccount(code="100201", name="EUR", numbers=[EURO_ACCOUNT]))
    paid = payment("P-500", customers["acme"], "500.00", "2026-03-03", currency="EUR")  # no deposit account
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    assert import_file(container, CAMT, [Camt053Parser()]).counts["receipts_linked"] == 1  # its 500 line
    statement_c = write(
        tmp_path / "c.jsonl", line("C-77", "77.00", "2026-03-04", account="C-ACCOUNT", currency="EUR")
    )

    with unit_of_work(container.sessions) as session:
        (report,) = reconcile_file(
            session, statement_c, JsonLines(), Accounts.of(chart), 3, lambda: container.cipher
        ).statements

    assert report.ledger_account == chart.bank.code
    assert report.ledger_note == "account C-ACCOUNT is not one of the bank accounts kept apart"
    assert report.missing_entries == ()  # P-500 went into the EUR account, with its line


def test_a_payment_into_an_account_kept_apart_does_not_pair_with_another_accounts_line(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keep_apart(container, monkeypatch, A)
    acme = customers["acme"]
    other = line("L-C", "600.00", "2026-03-04", account="C-9", references=[acme])  # not kept apart
    import_file(container, write(tmp_path / "c.jsonl", other), PARSERS)
    payments = write(
        tmp_path / "p.jsonl",
        payment("P-A", acme, "600.00", "2026-03-03", account="A-1"),
        payment("P-any", acme, "600.00", "2026-03-03"),  # names no account: may be C's
        payment("P-long", acme, "1.00", "2026-03-03", account="Deposit account " * 20),  # a long name
    )
    assert import_file(container, payments, PARSERS).status == "imported"
    found = statuses(container)
    assert (found["P-A"][0], found["P-long"][0]) == ("posted", "posted")
    assert found["P-any"] == ("linked", found["L-C"][1])
    assert bank_balances(container) == {"100201": 60_000, "1002": 60_100}


def test_without_accounts_kept_apart_a_line_of_another_format_may_still_be_the_statements(
    container: Container, tmp_path: Path
) -> None:
    """A statement's account written by another format cannot be compared: its lines stay candidates."""
    chart = container.settings.ledger.chart
    other_format = line("X-450", "450.00", "2026-03-04", account="3704 0044 0532 0130 00", currency="EUR")
    import_file(container, write(tmp_path / "x.jsonl", other_format), PARSERS)

    with unit_of_work(container.sessions) as session:
        euro, _ = reconcile_file(
            session, CAMT, Camt053Parser(), Accounts.of(chart), 3, lambda: container.cipher
        ).statements

    assert [m.line.amount for m in euro.matched] == [Money.of("450.00", "EUR")]
    assert euro.ledger_note == ""


def test_a_reversal_on_the_account_kept_apart_counts_though_the_document_moved_to_another(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chart = keep_apart(container, monkeypatch, A, B)
    acme = customers["acme"]
    first = payment("P-1", acme, "500.00", "2026-02-27", account="A-1", currency="EUR")
    import_file(container, write(tmp_path / "feb.jsonl", first), PARSERS)
    moved = payment("P-1", acme, "500.00", "2026-03-02", account="B-1", currency="EUR")  # re-exported
    assert import_file(container, write(tmp_path / "mar.jsonl", moved), PARSERS).counts["reposted"] == 1
    statement_a = write(
        tmp_path / "a.jsonl",
        line("A-0301", "10.00", "2026-03-01", account="A-1", currency="EUR"),
        line("A-0331", "20.00", "2026-03-31", account="A-1", currency="EUR"),
    )

    with unit_of_work(container.sessions) as session:
        (report,) = reconcile_file(
            session, statement_a, JsonLines(), Accounts.of(chart), 3, lambda: container.cipher
        ).statements

    assert report.ledger_account == "100201"
    assert report.balances.ledger_movement == Money.of("-500.00", "EUR")  # P-1 left A on March 2
    assert [m.entry.amount for m in report.missing_entries] == [Money.of("-500.00", "EUR")]


def test_a_line_pairs_with_the_payment_naming_its_account_before_one_naming_none(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keep_apart(container, monkeypatch, A)
    acme = customers["acme"]
    payments = write(
        tmp_path / "p.jsonl",
        payment("P-any", acme, "500.00", "2026-03-03"),
        payment("P-A", acme, "500.00", "2026-03-01", account="A-1"),  # further away, but into A
    )
    import_file(container, payments, PARSERS)
    statement = write(
        tmp_path / "a.jsonl", line("L-A", "500.00", "2026-03-04", account="A-1", references=[acme])
    )
    assert import_file(container, statement, PARSERS).counts["receipts_linked"] == 1
    found = statuses(container)
    assert found["L-A"] == ("linked", found["P-A"][1])


def test_a_receipt_the_statements_line_was_linked_to_and_its_reversal_cancel_out(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chart = keep_apart(container, monkeypatch, BankAccount(code="100201", name="EUR", numbers=[EURO_ACCOUNT]))
    paid = payment("P-500", customers["acme"], "500.00", "2026-03-04", currency="EUR")  # names no account
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    assert import_file(container, CAMT, [Camt053Parser()]).counts["receipts_linked"] == 1  # its 500 line
    reverse(container, statuses(container)["P-500"][1] or 0, date(2026, 3, 4))

    with unit_of_work(container.sessions) as session:
        euro, _ = reconcile_file(
            session, CAMT, Camt053Parser(), Accounts.of(chart), 3, lambda: container.cipher
        ).statements

    reasons = {m.line.external_id: m.reason for m in euro.missing_lines}
    assert reasons["2026030400003#1"].endswith(
        "was reversed"
    )  # the 500 line: its receipt and reversal cancel
    assert euro.balances.unexplained == Money.zero("EUR")


def test_a_bank_reversal_prefers_a_line_known_to_be_of_its_account_to_one_imported_before(
    container: Container, customers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keep_apart(container, monkeypatch, A)
    acme = customers["acme"]
    old = line("L-old", "300.00", "2026-03-02", account="A-1", references=[acme])
    import_file(container, write(tmp_path / "old.jsonl", old), PARSERS)
    with unit_of_work(container.sessions) as session:  # as imported before migration 0012
        session.execute(update(ImportedDocument).values(bank_account=None))
    new = line("L-new", "300.00", "2026-03-02", account="A-1", references=[acme])
    import_file(container, write(tmp_path / "new.jsonl", new), PARSERS)
    returned = line("R", "-300.00", "2026-03-05", account="A-1", bank_reversal=True)
    assert import_file(container, write(tmp_path / "r.jsonl", returned), PARSERS).counts["reversed"] == 1
    found = statuses(container)
    assert (found["L-new"][0], found["L-old"][0]) == ("reversed", "posted")


def test_two_accounts_in_one_file_do_not_both_count_one_receipt(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_apart(
        container, monkeypatch, BankAccount(code="100201", name="A", numbers=["DE02120300000000202051"])
    )
    receipt(container, "ZB-PAY-1", "450.00", "EUR", date(2026, 3, 4))  # names no bank account
    a = statement_xml(
        "A", 3, "0.00", "450.00", entry_xml("A1", "450.00", "2026-03-04"), iban="DE02120300000000202051"
    )
    b = statement_xml("B", 3, "0.00", "0.00")
    path = camt_file(tmp_path / "two.xml", a, b)

    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        first, second = reconcile_file(
            session, path, Camt053Parser(), accounts, 3, lambda: container.cipher
        ).statements

    assert [m.entry.external_id for m in first.matched] == ["ZB-PAY-1"]
    assert (second.missing_entries, second.balances.ledger_movement) == ((), Money.zero("EUR"))
    assert first.reconciles
    assert second.reconciles


def test_one_accounts_lines_in_two_formats_writing_its_number_two_ways_post_once(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    numbers = ["DE44500105175407324931", "50010517/5407324931"]  # CAMT's IBAN, MT940's BLZ/Konto
    keep_apart(container, monkeypatch, BankAccount(code="100201", name="EUR", numbers=numbers))
    mt940 = line("M-1", "500.00", "2026-03-05", source="mt940", account=numbers[1], payer="Kunde A")
    import_file(container, write(tmp_path / "s1.jsonl", mt940), PARSERS)
    camt = line("C-1", "500.00", "2026-03-05", source="camt053", account=numbers[0], payer="Kunde A")

    result = import_file(container, write(tmp_path / "s2.jsonl", camt), PARSERS)

    assert result.counts["quarantined"] == 1  # maybe the MT940 line, in another format
    assert bank_balances(container) == {"100201": 50000}


def test_a_voucher_receipt_into_alipay_posts_to_the_bank_and_one_by_note_waits_for_the_notes_account(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        xc = directory.create(NewCustomer("上海星辰贸易有限公司", "SME", "SH", "CNY"))
        hc = directory.create(NewCustomer("深圳海川电子有限公司", "SME", "GD", "CNY"))
    parsers = container.document_parsers()
    vouchers = REPO / "tests" / "fixtures" / "exports" / "kingdee_vouchers_alipay_and_notes.csv"

    auto_post_tiers(container, monkeypatch, 3)  # the customers known by their names
    result = import_file(container, vouchers, parsers)

    # The notes: no bank money, and no account for them yet: never posted to the bank
    assert (result.counts["payments_posted"], result.counts["quarantined"]) == (2, 2)
    with unit_of_work(container.sessions) as session:
        held = session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id)).all()
        assert [record.reason for record in held] == [
            "a receipt by a customer's note (account 112101), no bank money: list 112101 among the numbers "
            "of a [[ledger.chart.bank_accounts]] (its own ledger account, e.g. code 1121 应收票据) to post "
            "it there, then `connector quarantine retry ID`"
        ] * 2
        ids = [record.id for record in held]

        def figures(customer_id: int) -> dict[str, object]:
            chart, credit = container.settings.ledger.chart, container.settings.credit
            return customer_figures(session, [customer_id], date(2026, 3, 31), chart, credit)[customer_id]

        haichuan = figures(hc.id)  # paid by Alipay: a payment, into the bank
        assert (haichuan["last_payment_date"], haichuan["last_payment_amount"]) == (date(2026, 3, 12), 800)
        assert haichuan["paid_trailing_12m"] == 800
        assert session.get_one(AccountBalance, ("1002", "CNY")).balance_minor == 180000  # 800 + 1,000
    chart = keep_apart(
        container, monkeypatch, BankAccount(code="1121", name="应收票据", numbers=["1121", "112101"])
    )

    outcomes = retry(container, ids, parsers=lambda: parsers, mappings=no_mapping_set)

    assert {outcome.status for outcome in outcomes} == {"retried"}  # the file's rows replayed at once
    with unit_of_work(container.sessions) as session:
        assert not session.scalars(select(QuarantinedRecord).where(QuarantinedRecord.status == "open")).all()
        assert session.get_one(AccountBalance, ("1121", "CNY")).balance_minor == 700000
        assert session.get_one(AccountBalance, ("1002", "CNY")).balance_minor == 180000
        xingchen = customer_figures(session, [xc.id], date(2026, 3, 31), chart, container.settings.credit)
        assert xingchen[xc.id]["paid_trailing_12m"] == 8000  # 5,000 and 2,000 by note, 1,000 by wire
    assert_ledger_verifies(container)
