"""The set-based reads behind the figures: five queries per chunk of customer ids, none per customer.

Every read stops at the as-of date (postings dated later are left out), so figures for a past day are
that day's figures, and for today they equal the stored running balances. Amounts stay per currency;
`figures` keeps the customer's own currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from connector.bulk import LOOKUP_CHUNK, in_chunks
from connector.credit.aging import ArLine
from connector.documents import KEPT_SUFFIX, paid_by
from connector.imports.models import ImportedDocument, ReceiptApplication, ReconciliationItem
from connector.ledger.models import Customer, CustomerBalance, JournalEntry, Posting
from connector.settings import ChartSettings


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    account_no: str
    customer_type: str
    region: str
    value_tier: str | None
    currency: str
    credit_limit_minor: int | None
    payment_terms_days: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """One payment of one customer: what its AR and advances accounts were credited by the receipt
    entries of one document (`entry_id` the first of them) and its live `.kept` credit note."""

    entry_id: int
    posting_date: date
    amount_minor: int


def counted_in(session: Session, ids: Sequence[int]) -> dict[int, list[int]]:
    """Each customer whose ledger the figures of `ids` read → which of `ids` count it: itself, and the
    customers it was merged into (and those into others, in turn), so that a merged customer's invoices
    and receipts are the survivor's too (and still its own, should it be asked for)."""
    requested = set(ids)
    merged_into: dict[int, int] = {}
    frontier = list(requested)
    while frontier:
        rows = _merged_into(session, frontier)
        frontier = [merged for merged, _ in rows if merged not in merged_into and merged not in requested]
        merged_into.update((merged, into) for merged, into in rows if into is not None)
    counted: dict[int, list[int]] = {}
    for customer_id in requested | set(merged_into):
        chain: int | None = customer_id
        seen: set[int] = set()
        while chain is not None and chain not in seen:  # up to the survivor; a cycle is never followed twice
            seen.add(chain)
            if chain in requested:
                counted.setdefault(customer_id, []).append(chain)
            chain = merged_into.get(chain)
    return counted


def _merged_into(session: Session, ids: Sequence[int]) -> list[tuple[int, int | None]]:
    """(id, merged into) of each customer merged into one of `ids`. More ids than an IN list holds (a
    ledger's every customer, `connector status`): the merged customers, one scan, kept in Python."""
    merged = select(Customer.id, Customer.merged_into_id)
    if len(ids) <= LOOKUP_CHUNK:
        return [(i, into) for i, into in session.execute(merged.where(Customer.merged_into_id.in_(ids)))]
    wanted = set(ids)
    rows = session.execute(merged.where(Customer.merged_into_id.is_not(None)))
    return [(i, into) for i, into in rows if into in wanted]


def owed(session: Session, ids: Sequence[int], receivable_code: str) -> dict[tuple[int, str], int]:
    """What each customer of `ids` owes per currency: its receivable balance and those of the customers
    merged into it (their invoices are its to settle, as its figures count them)."""
    return _balances(session, ids, receivable_code)


def credit(session: Session, ids: Sequence[int], advances_code: str) -> dict[tuple[int, str], int]:
    """What each customer of `ids` has with us per currency (its advances' credit balance, positive), with
    the customers merged into it, as `owed` counts their receivables: what a refund may pay back."""
    return {key: -balance for key, balance in _balances(session, ids, advances_code).items()}


def _balances(session: Session, ids: Sequence[int], account_code: str) -> dict[tuple[int, str], int]:
    """Each customer's stored balance on `account_code` per currency (debit positive), its merged ones'
    added."""
    counted = counted_in(session, ids)
    found: dict[tuple[int, str], int] = {}
    for chunk in in_chunks(counted):
        rows = session.execute(
            select(
                CustomerBalance.customer_id, CustomerBalance.currency, CustomerBalance.balance_minor
            ).where(
                CustomerBalance.account_code == account_code,
                CustomerBalance.customer_id.in_(chunk),
            )
        )
        for customer_id, currency, balance in rows:
            for counting in counted[customer_id]:
                found[(counting, currency)] = found.get((counting, currency), 0) + balance
    return found


