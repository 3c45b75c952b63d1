"""The refund posting rule: money paid back comes out of the customer's credit, never beyond it."""

from __future__ import annotations

import datetime as dt

from connector.documents import Document, Origin
from connector.imports.rules import Accounts, refund_entry, refund_refused
from connector.money import Money

ACCOUNTS = Accounts("1002", "1122", "2203", "220399", "6001", {"US00BANK2": "100201"})


def _refund(amount: str, account: str | None = None) -> Document:
    return Document(
        "refund",
        "zoho_books.payments",
        "5000009003",
        dt.date(2026, 3, 20),
        Money.of(amount, "USD"),
        Origin("payments.csv", 4),
        number="RF-1",
        account=account,
    )


def test_a_refund_debits_the_customers_advances_and_credits_the_bank_with_its_voucher() -> None:
    entry = refund_entry(_refund("500.00"), "SMEUS00001", ACCOUNTS)

    assert [(line.account, line.amount.minor, line.customer) for line in entry.lines] == [
        ("2203", 50000, "SMEUS00001"),
        ("1002", -50000, None),
    ]
    assert (entry.source, entry.external_id, entry.memo) == (
        "zoho_books.payments",
        "5000009003",
        "refund RF-1",
    )
    assert (entry.voucher.file, entry.voucher.row, entry.voucher.document_type) == (
        "payments.csv",
        4,
        "refund",
    )


def test_a_refund_from_a_bank_account_kept_apart_credits_that_accounts_ledger_account() -> None:
    entry = refund_entry(_refund("500.00", account="US00 BANK2"), "SMEUS00001", ACCOUNTS)
    assert entry.lines[1].account == "100201"


def test_a_refund_up_to_the_customers_credit_posts_and_one_beyond_it_is_refused_saying_why() -> None:
    assert refund_refused(_refund("500.00"), "SMEUS00001", 50000) is None
    assert refund_refused(_refund("499.99"), "SMEUS00001", 50000) is None
    beyond = refund_refused(_refund("500.01"), "SMEUS00001", 50000)
    assert beyond is not None
    assert beyond.startswith(
        "a refund of 500.01 USD to SMEUS00001, whose credit (unapplied and advance money) is 500.00 USD: "
    )
    none = refund_refused(_refund("1.00"), "SMEUS00001", -2000)  # advances in debit: no credit at all
    assert none is not None
    assert "whose credit (unapplied and advance money) is 0.00 USD" in none
