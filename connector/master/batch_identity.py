"""The identity rules' look-ups for one batch, answered from memory.

Loaded once per batch with a few IN-queries: the customers holding any identifier (blind index of an
e-mail, a phone, a name) of the batch's unbound records, with their decrypted e-mail and phone, status
and the backends of their active bindings — everything `DirectoryLookup` would read for those records
(namesakes bound to the batch's backend alone are neither read there nor here: the name rule skips
them, and there may be thousands).
Kept exact while the batch runs: customers the batch creates are added as they are planned (under a
provisional key until written), and a customer changed by a record applied on its own is read again.
So `resolve(incoming, order, lookup)` gives, for every record of the batch, what it would give against
the database after the records before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy.orm import Session

from connector.bulk import rows_in
from connector.ledger.customers import CustomerDirectory, Indexes, backends_in
from connector.ledger.models import Customer
from connector.master.identity import Candidate, Incoming, name_core, name_variant, rules_asked

PROVISIONAL = 1 << 62  # keys of customers planned but not written yet: above every real id, in order


class _Known(NamedTuple):
    """A customer as the identity rules see it, and where it is filed."""

    email: str | None
    phone: str | None
    status: str
    backends: frozenset[str]
    indexes: Indexes
    region: str


class BatchIdentity:
    def __init__(self, session: Session, directory: CustomerDirectory) -> None:
        self.session = session
        self.directory = directory
        self.customers: dict[int, _Known] = {}
        self.emails: defaultdict[str, set[int]] = defaultdict(set)
        self.phones: defaultdict[str, set[int]] = defaultdict(set)
        self.names: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # (name index, region)
        self.real: dict[int, int] = {}  # provisional key → id, once written
        self.merged_into: dict[int, int] = {}  # a merged customer → the one it went into
        self._keys: dict[int, int] = {}  # id → the key a customer is filed under
        self._next = PROVISIONAL

    # --- loading and keeping up to date ------------------------------------------------------------

    def load(self, indexes: Sequence[Indexes], backend: str) -> None:
        """The customers holding any of these identifiers, as the identity rules see them: by e-mail
        or phone all of them, by name those not bound to `backend` alone (the rule skips those)."""
        columns = (
            "id, email_index, phone_index, name_index, region, status, bound_backends, email_enc, phone_enc, "
            "merged_into_id"
        )
        found = {}
        for key, values, where, params in (
            ("email_index", {i.email for i in indexes if i.email}, "", ()),
            ("phone_index", {i.phone for i in indexes if i.phone}, "", ()),
            (
                "name_index",
                {i.name for i in indexes if i.name},
                "(bound_backends < {p} OR bound_backends > {p})",
                (backend, backend),
            ),
        ):
            for row in rows_in(self.session, columns, "customers", key, values, where, *params):
                found[row[0]] = row
        # Who the merged ones went into: what identified them identifies the survivor now.
        survivors = {row[-1] for row in found.values() if row[-1] is not None}
        while survivors - found.keys():
            wanted = survivors - found.keys()
            for row in rows_in(self.session, columns, "customers", "id", wanted, array_type="bigint"):
                found[row[0]] = row
                if row[-1] is not None:
                    survivors.add(row[-1])
            survivors &= found.keys()  # an id gone (never, with the foreign key) ends the chain
        decrypt = self.directory.cipher.decrypt_optional
        for (
            customer_id,
            email_index,
            phone_index,
            name_index,
            region,
            status,
            backends,
            email,
            phone,
            merged_into,
        ) in found.values():
            if merged_into is not None:
                self.merged_into[customer_id] = merged_into
            self._file(
                customer_id,
                _Known(
                    decrypt("customer.email", email),
                    decrypt("customer.phone", phone),
                    status,
                    backends_in(backends),
                    Indexes(name_index, email_index, phone_index),
                    region,
                ),
            )

    def add(self, email: str | None, phone: str | None, indexes: Indexes, region: str, backend: str) -> int:
        """A customer planned from a record of the batch, bound to it; its provisional key."""
        key = self._next
        self._next += 1
        self._file(key, _Known(email, phone, "active", frozenset({backend}), indexes, region))
        return key

    def written(self, key: int, customer_id: int) -> None:
        self.real[key] = customer_id
        self._keys[customer_id] = key

    def reload(self, customer_id: int) -> None:
        """A customer changed by a record applied on its own: read it again."""
        key = self._keys.get(customer_id, customer_id)
        known = self.customers.pop(key, None)
        if known is not None:
            self._unfile(key, known)
        row = self.session.get_one(Customer, customer_id)
        decrypt = self.directory.cipher.decrypt_optional
        self._file(
            key,
            _Known(
                decrypt("customer.email", row.email_enc),
                decrypt("customer.phone", row.phone_enc),
                row.status,
                backends_in(row.bound_backends),
                Indexes(row.name_index, row.email_index, row.phone_index),
                row.region,
            ),
        )

    def _file(self, key: int, known: _Known) -> None:
        self.customers[key] = known
        if known.indexes.email is not None:
            self.emails[known.indexes.email].add(key)
        if known.indexes.phone is not None:
            self.phones[known.indexes.phone].add(key)
        if known.indexes.name is not None:
            self.names[(known.indexes.name, known.region)].add(key)

    def _unfile(self, key: int, known: _Known) -> None:
        self.emails.get(known.indexes.email or "", set()).discard(key)
        self.phones.get(known.indexes.phone or "", set()).discard(key)
        self.names.get((known.indexes.name or "", known.region), set()).discard(key)

    # --- questions ---------------------------------------------------------------------------------

    def anyone(self, incoming: Incoming, indexes: Indexes, order: Sequence[str]) -> bool:
        """Whether any customer holds an identifier a rule asks about (merged ones too): when nobody
        does, the record is new without asking the rules."""
        for rule in rules_asked(incoming, order):
            if rule == "email" and self.emails.get(indexes.email or ""):
                return True
            if rule == "phone" and self.phones.get(indexes.phone or ""):
                return True
            if rule == "name_region" and any(
                self._namesakes(name, incoming.region or "", incoming.backend)
                for name in (indexes.name or "", self._variant_index(incoming.name))
            ):
                return True
        return False

    def _variant_index(self, name: str | None) -> str:
        """The blind index of the name's other core (`name_variant`), or "" (no customer's)."""
        variant = name_variant(name) if name else None
        return self.directory.blind_index("name", variant) if variant is not None else ""

    def bound(self, backend: str, external_id: str) -> int | None:
        return None  # asked only about records that are not bound (the batch applies those on their own)

    def by_email(self, email: str) -> list[Candidate]:
        return self._candidates(
            self.emails.get(self.directory.blind_index("email", email), ()), survivors=True
        )

    def by_phone(self, phone: str) -> list[Candidate]:
        return self._candidates(
            self.phones.get(self.directory.blind_index("phone", phone), ()), survivors=True
        )

    def by_name_region(
        self, name: str, region: str, backend: str, core: str | None = None
    ) -> list[Candidate]:
        index = self.directory.blind_index("name", core if core is not None else name_core(name))
        return self._candidates(self._namesakes(index, region, backend))

    def _namesakes(self, name_index: str, region: str, backend: str) -> list[int]:
        """Customers filed under this name, except those bound to `backend` (not loaded either)."""
        return [
            key
            for key in self.names.get((name_index, region), ())
            if backend not in self.customers[key].backends
        ]

    def _survivor(self, key: int) -> int:
        """The customer `key` went into by merges, in turn (itself when it was not merged)."""
        seen = {key}
        while self.customers[key].status == "merged":
            into = self.merged_into.get(key)
            if into is None or into in seen:
                break
            seen.add(into)
            key = into
        return key

    def _candidates(self, keys: Iterable[int], *, survivors: bool = False) -> list[Candidate]:
        """The customers filed under `keys`; a merged one is none, or with `survivors` the customer it
        went into (an e-mail or phone a person merged is the survivor's)."""
        found: dict[int, Candidate] = {}
        for filed in sorted(keys):
            key = self._survivor(filed) if survivors else filed
            known = self.customers[key]
            if known.status != "merged":
                found.setdefault(key, Candidate(key, known.email, known.phone, known.backends))
        return list(found.values())