def customers(session: Session, ids: Sequence[int]) -> list[CustomerRow]:
    rows = session.connection().execute(  # Core rows: no ORM loading per row
        select(
            Customer.id,
            Customer.account_no,
            Customer.customer_type,
            Customer.region,
            Customer.value_tier,
            Customer.currency,
            Customer.credit_limit_minor,
            Customer.payment_terms_days,
        ).where(Customer.id.in_(ids))
    )
    return [CustomerRow(*row) for row in rows]


def ar_lines(
    session: Session, ids: Sequence[int], receivable: str, as_of: date, advances: str | None = None
) -> dict[tuple[int, str], list[ArLine]]:
    """(customer id, currency) → the customer's net AR amount per entry (entries netting to zero left
    out); with `advances`, also the advances of receipts that name invoices (and their reversals), each
    `named_only` (aging's rule 4)."""
    columns = (
        Posting.customer_id,
        Posting.currency,
        Posting.entry_id,
        Posting.amount_minor,
        JournalEntry.posting_date,
        JournalEntry.document_date,
        JournalEntry.reverses_id,
        JournalEntry.due_date,
    )
    read = select(*columns).join(JournalEntry, JournalEntry.id == Posting.entry_id)
    until = JournalEntry.posting_date <= as_of
    connection = session.connection()  # Core rows: no ORM loading per row
    rows = [
        (*row, False)
        for row in connection.execute(
            read.where(Posting.customer_id.in_(ids), Posting.account_code == receivable, until)
        )
    ]
    if advances is not None:
        naming = select(ReceiptApplication.entry_id).where(ReceiptApplication.customer_id.in_(ids))
        credits_kept = connection.execute(
            read.where(
                Posting.customer_id.in_(ids),
                Posting.account_code == advances,
                until,
                Posting.entry_id.in_(naming) | JournalEntry.reverses_id.in_(naming),
            )
        )
        rows += [(*row, True) for row in credits_kept]
    found: dict[tuple[int, str], list[ArLine]] = defaultdict(list)
    seen: dict[tuple[int, str, int, bool], int] = {}  # an entry may hold several lines for one customer
    for (
        customer_id,
        currency,
        entry_id,
        minor,
        posting_date,
        document_date,
        reverses_id,
        due,
        named_only,
    ) in rows:
        lines = found[(customer_id or 0, currency)]  # never NULL here: filtered by IN
        index = seen.setdefault((customer_id or 0, currency, entry_id, named_only), len(lines))
        if index == len(lines):
            lines.append(
                ArLine(entry_id, posting_date, minor, document_date, reverses_id, (), due, named_only)
            )
        else:
            earlier = lines[index]
            lines[index] = replace(earlier, amount_minor=earlier.amount_minor + minor)
    named = applications(session, ids)
    return {
        key: [replace(line, applies_to=named.get(line.entry_id, ())) for line in lines if line.amount_minor]
        for key, lines in found.items()
    }


def applications(session: Session, ids: Sequence[int]) -> dict[int, tuple[tuple[int, int], ...]]:
    """Receipt entry id → (invoice entry id, at most how much) of each invoice the receipt names, found
    by its number among the customer's posted invoices, else among those of the customers merged into
    it (a receipt after a merge is the survivor's; the invoice it pays may be the merged one's). An
    invoice not imported names nothing."""
    invoice = aliased(ImportedDocument)
    rows = (
        session.connection()
        .execute(
            select(
                ReceiptApplication.id,
                ReceiptApplication.entry_id,
                ReceiptApplication.customer_id,
                invoice.customer_id,
                invoice.entry_id,
                ReceiptApplication.amount_minor,
            )
            .join(
                invoice,
                (invoice.kind == "invoice")
                & (invoice.number == ReceiptApplication.invoice_number)
                & invoice.customer_id.in_(ids)
                & (invoice.status == "posted"),
            )
            .where(ReceiptApplication.customer_id.in_(ids))
            .order_by(ReceiptApplication.id)
        )
        .all()
    )
    own = {application for application, _, payer, owner, _, _ in rows if owner == payer}
    others = {
        payer for application, _, payer, owner, _, _ in rows if owner != payer and application not in own
    }
    counted = counted_in(session, sorted(others)) if others else {}
    found: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for application, receipt, payer, owner, invoice_entry, at_most in rows:
        if invoice_entry is None:
            continue
        if owner != payer and (application in own or payer not in counted.get(owner or 0, ())):
            continue  # another customer's invoice of that number: the payer's own, or none, is meant
        found[receipt].append((invoice_entry, at_most))
    return {receipt: tuple(named) for receipt, named in found.items()}


