"""Customers on the ledger side: account numbers, classification, credit terms, encrypted contact data."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.errors import CustomerError, UnknownAccountError
from connector.ledger.models import AccountNumberSequence, Customer, CustomerBankAccount
from connector.master.identity import normalise_name
from connector.money import Money, currency_code
from connector.security.cipher import FieldCipher

CODE_PATTERN = re.compile(r"^[0-9A-Za-z]{1,20}$")
SEQUENCES: Table = AccountNumberSequence.__table__  # type: ignore[assignment]
ANY = "*"  # sequence scope for a placeholder the template does not use


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


class AccountNumbers:
    """Builds account numbers from the template; sequences count per (type, region) and never go back."""

    def __init__(self, template: str) -> None:
        self.template = template
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        self.scoped_by_type = "type" in fields
        self.scoped_by_region = "region" in fields

    def next(self, session: Session, customer_type: str, region: str) -> tuple[int, str]:
        scope_type = customer_type if self.scoped_by_type else ANY
        scope_region = region if self.scoped_by_region else ANY
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(SEQUENCES).values(customer_type=scope_type, region=scope_region, last_seq=1)
        allocate = statement.on_conflict_do_update(
            index_elements=["customer_type", "region"], set_={"last_seq": SEQUENCES.c.last_seq + 1}
        ).returning(SEQUENCES.c.last_seq)
        seq = int(session.execute(allocate).scalar_one())
        return seq, self.template.format(type=customer_type, region=region, seq=seq)


class CustomerDirectory:
    def __init__(self, session: Session, cipher: FieldCipher, account_number_template: str) -> None:
        self.session = session
        self.cipher = cipher
        self.numbers = AccountNumbers(account_number_template)

    def create(self, new: NewCustomer, account_number_template: str | None = None) -> CustomerView:
        """A new customer; `account_number_template` overrides the configured one (a class's own)."""
        for label, code in (("customer type", new.customer_type), ("region", new.region)):
            if not CODE_PATTERN.match(code):
                raise CustomerError(f"{label} code {code!r} must be 1–20 letters or digits")
        if not new.name.strip():
            raise CustomerError("a customer needs a name")
        if new.payment_terms_days < 0:
            raise CustomerError(f"payment terms must be zero or more days, got {new.payment_terms_days}")
        currency = currency_code(new.currency)
        if new.credit_limit is not None and new.credit_limit.currency != currency:
            raise CustomerError(f"credit limit in {new.credit_limit.currency} for a {currency} customer")
        numbers = self.numbers if account_number_template is None else AccountNumbers(account_number_template)
        seq, account_no = numbers.next(self.session, new.customer_type, new.region)
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

    def _set_contact(
        self, customer: Customer, name: str, email: str | None, phone: str | None, address: str | None
    ) -> None:
        encrypt, index = self.cipher.encrypt_optional, self.cipher.blind_index
        customer.name_enc = self.cipher.encrypt("customer.name", name.strip())
        customer.name_index = index("name", normalise_name(name))
        customer.email_enc = encrypt("customer.email", email)
        customer.email_index = index("email", email) if email else None
        customer.phone_enc = encrypt("customer.phone", phone)
        customer.phone_index = index("phone", phone) if phone else None
        customer.address_enc = encrypt("customer.address", address)

    def update_contact(
        self, customer_id: int, name: str, email: str | None, phone: str | None, address: str | None
    ) -> None:
        """Replace the contact data (and its look-up indexes) of a customer; the account number stays."""
        customer = self.session.get_one(Customer, customer_id)
        if not name.strip():
            raise CustomerError("a customer needs a name")
        self._set_contact(customer, name, email, phone, address)

    def add_bank_account(self, customer_id: int, number: str) -> None:
        index = self.cipher.blind_index("bank_account", number)
        known = self.session.scalar(
            select(CustomerBankAccount.id).where(
                CustomerBankAccount.customer_id == customer_id, CustomerBankAccount.account_index == index
            )
        )
        if known is None:
            enc = self.cipher.encrypt("customer_bank_account.number", number.strip())
            self.session.add(
                CustomerBankAccount(customer_id=customer_id, account_enc=enc, account_index=index)
            )
            self.session.flush()

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

    def find_by_name(self, name: str, region: str) -> list[CustomerView]:
        """Customers with this region and this name, legal-form words, case, width and punctuation ignored."""
        index = self.cipher.blind_index("name", normalise_name(name))
        query = select(Customer).where(Customer.name_index == index, Customer.region == region)
        return [self._view(c) for c in self.session.scalars(query)]

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
        )
