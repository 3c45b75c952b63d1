"""A batch of mapped records applied at once: new customers and reviews in bulk, the rest on their own.

A first-time load is mostly records that nobody knows yet, and some that share an e-mail, a phone or a
name with another. The batch loads what the identity rules would look up for its records with a few
IN-queries (bindings and open reviews by external id, customers by the blind indexes of e-mail, phone
and name: `BatchIdentity`) and resolves each unbound record in memory, in order. A record whose
identifiers nobody holds is new; the others get `resolve`'s answer from the loaded data. New customers
are classified, numbered per (type, region) once per batch, and written with their bindings and events
in bulk; records held for review are written (or their open review updated) in bulk too.

Every other record — bound, matching a customer to link to, repeating an earlier record's external id,
or with a review the rules now settle — goes through `CustomerMaster.apply` in a savepoint of its own,
after everything planned before it is written, and the customer it changed is read again: each record
sees every record before it, exactly as when applied one by one. A record the master refuses comes back
`failed` and changes nothing; an error of the database fails the batch (the caller rolls its
transaction back), as it did when it came from a single record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Table

from connector.batching import cyclic_gc_paused
from connector.bulk import (
    allocate_ids,
    driver_value,
    insert_rows,
    rows_in,
)
from connector.errors import CustomerError
from connector.ledger.customers import Indexes, NewCustomer
from connector.ledger.models import utcnow
from connector.master.batch_classify import Classifier
from connector.master.batch_identity import BatchIdentity
from connector.master.identity import Incoming, Resolution, name_variant, resolve
from connector.master.models import CustomerBinding, CustomerEvent, IdentityReview
from connector.master.records import (
    BINDING_RECORD,
    REVIEW_RECORD,
    Applied,
    canonical_json,
    hash_of,
    record_json,
    text_of,
)
from connector.master.sealing import BatchEncrypter

if TYPE_CHECKING:
    from connector.master import classify
    from connector.master.service import CustomerMaster

BINDINGS: Table = CustomerBinding.__table__  # type: ignore[assignment]
EVENTS: Table = CustomerEvent.__table__  # type: ignore[assignment]
REVIEWS: Table = IdentityReview.__table__  # type: ignore[assignment]
BINDING_COLUMNS = (  # ids come from the database, in the order of the rows
    "backend",
    "external_id",
    "customer_id",
    "content_hash",
    "record_enc",
    "mapping_digest",
    "status",
    "last_synced_at",
)
EVENT_COLUMNS = ("customer_id", "kind", "backend", "external_id", "detail", "actor", "at")
REVIEW_COLUMNS = (
    "id",
    "backend",
    "external_id",
    "record_enc",
    "content_hash",
    "mapping_digest",
    "rule",
    "candidates",
    "reason",
    "status",
    "created_at",
)
NO_EXTERNAL_ID = "the mapped record has no external_id"


class _Binding(NamedTuple):
    customer_id: int
    content_hash: str
    status: str


class _Unbound(NamedTuple):
    """A record not bound yet: what the identity rules ask about it."""

    position: int  # in the batch
    external_id: str
    incoming: Incoming
    region: classify.Decision
    indexes: Indexes


class _New(NamedTuple):
    """A new customer planned from a record, written with the next bulk write."""

    position: int
    key: int  # its provisional key in the batch's identity look-ups
    external_id: str
    canonical: str  # the record's canonical JSON, which its binding keeps
    content_hash: str
    customer: NewCustomer
    currency: str  # as `CustomerDirectory.check` gave it
    template: str | None
    detail: str  # of its "created" event


class _Held(NamedTuple):
    """A record held for review, written with the next bulk write."""

    position: int
    external_id: str
    record: str  # as JSON in the mapping's order, which the review keeps
    content_hash: str
    resolution: Resolution


def apply_batch(
    master: CustomerMaster, backend: str, records: Sequence[Mapping[str, Any]], mapping_digest: str
) -> list[Applied]:
    with cyclic_gc_paused():
        return _Batch(master, backend, mapping_digest).apply(records)


class _Batch:
    def __init__(self, master: CustomerMaster, backend: str, mapping_digest: str) -> None:
        self.master = master
        self.session = master.session
        self.backend = backend
        self.mapping_digest = mapping_digest
        self.order = master.policy.identity.order
        self.identity = BatchIdentity(master.session, master.directory)
        self.classify = Classifier(master.policy)
        self.results: list[Applied | None] = []
        self.planned: list[_New] = []
        self.held: list[_Held] = []

    def apply(self, records: Sequence[Mapping[str, Any]]) -> list[Applied]:
        self.session.flush()  # the look-ups below go straight to the database
        self.results = [None] * len(records)
        raw_ids = [str(record.get("external_id")) for record in records]
        ids = [text_of(record, "external_id") for record in records]
        canonical = [canonical_json(record) for record in records]
        hashes = [hash_of(text) for text in canonical]
        known = self._bindings({*raw_ids, *(external_id for external_id in ids if external_id is not None)})
        todo: list[int] = []
        touched: set[str] = set()  # external ids an earlier record of the batch may have changed
        for index, (raw_id, external_id) in enumerate(zip(raw_ids, ids, strict=True)):
            binding = known.get(raw_id)
            if (
                binding is not None
                and binding.status == "active"
                and binding.content_hash == hashes[index]
                and external_id not in touched
            ):
                self.results[index] = Applied("unchanged", binding.customer_id)
            else:
                todo.append(index)
                if external_id is not None:
                    touched.add(external_id)
        unbound = {
            index: self._unbound(index, external_id, records[index])
            for index in todo
            if (external_id := ids[index]) is not None and external_id not in known
        }
        reviews = self._open_reviews([item.external_id for item in unbound.values()])
        # and the customers a name's other core finds (`name_variant`): those go to a person
        blind = self.master.directory.blind_index
        variants = [
            Indexes(blind("name", variant), None, None)
            for item in unbound.values()
            if item.incoming.name and (variant := name_variant(item.incoming.name)) is not None
        ]
        self.identity.load([*(item.indexes for item in unbound.values()), *variants], self.backend)
        seen: set[str] = set()
        for index in todo:
            external_id, record = ids[index], records[index]
            if external_id is None:
                self.results[index] = Applied("failed", None, NO_EXTERNAL_ID)
                continue
            item = unbound.get(index)
            # One held for review already is compared with the version held (never replaced by an older).
            if item is None or external_id in seen or external_id in reviews:
                self._apply_alone(index, record)
            else:
                self._resolve(item, record, canonical[index], hashes[index])
            seen.add(external_id)
        self._write()
        return self.results  # type: ignore[return-value]  # every record has its result now

    def _resolve(self, item: _Unbound, record: Mapping[str, Any], canonical: str, digest: str) -> None:
        """What `CustomerMaster.apply` does with an unbound record, planned for the next bulk write."""
        if not self.identity.anyone(item.incoming, item.indexes, self.order):
            self._plan(item, record, canonical, digest)  # nobody to find: a new customer
            return
        resolution = resolve(item.incoming, self.order, self.identity)
        if resolution.outcome == "review":
            held = _Held(item.position, item.external_id, record_json(record), digest, resolution)
            self.held.append(held)
        elif resolution.outcome == "new":
            self._plan(item, record, canonical, digest)
        else:  # a customer to link to
            self._apply_alone(item.position, record)

    # --- look-ups for the whole batch --------------------------------------------------------------

    def _bindings(self, external_ids: set[str]) -> dict[str, _Binding]:
        rows = rows_in(
            self.session,
            "external_id, customer_id, content_hash, status",
            "customer_bindings",
            "external_id",
            external_ids,
            "backend = {p}",
            self.backend,
        )
        return {
            external_id: _Binding(customer_id, digest, status)
            for external_id, customer_id, digest, status in rows
        }

    def _open_reviews(self, external_ids: list[str]) -> dict[str, list[int]]:
        where = "backend = {p} AND status = {p}"
        columns = "external_id, id"
        found: dict[str, list[int]] = {}
        rows = rows_in(
            self.session,
            columns,
            "identity_reviews",
            "external_id",
            external_ids,
            where,
            self.backend,
            "open",
        )
        for external_id, review_id in rows:
            found.setdefault(external_id, []).append(review_id)
        return found

    def _unbound(self, index: int, external_id: str, record: Mapping[str, Any]) -> _Unbound:
        email, phone, name = text_of(record, "email"), text_of(record, "phone"), text_of(record, "name")
        region = self.classify.region(record)
        incoming = Incoming(self.backend, external_id, email, phone, name, region.value)
        indexes = self.master.directory.indexes(name, email, phone)
        return _Unbound(index, external_id, incoming, region, indexes)

    # --- new customers -----------------------------------------------------------------------------

    def _plan(self, item: _Unbound, record: Mapping[str, Any], canonical: str, digest: str) -> None:
        """What `CustomerMaster._create` and `_bind` would do for a new record, to be written in bulk."""
        master, incoming, region = self.master, item.incoming, item.region
        if incoming.name is None:
            message = f"{self.backend} record {item.external_id}: a new customer needs a name"
            self.results[item.position] = Applied("failed", None, message)
            return
        kind = self.classify.customer_type(record)
        currency = (text_of(record, "currency") or master.base_currency).upper()
        terms, template = self.classify.terms(kind.value, currency)
        customer = NewCustomer(
            name=incoming.name,
            customer_type=kind.value,
            region=region.value,
            currency=currency,
            email=incoming.email,
            phone=incoming.phone,
            address=text_of(record, "address"),
            credit_limit=terms.credit_limit,
            payment_terms_days=terms.payment_terms_days,
        )
        try:
            checked = master.directory.check(customer)
        except CustomerError as exc:
            self.results[item.position] = Applied("failed", None, str(exc))
            return
        key = self.identity.add(incoming.email, incoming.phone, item.indexes, region.value, self.backend)
        detail = self.classify.detail(kind, region, terms)
        new = _New(
            item.position, key, item.external_id, canonical, digest, customer, checked, template, detail
        )
        self.planned.append(new)

    # --- writing -----------------------------------------------------------------------------------

    @cached_property
    def _encrypter(self) -> BatchEncrypter:
        return BatchEncrypter(self.master.cipher)

    def _write(self) -> None:
        """Write what is planned: new customers with their bindings and events, then reviews. (No
        savepoint around them: on SQLite it would copy every page they touch once more.)"""
        planned, held, self.planned, self.held = self.planned, self.held, [], []
        if planned:
            for new, customer_id in zip(planned, self._insert_customers(planned), strict=True):
                self.identity.written(new.key, customer_id)
                self.results[new.position] = Applied("created", customer_id)
        if held:
            for item, review_id in zip(held, self._write_reviews(held), strict=True):
                self.results[item.position] = Applied(
                    "review", None, f"review #{review_id}: {item.resolution.reason}"
                )

    def _insert_customers(self, planned: Sequence[_New]) -> list[int]:
        master, session, backend = self.master, self.session, self.backend
        created = master.directory.create_many(
            [new.customer for new in planned],
            templates=[new.template for new in planned],
            indexes=[self.identity.customers[new.key].indexes for new in planned],
            currencies=[new.currency for new in planned],
            bound_to=[backend] * len(planned),
        )
        now = driver_value(session, BINDINGS.c.last_synced_at)(utcnow())
        digest, actor = self.mapping_digest, master.actor
        records = self._encrypter.encrypt([(BINDING_RECORD, new.canonical) for new in planned])
        bindings, events = [], []
        for new, customer, sealed in zip(planned, created, records, strict=True):
            customer_id, external_id = customer.id, new.external_id
            bindings.append(
                (backend, external_id, customer_id, new.content_hash, sealed, digest, "active", now)
            )
            events.append((customer_id, "created", backend, external_id, new.detail, actor, now))
            events.append((customer_id, "bound", backend, external_id, "new customer", actor, now))
        insert_rows(session, BINDINGS, BINDING_COLUMNS, bindings)
        insert_rows(session, EVENTS, EVENT_COLUMNS, events)
        return [customer.id for customer in created]

    def _write_reviews(self, held: Sequence[_Held]) -> list[int]:
        """What `CustomerMaster._hold_for_review` writes for a record without an open review: a new one."""
        session, real = self.session, self.identity.real
        sealed = self._encrypter.encrypt([(REVIEW_RECORD, item.record) for item in held])
        fresh = iter(allocate_ids(session, REVIEWS, len(held)))
        now = driver_value(session, REVIEWS.c.created_at)(utcnow())
        inserts, review_ids = [], []
        for item, record_enc in zip(held, sealed, strict=True):
            resolution = item.resolution
            candidates = ",".join(str(i) for i in sorted(real.get(key, key) for key in resolution.candidates))
            values = (record_enc, item.content_hash, self.mapping_digest, resolution.rule or "", candidates)
            review_id = next(fresh)
            inserts.append(
                (review_id, self.backend, item.external_id, *values, resolution.reason, "open", now)
            )
            review_ids.append(review_id)
        insert_rows(session, REVIEWS, REVIEW_COLUMNS, inserts)
        return review_ids

    # --- every other record ------------------------------------------------------------------------

    def _apply_alone(self, index: int, record: Mapping[str, Any]) -> None:
        """The record through `CustomerMaster.apply` in its own savepoint, after everything before it."""
        self._write()
        applied = self.master._apply_alone(self.backend, record, self.mapping_digest)
        self.results[index] = applied
        if applied.customer_id is not None and applied.outcome != "unchanged":
            self.identity.reload(applied.customer_id)