def account_sums(
    session: Session, ids: Sequence[int], account: str, as_of: date
) -> dict[tuple[int, str], int]:
    """(customer id, currency) → the customer's balance on `account` at the end of `as_of`."""
    rows = session.connection().execute(  # Core rows: no ORM loading per row
        select(Posting.customer_id, Posting.currency, func.sum(Posting.amount_minor))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Posting.customer_id.in_(ids),
            Posting.account_code == account,
            JournalEntry.posting_date <= as_of,
        )
        .group_by(Posting.customer_id, Posting.currency)
    )
    return {(int(customer_id or 0), str(currency)): int(total or 0) for customer_id, currency, total in rows}


def chart_receipts(
    session: Session, ids: Sequence[int], chart: ChartSettings, as_of: date, since: date | None = None
) -> dict[tuple[int, str], list[Receipt]]:
    """`receipts` into the chart's banks and unapplied receipts, crediting AR or advances: the one
    definition of a customer's payment, for its figures and its value tier alike (a refund, money out,
    is none; a receipt `reconcile apply` moved from unapplied receipts to the customer is one)."""
    received_into = (*chart.bank_codes, chart.unapplied.code)
    customer_accounts = (chart.receivable.code, chart.advances.code)
    return receipts(session, ids, customer_accounts, received_into, as_of, since)


