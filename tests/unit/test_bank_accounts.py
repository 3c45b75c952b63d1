"""Bank accounts kept apart in the chart: how they are configured, and where a receipt posts."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from connector.documents import Document, Origin
from connector.imports.rules import Accounts, receipt_entry
from connector.money import Money
from connector.settings import BankAccount, ChartSettings

ICBC = BankAccount(code="100201", name="工行基本户", numbers=["6222 0210 0000 1234", "ICBC Basic"])
HSBC = BankAccount(code="100202", name="HSBC EUR", numbers=["GB29 NWBK 6016 1331 9268 19"])


def payment(account: str | None) -> Document:
    return Document(
        kind="payment",
        source="zoho_books",
        external_id="P-1",
        date=date(2026, 3, 5),
        amount=Money.of("880.00", "CNY"),
        origin=Origin("payments.csv", 2),
        account=account,
    )


@pytest.mark.parametrize(
    ("named", "code"),
    [
        ("6222021000001234", "100201"),  # a statement's account, compacted
        ("icbc basic", "100201"),  # an export's deposit account, by name
        ("gb29nwbk60161331926819", "100202"),
        ("9999 0000", "1002"),  # not kept apart: the bank role's account
        (None, "1002"),  # named nowhere
    ],
)
def test_a_receipt_posts_to_the_ledger_account_of_the_bank_account_it_names(
    named: str | None, code: str
) -> None:
    accounts = Accounts.of(ChartSettings(bank_accounts=[ICBC, HSBC]))
    for customer in ("C-1", None):
        draft = receipt_entry(payment(named), customer, 0, accounts)
        (bank_line,) = [line for line in draft.lines if line.amount.minor > 0]
        assert (bank_line.account, bank_line.amount) == (code, Money.of("880.00", "CNY"))


def test_every_bank_account_is_a_receipts_account() -> None:
    assert ChartSettings(bank_accounts=[ICBC, HSBC]).bank_codes == ("1002", "100201", "100202")
    assert ChartSettings().bank_codes == ("1002",)


def test_a_bank_account_needs_a_code_of_its_own() -> None:
    with pytest.raises(ValidationError, match="its own account code"):
        ChartSettings(bank_accounts=[BankAccount(code="1122", name="AR?", numbers=["1"])])
    with pytest.raises(ValidationError, match="its own account code"):
        ChartSettings(bank_accounts=[ICBC, ICBC.model_copy(update={"numbers": ["2"]})])


def test_one_account_number_belongs_to_one_bank_account() -> None:
    twice = HSBC.model_copy(update={"numbers": ["6222021000001234"]})
    with pytest.raises(ValidationError, match="given to both 100201 and 100202"):
        ChartSettings(bank_accounts=[ICBC, twice])
    with pytest.raises(ValidationError, match="empty account number"):
        BankAccount(code="100203", name="blank", numbers=["  "])
    with pytest.raises(ValidationError):
        BankAccount(code="100203", name="none", numbers=[])


def test_bank_accounts_are_told_apart_by_ledger_account_or_by_a_statements_number() -> None:
    accounts = Accounts.of(ChartSettings(bank_accounts=[ICBC, HSBC]))
    assert accounts.bank_key("icbc basic", by_statement=False) == accounts.bank_key(
        "6222 0210 0000 1234", by_statement=True
    )
    assert accounts.bank_key("100201", by_statement=True) == "account 100201"  # a number, not the code
    assert accounts.bank_key("Bank of America USD", by_statement=False) is None  # an export's own name
    assert accounts.numbers("ICBC Basic") == ("6222021000001234", "ICBCBASIC")
    assert accounts.numbers("9999 0000") == ("99990000",)
    assert accounts.numbers(None) == ()
