from __future__ import annotations

import pytest

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.ledger.customers import NewCustomer


@pytest.fixture
def customers(container: Container) -> dict[str, str]:
    """Two customers by nickname: acme (with a known bank account) and qinghe."""
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        acme = directory.create(
            NewCustomer("上海明远贸易有限公司", "SME", "SH", "CNY", bank_accounts=("6222 0210 0000 1234",))
        )
        qinghe = directory.create(NewCustomer("杭州青禾科技", "SME", "ZJ", "CNY"))
        return {"acme": acme.account_no, "qinghe": qinghe.account_no}
