"""What the matcher knows about customers, read once per import and kept up to date as it posts.

Account numbers, the record ids of active bindings, invoice numbers of imported invoices and the blind
indexes of known payer bank accounts are small enough to hold in memory for the whole import (a few
MB for 100,000 customers); names are decrypted only when a receipt gets as far as the name tier. What
leads to a customer merged into another (its account number, invoices, bank accounts) leads to that one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.bulk import row_date, rows_in
from connector.credit.aging import open_items
from connector.credit.reads import ar_lines
from connector.imports.models import ImportedDocument
from connector.ledger.models import Customer, CustomerBalance, CustomerBankAccount
from connector.master.identity import name_core, name_qualifiers
from connector.master.models import CustomerBinding
from connector.money import Money
from connector.security.cipher import FieldCipher


class KnownCustomers:
    def __init__(self, session: Session, cipher: FieldCipher, receivable_code: str) -> None:
        self.session = session
        self.cipher = cipher
        self.receivable_code = receivable_code
        rows = session.execute(
            select(Customer.id, Customer.account_no, Customer.merged_into_id, Customer.currency)
        ).all()
        everyone = {customer_id: (account_no, into) for customer_id, account_no, into, _ in rows}
        # customer id → the account number its receipts go to: a merged customer's are its survivor's
        self.account_nos: dict[int, str] = {
            customer_id: everyone[_survivor(customer_id, everyone)][0] for customer_id in everyone
        }
        self.ids = {account_no: i for i, (account_no, into) in everyone.items() if into is None}
        # account number → the currency of its figures; the customer's invoices are in it, but for those
        # in `_foreign`: (account number, invoice number upper-cased) → the currencies of those
        self._currency = {account_no: currency for _, account_no, into, currency in rows if into is None}
        self._foreign: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        # token (upper-cased) → (account number, what it is, how it is written)
        self._tokens: defaultdict[str, set[tuple[str, str, str]]] = defaultdict(set)
        for customer_id, (account_no, _) in everyone.items():
            self._add(account_no, customer_id, "account number")
        bindings = select(CustomerBinding.external_id, CustomerBinding.customer_id).where(
            CustomerBinding.status == "active"
        )
        for external_id, customer_id in session.execute(bindings):
            self._add(external_id, customer_id, "record id")
        invoices = select(
            ImportedDocument.number, ImportedDocument.customer_id, ImportedDocument.currency
        ).where(
            ImportedDocument.kind == "invoice",
            ImportedDocument.status == "posted",
            ImportedDocument.number.is_not(None),
        )
        for number, owner, currency in session.execute(invoices):
            if number is not None and owner is not None:
                self._add(number, owner, "invoice")
                self._billed_in(number, self.account_nos.get(owner), currency)
        self._banks: defaultdict[str, set[str]] = defaultdict(set)
        for index, customer_id in session.execute(
            select(CustomerBankAccount.account_index, CustomerBankAccount.customer_id)
        ):
            if customer_id in self.account_nos:
                self._banks[index].add(self.account_nos[customer_id])
        self._names: dict[str, list[str]] | None = None  # normalised name → account numbers, lazily
        # (normalised name, account number) → the bracketed qualifiers of its names (`name_qualifiers`),
        # for the few names with any
        self._qualifiers: dict[tuple[str, str], frozenset[frozenset[str]]] = {}
        # (currency, minor units) → (date, customer id, number, entry id) of posted invoices, for one batch
        # (no entry id yet: posted in this batch)
        self._invoices_by_amount: dict[tuple[str, int], list[tuple[date, int, str, int | None]]] = {}
        # Keyed by (customer id, currency), the customer the one receipts go to (a merged one's survivor),
        # for one batch: entry id → what is still open of each invoice; what the batch matched so far,
        # not in the database yet: invoices billed (minor units by number), receipts paid (minor
        # units, the invoice numbers each names)
        self._open: dict[tuple[int, str], dict[int, int]] = {}
        self._billed: defaultdict[tuple[int, str], dict[str, int]] = defaultdict(dict)  # by number
        self._paid: defaultdict[tuple[int, str], list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
        self._name_choices: list[str] = []
        self._members: defaultdict[str, list[int]] | None = None  # account number → ids counted in it

    def _add(self, token: str, customer_id: int, why: str) -> None:
        account_no = self.account_nos.get(customer_id)
        if account_no is not None:
            written = token.strip()
            self._tokens[written.upper()].add((account_no, why, written))

    def _billed_in(self, number: str, account_no: str | None, currency: str) -> None:
        """An invoice of the customer `account_no` is in `currency`: kept when that is not its own."""
        if account_no is not None and currency != self._currency.get(account_no, currency):
            self._foreign[(account_no, number.strip().upper())].add(currency)

    def invoice_posted(self, number: str, account_no: str, amount: Money, on: date) -> None:
        """An invoice of this import: receipts later in the import may name it, or pay its amount."""
        self._add(number, self.ids[account_no], "invoice")
        self._billed_in(number, account_no, amount.currency)
        billed, written = self._billed[(self.ids[account_no], amount.currency)], number.strip().upper()
        billed[written] = billed.get(written, 0) + amount.minor
        key = (amount.currency, amount.minor)
        if key in self._invoices_by_amount:
            self._invoices_by_amount[key].append((on, self.ids[account_no], number, None))

    def receipt_posted(self, account_no: str, amount: Money, named: Sequence[str]) -> None:
        """A receipt of this batch that goes to `account_no`: what it pays (the invoices `named` first,
        then the oldest) is no longer open to the next receipts' amounts."""
        customer_id = self.ids.get(account_no)
        if customer_id is not None:
            key = (customer_id, amount.currency)
            self._paid[key].append((amount.minor, tuple(named)))
            self._open.pop(key, None)  # worked out again, with it

    def invoice_withdrawn(self, number: str) -> None:
        """An invoice reversed (changed, or cancelled): no longer open at its old amount."""
        for invoices in self._invoices_by_amount.values():
            invoices[:] = [invoice for invoice in invoices if invoice[2] != number]

    def prefetch_amounts(self, amounts: Iterable[Money], *, new_batch: bool = False) -> None:
        """Read the posted invoices of these amounts at once: a batch's receipts may reach tier 4.
        A new batch forgets the last one's (earlier batches are in the database by now), so memory
        holds one batch's amounts, not every amount of a large import."""
        if new_batch:
            self._invoices_by_amount.clear()
            self._open.clear()
            self._billed.clear()
            self._paid.clear()
        wanted: defaultdict[str, set[int]] = defaultdict(set)
        for amount in amounts:
            if (amount.currency, amount.minor) not in self._invoices_by_amount:
                wanted[amount.currency].add(amount.minor)
        for currency, minors in wanted.items():
            for minor in minors:
                self._invoices_by_amount[(currency, minor)] = []
            where = "kind = 'invoice' AND status = 'posted' AND currency = {p}"
            for minor, dated, customer_id, number, entry_id in rows_in(
                self.session,
                "amount_minor, document_date, customer_id, number, entry_id",
                "imported_documents",
                "amount_minor",
                minors,
                where,
                currency,
                array_type="bigint",
            ):
                if number is not None and customer_id is not None:
                    on = row_date(dated)
                    self._invoices_by_amount[(currency, minor)].append((on, customer_id, number, entry_id))

    def in_other_currencies(
        self, account_no: str, numbers: Iterable[str], currency: str
    ) -> list[tuple[str, str]]:
        """(number, currency) of each of `numbers` that is an invoice of the customer's in another
        currency than `currency` only: a receipt in `currency` does not settle it. Numbers of no invoice
        of its (another's, or none) are passed over."""
        home = self._currency.get(account_no)
        found = []
        for number in numbers:
            written = number.strip().upper()
            if not any(a == account_no and why == "invoice" for a, why, _ in self._tokens.get(written, ())):
                continue
            billed = self._foreign.get((account_no, written)) or ({home} if home else set())
            if billed and currency not in billed:
                found.append((number, "/".join(sorted(billed))))
        return found

    # --- the matcher's questions ------------------------------------------------------------------

    def by_token(self, token: str) -> Sequence[tuple[str, str, str]]:
        return sorted(self._tokens.get(token, ()))

    def by_bank_account(self, account: str) -> Sequence[str]:
        return sorted(self._banks.get(self.cipher.blind_index("bank_account", account), ()))

    def by_name(self, name: str, threshold: int) -> Sequence[tuple[str, int]]:
        names = self._load_names()
        wanted = name_core(name)
        if not wanted:
            return []
        found = process.extract(
            wanted, self._name_choices, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
        )
        scored: list[tuple[str, int]] = []
        choices = 0
        for choice, score, _ in found:
            alike = self._same_qualifiers(choice, names[choice], name)
            scored += [(account_no, round(score)) for account_no in alike]
            choices += bool(alike)
            if choices == 5:
                break
        return scored

    def by_exact_name(self, name: str) -> Sequence[str]:
        core = name_core(name)
        return self._same_qualifiers(core, self._load_names().get(core, []), name)

    def _same_qualifiers(self, core: str, account_nos: Sequence[str], name: str) -> list[str]:
        """Those of `account_nos` (named `core`) whose name has the bracketed qualifiers of `name`
        (`name_qualifiers`): the Hong Kong company, 明远（香港）, is not its mainland namesake 明远. A
        qualifier one name brackets and the other writes without brackets (明远香港) is in both."""
        wanted, theirs = name_qualifiers(name), name_core(name)
        return [
            account_no
            for account_no in account_nos
            if any(
                all(word in core for word in wanted - written)
                and all(word in theirs for word in written - wanted)
                for written in self._qualifiers.get((core, account_no), _UNQUALIFIED)
            )
        ]

    def by_open_invoice(self, amount: Money, on: date, window_days: int) -> Sequence[tuple[str, str]]:
        self.prefetch_amounts([amount])
        since = on - timedelta(days=window_days)
        found = []
        for dated, customer_id, number, entry_id in self._invoices_by_amount[(amount.currency, amount.minor)]:
            if not since <= dated <= on or customer_id not in self.account_nos:
                continue
            key = (self.ids[self.account_nos[customer_id]], amount.currency)  # its survivor's
            if entry_id is None:  # posted in this batch: unpaid, unless the customer owes less than it
                paid = sum(minor for minor, _ in self._paid[key])
                unpaid = self._owed(*key) + sum(self._billed[key].values()) - paid >= amount.minor
            else:
                unpaid = self._still_open(*key).get(entry_id, 0) >= amount.minor
            if unpaid:
                found.append((self.account_nos[customer_id], number))
        return found

    def _counted_in(self, customer_id: int) -> list[int]:
        """The customer and those merged into it: what it is owed is theirs too."""
        if self._members is None:
            self._members = defaultdict(list)
            for counted, account_no in self.account_nos.items():
                self._members[account_no].append(counted)
        return self._members[self.account_nos[customer_id]]

    def _still_open(self, customer_id: int, currency: str) -> dict[int, int]:
        """Entry id → what is still open of each invoice of the customer (and those merged into it) in
        `currency`, by aging's settlement rule (what receipts name, then oldest first), less what this
        batch's receipts pay; read once per batch."""
        key = (customer_id, currency)
        if key not in self._open:
            counted = self._counted_in(customer_id)
            found = ar_lines(self.session, counted, self.receivable_code, date.max)
            lines = [line for counted_id in counted for line in found.get((counted_id, currency), [])]
            items, _ = open_items(lines, payment_terms_days=0)
            still = {item.entry_id: item.amount_minor for item in items}  # oldest first
            if self._paid[key]:
                self._pay(still, counted, self._paid[key], self._billed[key])
            self._open[key] = still
        return self._open[key]

    def _pay(
        self,
        still: dict[int, int],
        counted: list[int],
        paid: list[tuple[int, tuple[str, ...]]],
        billed: dict[str, int],
    ) -> None:
        """Take this batch's receipts off `still`: each the invoices it names first (those of this batch,
        `billed` by number, are not in `still`: what it pays of them is taken off it first), then the
        oldest."""
        numbered: dict[str, int] = {}
        if any(named for _, named in paid):
            numbers = select(ImportedDocument.number, ImportedDocument.entry_id).where(
                ImportedDocument.customer_id.in_(counted),
                ImportedDocument.kind == "invoice",
                ImportedDocument.status == "posted",
            )
            numbered = {str(n).upper(): e for n, e in self.session.execute(numbers) if n and e is not None}
        billed = dict(billed)  # what is left of each of this batch's invoices, as receipts pay them
        for minor, written in paid:
            named = [number.strip().upper() for number in written]
            for number in named:
                taken = min(minor, billed.get(number, 0))
                if taken:
                    billed[number] -= taken
                    minor -= taken
            named_entries = [numbered[number] for number in named if number in numbered]
            for entry_id in [*named_entries, *still]:
                if not minor:
                    break
                taken = min(minor, still.get(entry_id, 0))
                still[entry_id] = still.get(entry_id, 0) - taken
                minor -= taken

    def _owed(self, customer_id: int, currency: str) -> int:
        """What the customer (and those merged into it) owe on receivables in `currency`, as posted."""
        balance = self.session.scalar(
            select(func.sum(CustomerBalance.balance_minor)).where(
                CustomerBalance.customer_id.in_(self._counted_in(customer_id)),
                CustomerBalance.account_code == self.receivable_code,
                CustomerBalance.currency == currency,
            )
        )
        return int(balance or 0)

    def _load_names(self) -> dict[str, list[str]]:
        if self._names is None:
            names: defaultdict[str, list[str]] = defaultdict(list)
            qualified: dict[tuple[str, str], set[frozenset[str]]] = {}
            for customer_id, name_enc in self.session.execute(select(Customer.id, Customer.name_enc)):
                name = self.cipher.decrypt("customer.name", name_enc)
                key = name_core(name)
                account_no = self.account_nos[customer_id]  # a merged customer's name: its survivor's
                first = account_no not in names[key]
                if first:
                    names[key].append(account_no)
                qualifiers = name_qualifiers(name)
                if qualifiers or (key, account_no) in qualified:  # kept for names with any only
                    unqualified_before = set() if first else set(_UNQUALIFIED)
                    qualified.setdefault((key, account_no), unqualified_before).add(qualifiers)
            self._names = dict(names)
            self._qualifiers = {key: frozenset(found) for key, found in qualified.items()}
            self._name_choices = list(names)
        return self._names


_UNQUALIFIED: frozenset[frozenset[str]] = frozenset({frozenset()})  # the qualifiers of names without any


def _survivor(customer_id: int, everyone: dict[int, tuple[str, int | None]]) -> int:
    """The customer `customer_id` counts in now: itself, or the end of its chain of merges."""
    seen = {customer_id}
    into = everyone[customer_id][1]
    while into is not None and into in everyone and into not in seen:  # a cycle is never followed twice
        customer_id = into
        seen.add(into)
        into = everyone[into][1]
    return customer_id
