from __future__ import annotations

from datetime import date

from connector.mapping.apply import map_record
from connector.mapping.files import load_mapping_set
from connector.mapping.model import FieldMap
from connector.sync.push import outbound_mapping, priced
from connector.sync.withheld import withheld_reason, withheld_values
from tests.conftest import REPO

FIGURES = {
    "account_number": "KASH00001",
    "currency": "USD",
    "balance": "80000.00",
    "overdue": "80000.00",
    "aging_90_plus": "80000.00",
    "credit_score": 0,
    "credit_status": "BLOCKED",
    "credit_status_reason": "80,000.00 USD is 91+ days past due",
    "last_payment_date": "2026-02-27",
    "last_payment_amount": "500.00",
    "as_of": "2026-04-30",
    "other_currencies": "800.00 EUR (800.00 overdue)",
    "payment_terms_days": 30,
}


def test_a_withheld_record_is_sent_its_amounts_cleared_why_and_all_no_currency_is_read_into() -> None:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    mapping = outbound_mapping(mappings, "zoho.Accounts")
    reason = withheld_reason("EUR", "USD", "KASH00001", date(2026, 3, 2))

    values = withheld_values(mapping, reason, map_record(mapping, priced(FIGURES)).values)

    assert values.pop("Credit_Status_Reason") == (
        "figures withheld: the CRM record is in EUR, the ledger keeps customer KASH00001 in USD since "
        "2026-03-02; set the record back to USD or ask finance"
    )
    shown = {field: values.pop(field) for field in ("Credit_Status", "Credit_Score", "Account_Number")}
    assert shown == {"Credit_Status": "冻结 Blocked", "Credit_Score": 0, "Account_Number": "KASH00001"}
    dates = {field: values.pop(field) for field in ("Last_Payment_Date", "Figures_As_Of")}
    assert dates == {"Last_Payment_Date": "2026-02-27", "Figures_As_Of": "2026-04-30"}
    assert values.pop("Other_Currency_Balances") == "800.00 EUR (800.00 overdue)"  # names its currency
    assert values.pop("Payment_Terms") == "Net 30"
    assert values.pop("Value_Tier") == ""  # none in FIGURES
    assert {"Outstanding_Balance", "Overdue_Amount", "Aging_90_Plus", "Last_Payment_Amount"} <= set(values)
    assert set(values.values()) == {None}


def test_a_withheld_record_keeps_the_currency_the_person_set() -> None:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    accounts = outbound_mapping(mappings, "zoho.Accounts")
    mapping = accounts.model_copy(
        update={"fields": [*accounts.fields, FieldMap(target="Currency", source="currency")]}
    )

    values = withheld_values(mapping, "figures withheld", map_record(mapping, priced(FIGURES)).values)

    assert "Currency" not in values
    assert values["Credit_Status"] == "冻结 Blocked"


def test_a_withheld_record_whose_status_the_mapping_cannot_write_is_sent_no_status() -> None:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    mapping = outbound_mapping(mappings, "zoho.Accounts")
    mapped = map_record(mapping, priced({**FIGURES, "credit_status": "FROZEN"}))
    assert "Credit_Status" in mapped.errors

    values = withheld_values(mapping, "figures withheld", mapped.values)

    assert "Credit_Status" not in values
    assert values["Credit_Score"] == 0
