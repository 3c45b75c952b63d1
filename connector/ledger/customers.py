"""Customers on the ledger side: account numbers, classification, credit terms, encrypted contact data."""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from connector.bulk import allocate_ids, driver_value, in_chunks, insert_rows, param_mark
from connector.errors import CustomerError, MoneyError, UnknownAccountError
from connector.ledger.index_key import check_index_key
from connector.ledger.models import AccountNumberSequence, Customer, CustomerBankAccount, utcnow
from connector.master.identity import name_core
from connector.master.models import CustomerBinding
from connector.master.records import BINDING_RECORD
from connector.master.sealing import BatchEncrypter, BlindIndexer
from connector.money import Money, currency_code
from connector.security.cipher import FieldCipher

CODE_PATTERN = re.compile(r"^[0-9A-Za-z]{1,20}$")
SEQUENCES: Table = AccountNumberSequence.__table__  # type: ignore[assignment]
CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
ANY = "*"  # sequence scope for a placeholder the template does not use
CUSTOMER_COLUMNS = (
    "id",
    "account_no",
    "customer_type",
    "region",
    "seq",
    "value_tier",
    "name_enc",
    "name_index",
    "email_enc",
    "email_index",
    "phone_enc",
    "phone_index",
    "address_enc",
    "currency",
    "credit_limit_minor",
    "payment_terms_days",
    "status",
    "bound_backends",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class NewCustomer:
    name: str
    customer_type: str
    region: str
    currency: str
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    bank_accounts: tuple[str, ...] = ()
    credit_limit: Money | None = None
    payment_terms_days: int = 30
    value_tier: str | None = None


@dataclass(frozen=True)
class CustomerView:
    """A customer with its personal data decrypted (for display and matching, never logged)."""

    id: int
    account_no: str
    name: str
    customer_type: str
    region: str
    currency: str
    email: str | None
    phone: str | None
    address: str | None
    credit_limit: Money | None
    payment_terms_days: int
    value_tier: str | None
    status: str
    backends: frozenset[str] = frozenset()  # of its active bindings


def backends_column(backends: Iterable[str]) -> str:
    """`customers.bound_backends` for these backends: sorted, comma-separated, "" for none."""
    return ",".join(sorted(set(backends)))


def backends_in(column: str) -> frozenset[str]:
    return frozenset(column.split(",")) if column else frozenset()


class Created(NamedTuple):
    id: int
    account_no: str


class Indexes(NamedTuple):
    """Blind indexes of the contact fields customers are found by (identity rules, look-ups)."""

    name: str | None
    email: str | None
    phone: str | None


class Contact(NamedTuple):
    """Contact data as a customer row stores it: ciphertexts and blind indexes."""

    name_enc: str
    name_index: str | None
    email_enc: str | None
    email_index: str | None
    phone_enc: str | None
    phone_index: str | None
    address_enc: str | None


def contact_indexes(
    index: Callable[[str, str], str], name: str | None, email: str | None, phone: str | None
) -> Indexes:
    """The blind indexes stored with these contact fields, which `find_by_*` look them up with;
    `index` is `FieldCipher.blind_index` or a stand-in giving the same."""
    return Indexes(
        index("name", name_core(name)) if name is not None else None,
        index("email", email) if email else None,
        index("phone", phone) if phone else None,
    )


def seal_contact(
    cipher: FieldCipher, name: str, email: str | None, phone: str | None, address: str | None
) -> Contact:
    encrypt = cipher.encrypt_optional
    indexes = contact_indexes(cipher.blind_index, name, email, phone)
    return Contact(
        cipher.encrypt("customer.name", name.strip()),
        indexes.name,
        encrypt("customer.email", email),
        indexes.email,
        encrypt("customer.phone", phone),
        indexes.phone,
        encrypt("customer.address", address),
    )


def allocate_sequences(session: Session, counts: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """Take `count` consecutive numbers of each (type, region) sequence; the first of each.

    One upsert for all of them, in sorted order so that concurrent writers lock them in one order.
    """
    if not counts:
        return {}
    mark = param_mark(session)
    scopes = sorted(counts)
    statement = (
        f"INSERT INTO {SEQUENCES.name} (customer_type, region, last_seq) "
        f"VALUES {', '.join([f'({mark}, {mark}, {mark})'] * len(scopes))} "
        "ON CONFLICT (customer_type, region) "
        f"DO UPDATE SET last_seq = {SEQUENCES.name}.last_seq + excluded.last_seq "
        "RETURNING customer_type, region, last_seq"
    )
    values = [value for scope in scopes for value in (*scope, counts[scope])]
    rows = session.connection().exec_driver_sql(statement, tuple(values))
    return {(kind, region): int(last) - counts[kind, region] + 1 for kind, region, last in rows}


class AccountNumbers:
    """Builds account numbers from the template; sequences count per (type, region) and never go back."""

    def __init__(self, template: str) -> None:
        self.template = template
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        self.scoped_by_type = "type" in fields
        self.scoped_by_region = "region" in fields

    def scope(self, customer_type: str, region: str) -> tuple[str, str]:
        """The sequence these numbers count in: per type and region, as far as the template shows them."""
        return (customer_type if self.scoped_by_type else ANY, region if self.scoped_by_region else ANY)

    def format(self, customer_type: str, region: str, seq: int) -> str:
        return self.template.format(type=customer_type, region=region, seq=seq)

    def next(self, session: Session, customer_type: str, region: str) -> tuple[int, str]:
        scope = self.scope(customer_type, region)
        seq = allocate_sequences(session, {scope: 1})[scope]
        return seq, self.format(customer_type, region, seq)


class CustomerDirectory:
    def __init__(self, session: Session, cipher: FieldCipher, account_number_template: str) -> None:
        self.session = session
        self.cipher = cipher
        self.numbers = AccountNumbers(account_number_template)
        self._templates: dict[str, AccountNumbers] = {}
        self._index_key_checked = False

    def _numbers(self, template: str | None) -> AccountNumbers:
        if template is None:
            return self.numbers
        numbers = self._templates.get(template)
        if numbers is None:
            numbers = self._templates[template] = AccountNumbers(template)
        return numbers

    def check(self, new: NewCustomer) -> str:
        """Refuse a customer that cannot be created (`CustomerError`, naming why); its currency code."""
        for label, code in (("customer type", new.customer_type), ("region", new.region)):
            if not CODE_PATTERN.match(code):
                raise CustomerError(f"{label} code {code!r} must be 1–20 letters or digits")
        if not new.name.strip():
            raise CustomerError("a customer needs a name")
        if new.payment_terms_days < 0:
            raise CustomerError(f"payment terms must be zero or more days, got {new.payment_terms_days}")
        try:
            currency = currency_code(new.currency)
        except MoneyError as exc:  # a record's, refused on its own: the rest of its batch goes on
            raise CustomerError(f"currency: {exc}") from None
        if new.credit_limit is not None and new.credit_limit.currency != currency:
            raise CustomerError(f"credit limit in {new.credit_limit.currency} for a {currency} customer")
        return currency

    def create(self, new: NewCustomer, account_number_template: str | None = None) -> CustomerView:
        """A new customer; `account_number_template` overrides the configured one (a class's own)."""
        currency = self.check(new)
        self._check_index_key()
        seq, account_no = self._numbers(account_number_template).next(
            self.session, new.customer_type, new.region
        )
        customer = Customer(
            account_no=account_no,
            customer_type=new.customer_type,
            region=new.region,
            seq=seq,
            value_tier=new.value_tier,
            name_enc="",
            currency=currency,
            credit_limit_minor=new.credit_limit.minor if new.credit_limit else None,
            payment_terms_days=new.payment_terms_days,
        )
        self._set_contact(customer, new.name, new.email, new.phone, new.address)
        self.session.add(customer)
        self.session.flush()
        for number in new.bank_accounts:
            self.add_bank_account(customer.id, number)
        return self._view(customer)

    def _check_index_key(self) -> None:
        """The first customer indexed records the index key (`index_key`); a later one is checked."""
        if not self._index_key_checked:
            check_index_key(self.session, self.cipher)
            self._index_key_checked = True

    @cached_property
    def blind_index(self) -> Callable[[str, str], str]:
        """`FieldCipher.blind_index`, faster (the same indexes)."""
        return BlindIndexer(self.cipher)

    @cached_property
    def encrypter(self) -> BatchEncrypter:
        """`FieldCipher.encrypt` for many values at once."""
        return BatchEncrypter(self.cipher)

    def indexes(self, name: str | None, email: str | None, phone: str | None) -> Indexes:
        return contact_indexes(self.blind_index, name, email, phone)

    def create_many(
        self,
        new: Sequence[NewCustomer],
        templates: Sequence[str | None] | None = None,
        indexes: Sequence[Indexes] | None = None,
        currencies: Sequence[str] | None = None,
        bound_to: Sequence[str] | None = None,
    ) -> list[Created]:
        """New customers in one go, numbered in their order: the same customers as `create` one after
        the other, written in bulk (no views). `templates` override the account number template per
        customer; `indexes` (from `indexes`) and `currencies` (from `check`) are what the caller worked
        out already; `bound_to` is the backend whose record each customer is bound to as it is made
        (the caller writes those bindings). One customer that `check` refuses refuses them all."""
        if not new:
            return []
        currencies = currencies or [self.check(customer) for customer in new]
        self._check_index_key()
        numbering = [self._numbers(template) for template in templates or [None] * len(new)]
        scopes = [numbers.scope(c.customer_type, c.region) for numbers, c in zip(numbering, new, strict=True)]
        counts: dict[tuple[str, str], int] = {}
        for scope in scopes:
            counts[scope] = counts.get(scope, 0) + 1
        following = allocate_sequences(self.session, counts)
        ids = allocate_ids(self.session, CUSTOMERS, len(new))
        now = driver_value(self.session, CUSTOMERS.c.created_at)(utcnow())
        found = indexes or [self.indexes(c.name, c.email, c.phone) for c in new]
        plain = []
        for customer in new:
            plain.append(("customer.name", customer.name.strip()))
            for field, value in (
                ("email", customer.email),
                ("phone", customer.phone),
                ("address", customer.address),
            ):
                if value is not None:
                    plain.append((f"customer.{field}", value))
        sealed = iter(self.encrypter.encrypt(plain))
        rows, created = [], []
        for customer_id, customer, currency, numbers, scope, index, backend in zip(
            ids, new, currencies, numbering, scopes, found, bound_to or [""] * len(new), strict=True
        ):
            seq = following[scope]
            following[scope] = seq + 1
            account_no = numbers.format(customer.customer_type, customer.region, seq)
            name_enc = next(sealed)
            email_enc = next(sealed) if customer.email is not None else None
            phone_enc = next(sealed) if customer.phone is not None else None
            address_enc = next(sealed) if customer.address is not None else None
            limit = customer.credit_limit.minor if customer.credit_limit else None
            numbered = (customer_id, account_no, customer.customer_type, customer.region, seq)
            contact = (name_enc, index.name, email_enc, index.email, phone_enc, index.phone, address_enc)
            terms = (currency, limit, customer.payment_terms_days)
            rows.append((*numbered, customer.value_tier, *contact, *terms, "active", backend, now, now))
            created.append(Created(customer_id, account_no))
        insert_rows(self.session, CUSTOMERS, CUSTOMER_COLUMNS, rows)
        for made, customer in zip(created, new, strict=True):
            for number in customer.bank_accounts:
                self.add_bank_account(made.id, number)
        return created

    def _set_contact(
        self, customer: Customer, name: str, email: str | None, phone: str | None, address: str | None
    ) -> None:
        (
            customer.name_enc,
            customer.name_index,
            customer.email_enc,
            customer.email_index,
            customer.phone_enc,
            customer.phone_index,
            customer.address_enc,
        ) = seal_contact(self.cipher, name, email, phone, address)

    def update_contact(
        self, customer_id: int, name: str, email: str | None, phone: str | None, address: str | None
    ) -> None:
        """Replace the contact data (and its look-up indexes) of a customer; the account number stays."""
        customer = self.session.get_one(Customer, customer_id)
        if not name.strip():
            raise CustomerError("a customer needs a name")
        self._set_contact(customer, name, email, phone, address)

    def add_bank_account(self, customer_id: int, number: str) -> None:
        add_bank_account(self.session, self.cipher, customer_id, number)

    def get(self, account_no: str) -> CustomerView:
        customer = self.session.scalar(select(Customer).where(Customer.account_no == account_no))
        if customer is None:
            raise UnknownAccountError(f"no customer with account number {account_no}")
        return self._view(customer)

    def find_by_email(self, email: str) -> list[CustomerView]:
        index = self.cipher.blind_index("email", email)
        return [
            self._view(c) for c in self.session.scalars(select(Customer).where(Customer.email_index == index))
        ]

    def find_by_phone(self, phone: str) -> list[CustomerView]:
        index = self.cipher.blind_index("phone", phone)
        return [
            self._view(c) for c in self.session.scalars(select(Customer).where(Customer.phone_index == index))
        ]

    def find_by_name(
        self, name: str, region: str, unbound_in: str | None = None, core: str | None = None
    ) -> list[CustomerView]:
        """Customers with this region and this name, legal-form words, case, width and punctuation
        ignored (or this `core` of a name); with `unbound_in`, those bound to that backend alone left out
        (without reading them)."""
        index = self.cipher.blind_index("name", core if core is not None else name_core(name))
        query = select(Customer).where(Customer.name_index == index, Customer.region == region)
        if unbound_in is not None:
            query = query.where(
                or_(Customer.bound_backends < unbound_in, Customer.bound_backends > unbound_in)
            )
        return [self._view(c) for c in self.session.scalars(query)]

    def listed(
        self, search: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[CustomerView]:
        """Customers by account number, up to `limit`; with `search`, those whose account number, name,
        e-mail or phone holds it, or the name or company of a source record bound to them (case and width
        aside; a phone by its digits, a national number's leading 0 aside: "030 1234567" finds
        +49301234567). All are encrypted: each is decrypted to be compared, so a search reads every
        customer (a second for a hundred thousand), and the records of those not found by their own,
        a thousand customers' in one query."""
        query = select(Customer).order_by(Customer.account_no).execution_options(yield_per=1000)
        if status is not None:
            query = query.where(Customer.status == status)
        wanted = _folded(search) if search else None
        digits = "".join(ch for ch in wanted if ch.isdigit()).lstrip("0") if wanted else ""
        found: list[CustomerView] = []
        for batch in self.session.scalars(query).partitions():
            views = [self._view(customer) for customer in batch]
            if wanted is not None:
                own = {view.id for view in views if _holds(view, wanted, digits)}
                by_record = self._records_holding(wanted, [view.id for view in views if view.id not in own])
                views = [view for view in views if view.id in own or view.id in by_record]
            found.extend(views[: limit - len(found)])
            if len(found) == limit:
                break
        return found

    def _records_holding(self, wanted: str, customer_ids: list[int]) -> set[int]:
        """Those of the customers with an active source record whose name or company holds `wanted`."""
        if not customer_ids:
            return set()
        rows = self.session.execute(
            select(CustomerBinding.customer_id, CustomerBinding.record_enc).where(
                CustomerBinding.customer_id.in_(customer_ids), CustomerBinding.status == "active"
            )
        )
        holding = set()
        for customer_id, record_enc in rows:
            record = json.loads(self.cipher.decrypt(BINDING_RECORD, record_enc))
            if any(wanted in _folded(str(record.get(field) or "")) for field in ("name", "company")):
                holding.add(customer_id)
        return holding

    def view(self, customer_id: int) -> CustomerView:
        return self._view(self.session.get_one(Customer, customer_id))

    def find_by_bank_account(self, number: str) -> list[CustomerView]:
        index = self.cipher.blind_index("bank_account", number)
        query = (
            select(Customer)
            .join(CustomerBankAccount, CustomerBankAccount.customer_id == Customer.id)
            .where(CustomerBankAccount.account_index == index)
        )
        return [self._view(c) for c in self.session.scalars(query)]

    def all(self) -> Iterator[CustomerView]:
        for customer in self.session.scalars(select(Customer).order_by(Customer.account_no)):
            yield self._view(customer)

    def _view(self, customer: Customer) -> CustomerView:
        decrypt = self.cipher.decrypt_optional
        return CustomerView(
            id=customer.id,
            account_no=customer.account_no,
            name=self.cipher.decrypt("customer.name", customer.name_enc),
            customer_type=customer.customer_type,
            region=customer.region,
            currency=customer.currency,
            email=decrypt("customer.email", customer.email_enc),
            phone=decrypt("customer.phone", customer.phone_enc),
            address=decrypt("customer.address", customer.address_enc),
            credit_limit=Money(customer.credit_limit_minor, customer.currency)
            if customer.credit_limit_minor is not None
            else None,
            payment_terms_days=customer.payment_terms_days,
            value_tier=customer.value_tier,
            status=customer.status,
            backends=backends_in(customer.bound_backends),
        )


BANK_ACCOUNT_FIELD = "customer_bank_account.number"


def add_bank_account(
    session: Session, cipher: FieldCipher, customer_id: int, number: str
) -> CustomerBankAccount:
    """The customer's row of payer bank account `number` (encrypted, found by its blind index), added
    unless the customer has it already."""
    index = cipher.blind_index("bank_account", number)
    known = session.scalars(
        select(CustomerBankAccount).where(
            CustomerBankAccount.customer_id == customer_id, CustomerBankAccount.account_index == index
        )
    ).first()
    if known is not None:
        return known
    enc = cipher.encrypt(BANK_ACCOUNT_FIELD, number.strip())
    row = CustomerBankAccount(customer_id=customer_id, account_enc=enc, account_index=index)
    session.add(row)
    session.flush()
    return row


def survivor_of(session: Session, customer_id: int | None) -> Customer | None:
    """The customer, or the one it went into by merges (and so on); None when there is none (a merge
    loop, which `merge` never makes)."""
    seen: set[int] = set()
    while customer_id is not None and customer_id not in seen:
        seen.add(customer_id)
        customer = session.get(Customer, customer_id)
        if customer is None or customer.status != "merged":
            return customer
        customer_id = customer.merged_into_id
    return None


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _holds(view: CustomerView, wanted: str, digits: str) -> bool:
    """Whether the customer's account number, name or e-mail holds `wanted` (folded), or its phone
    these `digits` (six at least)."""
    dialled = len(digits) >= 6 and digits in "".join(ch for ch in view.phone or "" if ch.isdigit())
    return dialled or any(wanted in _folded(text) for text in (view.account_no, view.name, view.email or ""))


def merge_survivors(session: Session, customer_ids: Iterable[int]) -> dict[int, int]:
    """Each customer id → the customer it was merged into (and that one in turn), or itself."""
    wanted = set(customer_ids)
    into: dict[int, int | None] = {}
    asked = set(wanted)
    while asked:
        found: dict[int, int | None] = {}
        for chunk in in_chunks(asked):  # a whole ledger's customers at once: IN lists bounded
            rows = session.execute(select(Customer.id, Customer.merged_into_id).where(Customer.id.in_(chunk)))
            found.update({customer_id: merged for customer_id, merged in rows})
        into.update(found)
        asked = {merged for merged in found.values() if merged is not None and merged not in into}
    survivors = {}
    for customer_id in wanted:
        current, seen = customer_id, {customer_id}
        while (merged := into.get(current)) is not None and merged not in seen:
            current = merged
            seen.add(merged)
        survivors[customer_id] = current
    return survivors