def receipts(
    session: Session,
    ids: Sequence[int],
    customer_accounts: Sequence[str],
    received_into: Sequence[str],
    as_of: date,
    since: date | None = None,
) -> dict[tuple[int, str], list[Receipt]]:
    """(customer id, currency) → the customer's receipts up to `as_of`, oldest first by the day the money
    came (the entry's document date, else its posting date); with `since`, only the money that came on
    or after it (a value tier's window reads a year, not the whole ledger).

    A receipt is an entry, not itself a reversal and not reversed on or before `as_of`, that debits an
    account money is received into (the banks; unapplied receipts, whose application to a customer is
    the receipt a person attributed) and credits the customer's AR or advances account; its amount is
    the sum of those credits. One payment is one receipt: the receipts of one document (a voucher's
    bank part `X` and its customer's note part `X.note`, `documents.note_id`) are summed, and so is the
    live `.kept` credit note of a payment `X` (`X.kept`: a bank's charge or a discount the books settled
    beyond the money banked), so that a receipt's amount is what the customer paid.

    Whether an entry debits a bank is a column of the result, not a WHERE condition: as a condition,
    PostgreSQL may plan it as a join driven by every bank posting of the ledger, once per chunk. As a
    column it is an index look-up for the chunk's own credit postings. Whether it was reversed is an
    outer join on the document key (the unique index finds its one reversal, if any).
    """
    bank_line = aliased(Posting)
    reversal = aliased(JournalEntry)
    debits_bank = (
        exists()
        .where(
            bank_line.entry_id == Posting.entry_id,
            bank_line.account_code.in_(received_into),
            bank_line.amount_minor > 0,
        )
        .correlate(Posting)
    )
    day = func.coalesce(JournalEntry.document_date, JournalEntry.posting_date)
    query = (
        select(
            Posting.customer_id,
            Posting.currency,
            Posting.entry_id,
            day,
            Posting.amount_minor,
            JournalEntry.source,
            JournalEntry.external_id,
            debits_bank.label("debits_bank"),
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .outerjoin(  # at most one: the key is unique among reversals
            reversal,
            (reversal.source == JournalEntry.source)
            & (reversal.external_id == JournalEntry.external_id)
            & (reversal.revision == JournalEntry.revision)
            & reversal.is_reversal.is_(True)
            & (reversal.posting_date <= as_of),
        )
        .where(
            Posting.customer_id.in_(ids),
            Posting.account_code.in_(customer_accounts),
            Posting.amount_minor < 0,
            JournalEntry.posting_date <= as_of,
            JournalEntry.is_reversal.is_(False),
            reversal.id.is_(None),
        )
    )
    if since is not None:
        query = query.where(day >= since)
    # (customer id, currency, source, the payment's id) → its first entry, first day and amount; its
    # `.kept`'s amount
    paid: dict[tuple[int, str, str, str], tuple[int, date, int]] = {}
    kept: dict[tuple[int, str, str, str], int] = defaultdict(int)
    rows = session.connection().execute(query).all()  # Core rows: no ORM loading per row
    for customer_id, currency, entry_id, on, minor, source, external_id, is_bank in rows:
        key = (customer_id or 0, currency, source, paid_by(external_id))  # never NULL: IN
        if is_bank:
            first, earliest, amount = paid.get(key, (entry_id, on, 0))
            paid[key] = (min(first, entry_id), min(earliest, on), amount - minor)
        elif external_id.endswith(KEPT_SUFFIX):
            kept[key] -= minor
    if unmet := [key for key in kept if key not in paid]:
        # A `.kept` whose payment posted nothing, linked to its bank line imported first: that line's
        # entry (or its application from the queue) holds the payment's money, under the line's key.
        holds = {entry_id: key for key, entry_id in _entries_of_linked(session, unmet)}
        by_entry = {
            entry_id: (customer_id or 0, currency, source, paid_by(external_id))
            for customer_id, currency, entry_id, _, _, source, external_id, is_bank in rows
            if is_bank and entry_id in holds
        }
        for entry_id, key in holds.items():
            into = by_entry.get(entry_id)
            if into is not None and into[:2] == key[:2] and into in paid and key in kept:
                kept[into] += kept.pop(key)
    found: dict[tuple[int, str], list[Receipt]] = defaultdict(list)
    for key, (entry_id, on, amount) in sorted(paid.items(), key=lambda item: (item[1][1], item[1][0])):
        found[key[:2]].append(Receipt(entry_id, on, amount + kept.get(key, 0)))
    return found


def _entries_of_linked(
    session: Session, kept: Sequence[tuple[int, str, str, str]]
) -> list[tuple[tuple[int, str, str, str], int]]:
    """(the `.kept` key, an entry holding its payment's money) of each of `kept` whose payment is linked
    to its other record (`imports.same_receipt`): the entry the payment's record names (its other
    record's), that record's own, and the application of it a person made from the reconciliation queue."""
    wanted = {key[2:]: key for key in kept}  # (source, the payment's id) → its `.kept`'s key
    payment, other = aliased(ImportedDocument), aliased(ImportedDocument)
    found: list[tuple[tuple[int, str, str, str], int]] = []
    for chunk in in_chunks(payment_id for _, payment_id in wanted):
        rows = session.connection().execute(
            select(
                payment.source,
                payment.external_id,
                payment.entry_id,
                other.entry_id,
                ReconciliationItem.entry_id,
            )
            .join(other, other.id == payment.linked_id)
            .outerjoin(
                ReconciliationItem,
                (ReconciliationItem.document_id == other.id) & (ReconciliationItem.status == "applied"),
            )
            .where(payment.external_id.in_(chunk), payment.status == "linked")
        )
        for source, external_id, *entries in rows:
            key = wanted.get((source, external_id))
            if key is not None:
                found += [(key, entry_id) for entry_id in entries if entry_id is not None]
    return found
