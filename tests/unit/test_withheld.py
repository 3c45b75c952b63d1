from __future__ import annotations

from datetime import date

from connector.mapping.files import load_mapping_set
from connector.sync.push import outbound_mapping
from connector.sync.withheld import withheld_reason, withheld_values
from tests.conftest import REPO


def test_a_withheld_record_is_sent_its_amount_fields_cleared_and_why_and_nothing_else() -> None:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    reason = withheld_reason("EUR", "USD", "KASH00001", date(2026, 3, 2))

    values = withheld_values(outbound_mapping(mappings, "zoho.Accounts"), reason)

    assert values.pop("Credit_Status_Reason") == (
        "figures withheld: the CRM record is in EUR, the ledger keeps customer KASH00001 in USD since "
        "2026-03-02; set the record back to USD or ask finance"
    )
    assert {"Outstanding_Balance", "Overdue_Amount", "Aging_90_Plus", "Last_Payment_Amount"} <= set(values)
    assert set(values.values()) == {None}
    assert "Credit_Status" not in values
    assert "Account_Number" not in values
