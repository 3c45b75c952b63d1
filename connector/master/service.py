"""The customer master: mapped source records become customers through bindings and the identity rules.

A bound record updates its customer (skipped when its content hash is unchanged); an unbound one is
linked by the identity rules, created as a new customer (classified, numbered, with its class's credit
terms), or held for review. Deletions, merges and splits change bindings and statuses, never the
ledger's history; each change is written to the audit trail with its reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import aware, serialize
from connector.errors import CustomerError
from connector.ledger.customers import CustomerDirectory, CustomerView, NewCustomer, merge_survivors
from connector.ledger.models import Customer, utcnow
from connector.master import classify, lifecycle, tiers
from connector.master.batch import apply_batch
from connector.master.bound import refresh_bound_backends
from connector.master.currency import first_posting, take_currency
from connector.master.identity import IDENTITY_LOCK, Incoming, Resolution, resolve
from connector.master.lookup import DirectoryLookup
from connector.master.models import CustomerBinding, CustomerEvent, IdentityReview
from connector.master.policy import CustomerPolicy
from connector.master.records import (
    BINDING_RECORD,
    CONTACT_FIELDS,
    REVIEW_RECORD,
    Applied,
    Outcome,
    SourceRecord,
    canonical_json,
    content_hash,
    modified_at,
    text_of,
)
from connector.money import Money
from connector.security.cipher import FieldCipher
from connector.settings import ChartSettings

__all__ = ["Applied", "CustomerMaster", "Outcome", "SourceRecord", "content_hash"]


class CustomerMaster:
    def __init__(
        self,
        session: Session,
        directory: CustomerDirectory,
        cipher: FieldCipher,
        policy: CustomerPolicy,
        base_currency: str,
        actor: str = "connector",
    ) -> None:
        self.session = session
        self.directory = directory
        self.cipher = cipher
        self.policy = policy
        self.base_currency = base_currency
        self.actor = actor
        self.lookup = DirectoryLookup(session, directory)

    # --- applying source records -------------------------------------------------------------------

    def apply_many(
        self, backend: str, records: Sequence[Mapping[str, Any]], mapping_digest: str
    ) -> list[Applied]:
        """Apply a batch, each record as if applied alone after the ones before it: records whose binding
        already holds their content hash are skipped in bulk, new customers and records held for review
        are written in bulk (`connector.master.batch`), and a record the master refuses comes back
        `failed` with the reason while the others go on."""
        return apply_batch(self, backend, records, mapping_digest)

    def _apply_alone(self, backend: str, record: Mapping[str, Any], mapping_digest: str) -> Applied:
        """Apply one record of a batch in a savepoint: a record the master refuses fails on its own."""
        try:
            with self.session.begin_nested():
                return self.apply(backend, record, mapping_digest)
        except CustomerError as exc:
            return Applied("failed", None, str(exc))

    def apply(self, backend: str, record: Mapping[str, Any], mapping_digest: str) -> Applied:
        external_id = text_of(record, "external_id")
        if external_id is None:
            raise CustomerError("the mapped record has no external_id")
        source = SourceRecord(backend, external_id, record, content_hash(record), mapping_digest)
        region = classify.region(record, self.policy.regions)
        incoming = Incoming(
            backend,
            external_id,
            email=source.text("email"),
            phone=source.text("phone"),
            name=source.text("name"),
            region=region.value,
        )
        resolution = resolve(incoming, self.policy.identity.order, self.lookup)
        if resolution.outcome == "bound":
            return self._update_bound(source)
        if resolution.outcome == "matched" and resolution.customer_id is not None:
            resolution = self._in_its_currency(resolution, source)
        review = self._open_review(backend, external_id)
        if review is not None and (older := self._older_than_held(review, source)) is not None:
            return Applied("stale", None, older)
        if resolution.outcome == "review":
            return self._hold_for_review(review, source, resolution)
        if review is not None:
            self._close_review(
                review, "superseded", None, f"resolved by the identity rules: {resolution.reason}"
            )
        if resolution.outcome == "matched" and resolution.customer_id is not None:
            detail = f"matched by {resolution.rule}: {resolution.reason}"
            self._link(resolution.customer_id, source, detail)
            return Applied("linked", resolution.customer_id, detail)
        customer = self._create(source, region)
        self._bind(customer.id, source, "new customer")
        return Applied("created", customer.id)

    @staticmethod
    def _deleted_since(binding: CustomerBinding, source: SourceRecord) -> str | None:
        """Why a record deleted in its source stays deleted: this version was changed before the
        deletion (a late delivery, a retried or re-imported old copy), or, saying nothing of when it
        changed, is the very version that was deleted. None: it is back in its source."""
        deleted = aware(binding.deleted_at)
        if deleted is None:
            return None
        changed = modified_at(source.values)
        if changed is not None and changed > deleted:
            return None
        if changed is None and binding.content_hash != source.content_hash:
            return None
        when = (
            f"changed at {changed.isoformat()}, " if changed is not None else "the version that was deleted, "
        )
        return f"deleted in {source.backend} at {deleted.isoformat()}: {when}not back in its source"

    def _in_its_currency(self, resolution: Resolution, source: SourceRecord) -> Resolution:
        """The customer the rules found, unless the record is kept in another currency: then a person
        decides (linked, the record would be sent the customer's amounts as its own), as for a merge."""
        assert resolution.customer_id is not None  # matched
        kept_in = source.text("currency") or self.base_currency  # as a new customer would be kept
        customer = self.directory.view(resolution.customer_id)
        if kept_in.upper() == customer.currency:
            return resolution
        why = (
            f"{resolution.reason}; but the record is kept in {kept_in.upper()} and account "
            f"{customer.account_no} in {customer.currency}: linked, it would be sent {customer.currency} "
            "amounts as its own"
        )
        return Resolution("review", None, resolution.rule, (resolution.customer_id,), why)

    def _update_bound(self, source: SourceRecord) -> Applied:
        binding = self._binding(source.backend, source.external_id)
        if binding.content_hash == source.content_hash and binding.status == "active":
            return Applied("unchanged", binding.customer_id)
        before = self.binding_record(binding)
        changed, applied = modified_at(source.values), modified_at(before)
        if binding.status == "active" and changed is not None and applied is not None and changed < applied:
            # A delivery retried late (webhooks retry for days) or a page read before a newer one.
            why = f"changed at {changed.isoformat()}, before the version applied last ({applied.isoformat()})"
            return Applied("stale", binding.customer_id, why)
        if binding.status == "deleted" and (gone := self._deleted_since(binding, source)) is not None:
            return Applied("stale", binding.customer_id, gone)
        if binding.status == "active" and _restamped(before, source.values):
            # Changed at its source only in fields no mapping reads (the figures the push writes, say): its
            # customer is not touched; the binding keeps the newer stamp, so a version older than it (a
            # webhook retried late) is still stale.
            self._store(binding, source)
            return Applied("unchanged", binding.customer_id)
        outcome: Outcome = "updated"
        if binding.status == "deleted":
            outcome = "reactivated"
            binding.status, binding.deleted_at = "active", None
            refresh_bound_backends(self.session, [binding.customer_id])
            self._event(binding.customer_id, "binding_restored", "the record is back in its source", binding)
            self._set_status(binding.customer_id, "active", "a bound record is back in its source")
        self._apply_changes(binding, before, source.values)
        self._classification_drift(binding.customer_id, source.values, binding)
        self._store(binding, source)
        return Applied(outcome, binding.customer_id)

    def _apply_changes(
        self, binding: CustomerBinding, before: Mapping[str, Any], record: Mapping[str, Any]
    ) -> None:
        """Contact fields this record changed since it was last applied (`before`); the rest may come
        from another source (a merge, a cross-source link) and are left alone."""
        current = self.directory.view(binding.customer_id)
        values = {field: getattr(current, field) for field in CONTACT_FIELDS}
        for field in CONTACT_FIELDS:
            if text_of(record, field) != text_of(before, field):
                values[field] = text_of(record, field)
        if values["name"] is None:
            values["name"] = current.name  # a source that drops the name does not blank the customer
        self.directory.update_contact(
            binding.customer_id, values["name"], values["email"], values["phone"], values["address"]
        )

    def _create(self, source: SourceRecord, region: classify.Decision) -> CustomerView:
        """A new customer from a record: classified, numbered, with its class's credit terms; unbound."""
        name = source.text("name")
        if name is None:
            raise CustomerError(f"{source.backend} record {source.external_id}: a new customer needs a name")
        kind = classify.customer_type(source.values, self.policy)
        currency = (source.text("currency") or self.base_currency).upper()
        terms = classify.credit_terms(self.policy, kind.value, currency)
        customer = self.directory.create(
            NewCustomer(
                name=name,
                customer_type=kind.value,
                region=region.value,
                currency=currency,
                email=source.text("email"),
                phone=source.text("phone"),
                address=source.text("address"),
                credit_limit=terms.credit_limit,
                payment_terms_days=terms.payment_terms_days,
            ),
            self.policy.type_named(kind.value).account_number_template,
        )
        limit = str(terms.credit_limit) if terms.credit_limit else "none"
        detail = (
            f"type {kind.value} ({kind.reason}); region {region.value} ({region.reason}); "
            f"credit limit {limit}, terms {terms.payment_terms_days} days"
        )
        self._event(customer.id, "created", detail, backend=source.backend, external_id=source.external_id)
        return customer

    def _link(self, customer_id: int, source: SourceRecord, detail: str) -> None:
        """Bind a record to an existing customer, filling only the contact fields the customer lacks."""
        current = self.directory.view(customer_id)
        self.directory.update_contact(
            customer_id,
            current.name,
            current.email or source.text("email"),
            current.phone or source.text("phone"),
            current.address or source.text("address"),
        )
        if current.status == "inactive":
            self._set_status(customer_id, "active", f"{source.backend} record {source.external_id} bound")
        self._bind(customer_id, source, detail)

    def _bind(self, customer_id: int, source: SourceRecord, detail: str) -> None:
        binding = CustomerBinding(
            backend=source.backend, external_id=source.external_id, customer_id=customer_id
        )
        self.session.add(binding)
        self._store(binding, source)
        refresh_bound_backends(self.session, [customer_id])
        self._event(customer_id, "bound", detail, binding)

    def _store(self, binding: CustomerBinding, source: SourceRecord) -> None:
        binding.content_hash, binding.mapping_digest = source.content_hash, source.mapping_digest
        binding.record_enc = self.cipher.encrypt(BINDING_RECORD, canonical_json(source.values))
        binding.last_synced_at = utcnow()
        self.session.flush()

    def _classification_drift(
        self, customer_id: int, record: Mapping[str, Any], binding: CustomerBinding
    ) -> None:
        """Type and region are part of the account number, so they stay; a source that now says otherwise
        is recorded for an admin to act on."""
        customer = self.session.get_one(Customer, customer_id)
        kind = classify.customer_type(record, self.policy)
        region = classify.region(record, self.policy.regions)
        for label, fixed, now in (
            ("type", customer.customer_type, kind),
            ("region", customer.region, region),
        ):
            if now.value != fixed:
                detail = f"source now gives {label} {now.value} ({now.reason}); the customer stays {fixed}"
                self._event(customer_id, f"{label}_differs", detail, binding)
        kept_in = (text_of(record, "currency") or customer.currency).upper()
        if kept_in != customer.currency and first_posting(self.session, customer_id) is None:
            self._event(
                customer_id,
                "currency_changed",
                take_currency(self.session, customer, kept_in, self.policy),
                binding,
            )
        elif kept_in != customer.currency:
            detail = (
                f"source now keeps the record in {kept_in}; the customer's ledger stays in "
                f"{customer.currency}, as it holds postings (the record's amounts are cleared, withheld "
                f"until it is back in {customer.currency})"
            )
            self._event(customer_id, "currency_differs", detail, binding)

    # --- review queue ------------------------------------------------------------------------------

    def _open_review(self, backend: str, external_id: str) -> IdentityReview | None:
        return self.session.scalars(
            select(IdentityReview).where(
                IdentityReview.backend == backend,
                IdentityReview.external_id == external_id,
                IdentityReview.status == "open",
            )
        ).first()

    def _older_than_held(self, review: IdentityReview, source: SourceRecord) -> str | None:
        """Why `source` changes nothing, when it was changed before the version held for review (a late
        delivery, an older export): else None."""
        held: dict[str, Any] = json.loads(self.cipher.decrypt(REVIEW_RECORD, review.record_enc))
        changed, newer = modified_at(source.values), modified_at(held)
        if changed is None or newer is None or changed >= newer:
            return None
        held_at = newer.isoformat()
        return (
            f"changed at {changed.isoformat()}, before the version held for review #{review.id} ({held_at})"
        )

    def _hold_for_review(
        self, review: IdentityReview | None, source: SourceRecord, resolution: Resolution
    ) -> Applied:
        if review is None:
            review = IdentityReview(backend=source.backend, external_id=source.external_id)
            self.session.add(review)
        review.record_enc = source.sealed(self.cipher, REVIEW_RECORD)
        review.content_hash, review.mapping_digest = source.content_hash, source.mapping_digest
        review.rule, review.reason = resolution.rule or "", resolution.reason
        review.candidates = ",".join(str(candidate) for candidate in resolution.candidates)
        self.session.flush()
        return Applied("review", None, f"review #{review.id}: {resolution.reason}")

    def _close_review(self, review: IdentityReview, status: str, customer_id: int | None, why: str) -> None:
        review.status, review.customer_id = status, customer_id
        review.resolved_at, review.resolved_by = utcnow(), self.actor
        review.reason = f"{review.reason}; {why}"
        self.session.flush()

    def reviews(self, status: str | None = "open") -> list[IdentityReview]:
        """The reviews in `status` (open, linked, created, dismissed, superseded), or all of them (None)."""
        query = select(IdentityReview).order_by(IdentityReview.id)
        if status is not None:
            query = query.where(IdentityReview.status == status)
        return list(self.session.scalars(query))

    def review_record(self, review: IdentityReview) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.cipher.decrypt(REVIEW_RECORD, review.record_enc))
        return loaded

    def binding_record(self, binding: CustomerBinding) -> dict[str, Any]:
        """The record as it was applied last (mapped, decrypted)."""
        loaded: dict[str, Any] = json.loads(self.cipher.decrypt(BINDING_RECORD, binding.record_enc))
        return loaded

    def resolve_review(
        self, review_id: int, *, link_to: str | None = None, create: bool = False, why: str = ""
    ) -> Applied:
        """A person's decision: link the record to the customer `link_to`, create a new one, or dismiss it;
        `why` is kept with the decision, on the review and in the customer's audit trail."""
        serialize(self.session, IDENTITY_LOCK)  # never beside a merge of the customer it links to
        review = self.session.get(IdentityReview, review_id)
        if review is None or review.status != "open":
            raise CustomerError(f"no open review #{review_id}")
        source = SourceRecord(
            review.backend,
            review.external_id,
            self.review_record(review),
            review.content_hash,
            review.mapping_digest,
        )
        reason = f"{why}; " if why else ""  # as a merge, unmerge or split words it
        if link_to is not None:
            customer = self.directory.get(link_to)
            if customer.status == "merged":
                raise CustomerError(
                    f"{link_to} was merged into another customer: link the record to that one"
                )
            kept_in = (source.text("currency") or customer.currency).upper()
            if kept_in != customer.currency:
                raise CustomerError(
                    f"the record is kept in {kept_in} and {link_to} in {customer.currency}: it would be sent "
                    f"{customer.currency} amounts as its own; make it a customer of its own (--new)"
                )
            detail = f"{reason}linked by {self.actor} (review #{review.id}: {review.reason})"
            self._link(customer.id, source, detail)
            self._close_review(review, "linked", customer.id, f"{reason}linked to {link_to} by {self.actor}")
            return Applied("linked", customer.id, detail)
        if create:
            created = self._create(source, classify.region(source.values, self.policy.regions))
            self._bind(created.id, source, f"{reason}new customer by {self.actor} (review #{review.id})")
            self._close_review(review, "created", created.id, f"{reason}new customer by {self.actor}")
            return Applied("created", created.id)
        self._close_review(review, "dismissed", None, f"{reason}dismissed by {self.actor}")
        return Applied("dismissed")

    # --- deletions, merges, splits (connector.master.lifecycle) ---------------------------------------

    def delete(self, backend: str, external_id: str, at: datetime | None = None) -> Applied:
        """The record was deleted at its source (`at`, when it says when): its binding is marked deleted,
        and the customer becomes inactive when that was its last active binding. The ledger keeps
        everything."""
        return lifecycle.delete(self, backend, external_id, at)

    def merge(self, survivor_no: str, absorbed_no: str, why: str = "") -> int:
        """Fold `absorbed` into `survivor`: its bindings move over, it is marked merged. Its ledger history
        stays where it is and counts in the survivor's figures; returns the bindings moved."""
        return lifecycle.merge(self, survivor_no, absorbed_no, why)

    def unmerge(self, absorbed_no: str, why: str = "") -> CustomerView:
        """Undo the merge of `absorbed`: a customer of its own again, with the records the merge moved."""
        return lifecycle.unmerge(self, absorbed_no, why)

    def split(self, backend: str, external_id: str, why: str = "") -> CustomerView:
        """Take a wrongly linked record off its customer: it becomes a new customer of its own."""
        return lifecycle.split(self, backend, external_id, why)

    # --- value tiers --------------------------------------------------------------------------------

    def reclassify_tiers(self, chart: ChartSettings, as_of: date) -> Counter[str]:
        """Recompute every live customer's value tier from its payments, as its credit figures count
        them by the accounts of `chart`; each change is recorded."""
        window = self.policy.tier_window_days
        receipts = self._folded_into_survivors(tiers.receipts_by_customer(self.session, chart, as_of, window))
        changes: Counter[str] = Counter()
        live = select(Customer).where(Customer.status != "merged").execution_options(yield_per=1000)
        for customer in self.session.scalars(live):
            paid, count = receipts.get((customer.id, customer.currency), (0, 0))
            history = classify.PaymentHistory(Money(paid, customer.currency), count)
            decision = classify.value_tier(history, self.policy)
            tier = decision.value if decision else None
            if tier == customer.value_tier:
                changes["unchanged"] += 1
                continue
            why = decision.reason if decision else f"no tier reached ({history.paid}, {count} payment(s))"
            self._event(customer.id, "tier", f"{customer.value_tier or 'none'} → {tier or 'none'}: {why}")
            customer.value_tier = tier
            changes["changed"] += 1
        self.session.flush()
        return changes

    def _folded_into_survivors(
        self, receipts: Mapping[tuple[int, str], tuple[int, int]]
    ) -> dict[tuple[int, str], tuple[int, int]]:
        """Receipts by customer, a merged customer's counted for the customer it went into (and that one's
        in turn), as its credit figures count them."""
        survivors = merge_survivors(self.session, {customer_id for customer_id, _ in receipts})
        folded: dict[tuple[int, str], tuple[int, int]] = {}
        for (customer_id, currency), (paid, count) in receipts.items():
            survivor = survivors[customer_id]
            earlier_paid, earlier_count = folded.get((survivor, currency), (0, 0))
            folded[(survivor, currency)] = (earlier_paid + paid, earlier_count + count)
        return folded

    # --- helpers -----------------------------------------------------------------------------------

    def _binding(self, backend: str, external_id: str) -> CustomerBinding:
        binding = self.session.scalars(
            select(CustomerBinding).where(
                CustomerBinding.backend == backend, CustomerBinding.external_id == external_id
            )
        ).first()
        if binding is None:
            raise CustomerError(f"no customer is bound to {backend} record {external_id}")
        return binding

    def _active_bindings(self, customer_id: int) -> list[CustomerBinding]:
        return list(
            self.session.scalars(
                select(CustomerBinding).where(
                    CustomerBinding.customer_id == customer_id, CustomerBinding.status == "active"
                )
            )
        )

    def _set_status(self, customer_id: int, status: str, why: str) -> None:
        customer = self.session.get_one(Customer, customer_id)
        if customer.status != status and customer.status != "merged":
            self._event(customer_id, status, why)
            customer.status = status

    def _event(
        self,
        customer_id: int,
        kind: str,
        detail: str,
        binding: CustomerBinding | None = None,
        *,
        related: int | None = None,
        backend: str | None = None,
        external_id: str | None = None,
    ) -> None:
        self.session.add(
            CustomerEvent(
                customer_id=customer_id,
                kind=kind,
                related_customer_id=related,
                backend=binding.backend if binding else backend,
                external_id=binding.external_id if binding else external_id,
                detail=detail,
                actor=self.actor,
            )
        )

    def history(self, customer_id: int) -> list[CustomerEvent]:
        return list(
            self.session.scalars(
                select(CustomerEvent)
                .where(CustomerEvent.customer_id == customer_id)
                .order_by(CustomerEvent.id)
            )
        )


def _restamped(applied: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether `record` is the version applied last (as its binding keeps it) but for its `modified_at`."""

    def content(values: Mapping[str, Any]) -> str:
        return canonical_json({name: value for name, value in values.items() if name != "modified_at"})

    return content(applied) == content(record)
