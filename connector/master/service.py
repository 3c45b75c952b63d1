"""The customer master: mapped source records become customers through bindings and the identity rules.

A bound record updates its customer (skipped when its content hash is unchanged); an unbound one is
linked by the identity rules, created as a new customer (classified, numbered, with its class's credit
terms), or held for review. Deletions, merges and splits change bindings and statuses, never the
ledger's history; each change is written to the audit trail with its reason.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import CustomerError
from connector.ledger.customers import CustomerDirectory, CustomerView, NewCustomer
from connector.ledger.models import Customer, utcnow
from connector.master import classify, tiers
from connector.master.identity import Candidate, Incoming, Resolution, resolve
from connector.master.models import CustomerBinding, CustomerEvent, IdentityReview
from connector.master.policy import CustomerPolicy
from connector.money import Money
from connector.security.cipher import FieldCipher

Outcome = Literal["created", "updated", "unchanged", "linked", "review", "reactivated", "dismissed", "failed"]
CHUNK = 500
CONTACT_FIELDS = ("name", "email", "phone", "address")
BINDING_RECORD = "customer_binding.record"
REVIEW_RECORD = "identity_review.record"


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    customer_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class SourceRecord:
    """A mapped record and where it comes from: what bindings, reviews and events are made of."""

    backend: str
    external_id: str
    values: Mapping[str, Any]
    content_hash: str
    mapping_digest: str

    def text(self, field: str) -> str | None:
        return _text(self.values, field)

    def sealed(self, cipher: FieldCipher, field: str) -> str:
        return cipher.encrypt(field, json.dumps(self.values, default=str, ensure_ascii=False))


def content_hash(values: Mapping[str, Any]) -> str:
    """Hash of a mapped record, independent of key order: equal hashes mean nothing to apply."""
    canonical = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _text(record: Mapping[str, Any], field: str) -> str | None:
    value = record.get(field)
    if value is None:
        return None
    return str(value).strip() or None


class _DirectoryLookup:
    """The identity rules' questions answered from the customer directory (blind indexes, bindings)."""

    def __init__(self, session: Session, directory: CustomerDirectory) -> None:
        self.session = session
        self.directory = directory

    def bound(self, backend: str, external_id: str) -> int | None:
        return self.session.scalar(
            select(CustomerBinding.customer_id).where(
                CustomerBinding.backend == backend, CustomerBinding.external_id == external_id
            )
        )

    def _candidates(self, views: Iterable[CustomerView]) -> list[Candidate]:
        found = [view for view in views if view.status != "merged"]
        backends: dict[int, set[str]] = {view.id: set() for view in found}
        if found:
            rows = self.session.execute(
                select(CustomerBinding.customer_id, CustomerBinding.backend).where(
                    CustomerBinding.customer_id.in_(backends), CustomerBinding.status == "active"
                )
            )
            for customer_id, backend in rows:
                backends[customer_id].add(backend)
        return [Candidate(view.id, view.email, view.phone, frozenset(backends[view.id])) for view in found]

    def by_email(self, email: str) -> list[Candidate]:
        return self._candidates(self.directory.find_by_email(email))

    def by_phone(self, phone: str) -> list[Candidate]:
        return self._candidates(self.directory.find_by_phone(phone))

    def by_name_region(self, name: str, region: str) -> list[Candidate]:
        return self._candidates(self.directory.find_by_name(name, region))


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
        self.lookup = _DirectoryLookup(session, directory)

    # --- applying source records -------------------------------------------------------------------

    def apply_many(
        self, backend: str, records: Sequence[Mapping[str, Any]], mapping_digest: str
    ) -> list[Applied]:
        """Apply a batch; records whose binding already holds their content hash are skipped in bulk, and
        a record the master refuses comes back `failed` with the reason while the others go on."""
        known: dict[str, tuple[int, str, str]] = {}
        ids = [str(record.get("external_id")) for record in records]
        for start in range(0, len(ids), CHUNK):
            rows = self.session.execute(
                select(
                    CustomerBinding.external_id,
                    CustomerBinding.customer_id,
                    CustomerBinding.content_hash,
                    CustomerBinding.status,
                ).where(
                    CustomerBinding.backend == backend,
                    CustomerBinding.external_id.in_(ids[start : start + CHUNK]),
                )
            )
            for external_id, customer_id, digest, status in rows:
                known[external_id] = (customer_id, digest, status)
        results = []
        for external_id, record in zip(ids, records, strict=True):
            binding = known.get(external_id)
            if binding is not None and binding[2] == "active" and binding[1] == content_hash(record):
                results.append(Applied("unchanged", binding[0]))
            else:
                results.append(self._apply_alone(backend, record, mapping_digest))
        return results

    def _apply_alone(self, backend: str, record: Mapping[str, Any], mapping_digest: str) -> Applied:
        """Apply one record of a batch in a savepoint: a record the master refuses fails on its own."""
        try:
            with self.session.begin_nested():
                return self.apply(backend, record, mapping_digest)
        except CustomerError as exc:
            return Applied("failed", None, str(exc))

    def apply(self, backend: str, record: Mapping[str, Any], mapping_digest: str) -> Applied:
        external_id = _text(record, "external_id")
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
        review = self._open_review(backend, external_id)
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

    def _update_bound(self, source: SourceRecord) -> Applied:
        binding = self._binding(source.backend, source.external_id)
        if binding.content_hash == source.content_hash and binding.status == "active":
            return Applied("unchanged", binding.customer_id)
        outcome: Outcome = "updated"
        if binding.status == "deleted":
            outcome = "reactivated"
            binding.status, binding.deleted_at = "active", None
            self._event(binding.customer_id, "binding_restored", "the record is back in its source", binding)
            self._set_status(binding.customer_id, "active", "a bound record is back in its source")
        self._apply_changes(binding, source.values)
        self._classification_drift(binding.customer_id, source.values, binding)
        self._store(binding, source)
        return Applied(outcome, binding.customer_id)

    def _apply_changes(self, binding: CustomerBinding, record: Mapping[str, Any]) -> None:
        """Contact fields this record changed since it was last applied; the rest may come from another
        source (a merge, a cross-source link) and are left alone."""
        before: dict[str, Any] = json.loads(self.cipher.decrypt(BINDING_RECORD, binding.record_enc))
        current = self.directory.view(binding.customer_id)
        values = {field: getattr(current, field) for field in CONTACT_FIELDS}
        for field in CONTACT_FIELDS:
            if _text(record, field) != _text(before, field):
                values[field] = _text(record, field)
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
        self._event(customer_id, "bound", detail, binding)

    def _store(self, binding: CustomerBinding, source: SourceRecord) -> None:
        binding.content_hash, binding.mapping_digest = source.content_hash, source.mapping_digest
        binding.record_enc = source.sealed(self.cipher, BINDING_RECORD)
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

    # --- review queue ------------------------------------------------------------------------------

    def _open_review(self, backend: str, external_id: str) -> IdentityReview | None:
        return self.session.scalars(
            select(IdentityReview).where(
                IdentityReview.backend == backend,
                IdentityReview.external_id == external_id,
                IdentityReview.status == "open",
            )
        ).first()

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

    def reviews(self, status: str = "open") -> list[IdentityReview]:
        return list(
            self.session.scalars(
                select(IdentityReview).where(IdentityReview.status == status).order_by(IdentityReview.id)
            )
        )

    def review_record(self, review: IdentityReview) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.cipher.decrypt(REVIEW_RECORD, review.record_enc))
        return loaded

    def resolve_review(self, review_id: int, *, link_to: str | None = None, create: bool = False) -> Applied:
        """A person's decision: link the record to the customer `link_to`, create a new one, or dismiss it."""
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
        if link_to is not None:
            customer = self.directory.get(link_to)
            detail = f"linked by {self.actor} (review #{review.id}: {review.reason})"
            self._link(customer.id, source, detail)
            self._close_review(review, "linked", customer.id, f"linked to {link_to} by {self.actor}")
            return Applied("linked", customer.id, detail)
        if create:
            created = self._create(source, classify.region(source.values, self.policy.regions))
            self._bind(created.id, source, f"new customer by {self.actor} (review #{review.id})")
            self._close_review(review, "created", created.id, f"new customer by {self.actor}")
            return Applied("created", created.id)
        self._close_review(review, "dismissed", None, f"dismissed by {self.actor}")
        return Applied("dismissed")

    # --- deletions, merges, splits -----------------------------------------------------------------

    def delete(self, backend: str, external_id: str) -> Applied:
        """The record was deleted at its source: its binding is marked deleted, and the customer becomes
        inactive when that was its last active binding. The ledger keeps everything."""
        binding = self.session.scalars(
            select(CustomerBinding).where(
                CustomerBinding.backend == backend, CustomerBinding.external_id == external_id
            )
        ).first()
        if binding is None:
            review = self._open_review(backend, external_id)
            if review is not None:
                self._close_review(review, "dismissed", None, "deleted at its source")
            return Applied("unchanged", None, "no binding for the deleted record")
        if binding.status == "deleted":
            return Applied("unchanged", binding.customer_id, "already deleted")
        binding.status, binding.deleted_at = "deleted", utcnow()
        self._event(binding.customer_id, "binding_deleted", "deleted at its source", binding)
        if not self._active_bindings(binding.customer_id):
            self._set_status(
                binding.customer_id, "inactive", f"its last record ({backend} {external_id}) was deleted"
            )
        self.session.flush()
        return Applied("updated", binding.customer_id, "binding deleted")

    def merge(self, survivor_no: str, absorbed_no: str, why: str = "") -> int:
        """Fold `absorbed` into `survivor`: its bindings move over, it is marked merged. Its ledger history
        stays where it is (balances can be moved by a transfer entry); returns the bindings moved."""
        survivor, absorbed = self.directory.get(survivor_no), self.directory.get(absorbed_no)
        if survivor.id == absorbed.id:
            raise CustomerError("a customer cannot be merged into itself")
        if "merged" in (survivor.status, absorbed.status):
            raise CustomerError("a merged customer cannot take part in another merge")
        bindings = list(
            self.session.scalars(select(CustomerBinding).where(CustomerBinding.customer_id == absorbed.id))
        )
        for binding in bindings:
            binding.customer_id = survivor.id
        row = self.session.get_one(Customer, absorbed.id)
        row.status, row.merged_into_id = "merged", survivor.id
        reason = f"{why}; " if why else ""
        moved = ", ".join(f"{b.backend} {b.external_id}" for b in bindings) or "none"
        self._event(
            absorbed.id,
            "merged_into",
            f"{reason}merged into {survivor_no} by {self.actor}",
            related=survivor.id,
        )
        self._event(
            survivor.id,
            "absorbed",
            f"{reason}absorbed {absorbed_no}; bindings moved: {moved}",
            related=absorbed.id,
        )
        self.session.flush()
        return len(bindings)

    def split(self, backend: str, external_id: str, why: str = "") -> CustomerView:
        """Take a wrongly linked record off its customer: it becomes a new customer of its own."""
        binding = self._binding(backend, external_id)
        if len(self._active_bindings(binding.customer_id)) < 2:
            raise CustomerError(
                f"{backend} {external_id} is its customer's only record: nothing to split off"
            )
        record: dict[str, Any] = json.loads(self.cipher.decrypt(BINDING_RECORD, binding.record_enc))
        source = SourceRecord(backend, external_id, record, binding.content_hash, binding.mapping_digest)
        original = binding.customer_id
        created = self._create(source, classify.region(record, self.policy.regions))
        binding.customer_id = created.id
        self.session.flush()
        reason = f"{why}; " if why else ""
        self._event(
            original,
            "split",
            f"{reason}{backend} {external_id} split off by {self.actor}",
            related=created.id,
            backend=backend,
            external_id=external_id,
        )
        self._event(created.id, "split_from", f"{reason}split from customer #{original}", related=original)
        return created

    # --- value tiers --------------------------------------------------------------------------------

    def reclassify_tiers(self, bank_account: str, as_of: date) -> Counter[str]:
        """Recompute every live customer's value tier from its receipts; each change is recorded."""
        window = self.policy.tier_window_days
        receipts = tiers.receipts_by_customer(self.session, bank_account, as_of, window)
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
