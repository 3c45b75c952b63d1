"""The demo: a small, realistic customer ledger built on the configured database, then verified.

Running it again changes nothing: customers are found by e-mail (blind index) and every
document is posted under its idempotency key, so replays return the existing entries.
"""

from __future__ import annotations

from datetime import date
from functools import partial

from rich.console import Console

from connector.bootstrap import Container
from connector.cli.output import DataTable
from connector.db import unit_of_work
from connector.imports.rules import Accounts
from connector.ledger.customers import CustomerDirectory, NewCustomer
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.posting import Ledger
from connector.ledger.queries import customer_balances, net_receivable
from connector.ledger.verify import verify_ledger
from connector.money import Money

CUSTOMERS = (
    NewCustomer(
        "上海明远贸易有限公司",
        "KA",
        "SH",
        "CNY",
        email="finance@mingyuan.example.cn",
        phone="+86 21 6888 1234",
        bank_accounts=("6222 0210 0112 3456 789",),
        credit_limit=Money.of("500000", "CNY"),
        payment_terms_days=60,
    ),
    NewCustomer(
        "杭州青禾科技",
        "SME",
        "ZJ",
        "CNY",
        email="ap@qinghe.example.cn",
        phone="+86 571 8765 4321",
        credit_limit=Money.of("80000", "CNY"),
        payment_terms_days=30,
    ),
    NewCustomer(
        "王小明",
        "IND",
        "BJ",
        "CNY",
        email="xiaoming.wang@example.com",
        phone="+86 138 0013 8000",
        payment_terms_days=0,
    ),
    NewCustomer(
        "Northwind Traders Ltd",
        "KA",
        "GB",
        "USD",
        email="accounts@northwind.example.com",
        bank_accounts=("GB29 NWBK 6016 1331 9268 19",),
        credit_limit=Money.of("120000", "USD"),
        payment_terms_days=45,
    ),
    NewCustomer(
        "さくら商事株式会社",
        "SME",
        "JP",
        "JPY",
        email="keiri@sakura.example.jp",
        credit_limit=Money.of("5000000", "JPY"),
        payment_terms_days=30,
    ),
)

FILE = "demo/zoho_books_export.csv"


def _invoice(chart: Accounts, number: str, customer: str, amount: Money, day: date, row: int) -> EntryDraft:
    return EntryDraft(
        source="zoho_books",
        external_id=number,
        posting_date=day,
        document_date=day,
        voucher=Voucher("invoice", FILE, row),
        memo=f"invoice {number}",
        lines=(Line.debit(chart.receivable, amount, customer), Line.credit(chart.revenue, amount)),
    )


def _receipt(
    chart: Accounts, ref: str, customer: str, amount: Money, day: date, row: int, *, advance: bool = False
) -> EntryDraft:
    settles = chart.advances if advance else chart.receivable
    return EntryDraft(
        source="bank_camt053",
        external_id=ref,
        posting_date=day,
        value_date=day,
        voucher=Voucher("bank_line", "demo/statement_2026-03.xml", row),
        memo=("advance payment " if advance else "receipt ") + ref,
        lines=(Line.debit(chart.bank, amount), Line.credit(settles, amount, customer)),
    )


def _ensure_customers(directory: CustomerDirectory) -> list[str]:
    numbers = []
    for new in CUSTOMERS:
        found = directory.find_by_email(new.email or "")
        numbers.append(found[0].account_no if found else directory.create(new).account_no)
    return numbers


def _documents(numbers: list[str], chart: Accounts) -> list[EntryDraft]:
    """The sample documents, on the configured chart's accounts."""
    mingyuan, qinghe, wang, northwind, sakura = numbers
    d = date
    invoice, receipt = partial(_invoice, chart), partial(_receipt, chart)
    return [
        invoice("INV-2026-0001", mingyuan, Money.of("128000.00", "CNY"), d(2026, 1, 15), 2),
        invoice("INV-2026-0002", mingyuan, Money.of("56400.50", "CNY"), d(2026, 2, 3), 3),
        invoice("INV-2026-0003", qinghe, Money.of("23999.99", "CNY"), d(2026, 2, 10), 4),
        invoice("INV-2026-0004", wang, Money.of("1288.00", "CNY"), d(2026, 2, 20), 5),
        invoice("INV-2026-0005", northwind, Money.of("18450.00", "USD"), d(2026, 2, 25), 6),
        invoice("INV-2026-0006", sakura, Money.of("1250000", "JPY"), d(2026, 3, 1), 7),
        invoice("INV-2026-0007", qinghe, Money.of("999.00", "CNY"), d(2026, 3, 2), 8),
        receipt("CAMT-20260305-001", mingyuan, Money.of("128000.00", "CNY"), d(2026, 3, 5), 1),
        receipt("CAMT-20260306-002", qinghe, Money.of("12000.00", "CNY"), d(2026, 3, 6), 2),
        receipt("CAMT-20260307-003", wang, Money.of("1288.00", "CNY"), d(2026, 3, 7), 3),
        receipt("CAMT-20260310-004", northwind, Money.of("10000.00", "USD"), d(2026, 3, 10), 4),
        receipt("CAMT-20260312-005", wang, Money.of("500.00", "CNY"), d(2026, 3, 12), 5, advance=True),
    ]


def run_demo(container: Container, console: Console) -> bool:
    """Build (or replay) the sample ledger, reverse a wrong invoice, print balances; True if verify passes."""
    with unit_of_work(container.sessions) as session:
        numbers = _ensure_customers(container.customers(session))
        ledger = Ledger(session)
        documents = _documents(numbers, Accounts.of(container.settings.ledger.chart))
        posted = ledger.post_many(documents)
        wrong = posted[[d.external_id for d in documents].index("INV-2026-0007")]
        reversed_now = ledger.reversed_by(wrong.entry_id) is None
        if reversed_now:
            ledger.reverse(
                wrong.entry_id, posting_date=date(2026, 3, 9), memo="INV-2026-0007 issued in error"
            )
    created = sum(p.created for p in posted)
    reversal = " and reversed INV-2026-0007 (issued in error)" if reversed_now else ""
    console.print(
        f"posted {created} new document(s){reversal}, {len(posted) - created} already in the ledger "
        f"(database {container.settings.database.display_url()})"
    )
    with unit_of_work(container.sessions) as session:
        table = DataTable(
            *("account no", "customer", "terms", "credit limit", "net receivable"),
            whole={"account no", "terms", "credit limit", "net receivable"},
            right={"credit limit", "net receivable"},
            title="Customer balances (net receivable; negative = customer credit)",
        )
        for customer in container.customers(session).all():
            net = net_receivable(customer_balances(session, customer.account_no))
            table.add_row(
                customer.account_no,
                customer.name,
                f"{customer.payment_terms_days} days",
                str(customer.credit_limit) if customer.credit_limit else "—",
                ", ".join(str(money) for money in net.values()) or "0",
            )
        console.print(table)
        report = verify_ledger(session)
    if report.ok:
        console.print(f"ledger verify: OK ({report.entries} entries, {report.postings} postings)")
    else:
        console.print(f"ledger verify: FAILED with {len(report.violations)} violation(s)")
        for violation in report.violations:
            console.print(f"  - {violation}", markup=False)
    return report.ok
