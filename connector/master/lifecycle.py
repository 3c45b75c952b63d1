"""Deletions, merges and splits: bindings and statuses change, the ledger's history never does.

Each change is written to the customer's audit trail with its reason; `CustomerMaster.delete`, `merge`
and `split` are these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connector.db import serialize
from connector.errors import CustomerError
from connector.ledger.customers import CustomerView
from connector.ledger.models import Customer, utcnow
from connector.master import classify
from connector.master.bound import refresh_bound_backends
from connector.master.identity import IDENTITY_LOCK
from connector.master.models import CustomerBinding, CustomerEvent
from connector.master.records import BINDING_RECORD, Applied, SourceRecord, text_of

if TYPE_CHECKING:
    from connector.master.service import CustomerMaster


def delete(master: CustomerMaster, backend: str, external_id: str, at: datetime | None = None) -> Applied:
    """The record was deleted at its source (`at`, by the source's clock, when it says; else now): its
    binding is marked deleted, and the customer becomes inactive when that was its last active binding.
    The ledger keeps everything. A version of the record changed after `at` brings it back."""
    binding = master.session.scalars(
        select(CustomerBinding).where(
            CustomerBinding.backend == backend, CustomerBinding.external_id == external_id
        )
    ).first()
    if binding is None:
        review = master._open_review(backend, external_id)
        if review is not None:
            master._close_review(review, "dismissed", None, "deleted at its source")
        return Applied("unchanged", None, "no binding for the deleted record")
    if binding.status == "deleted":
        return Applied("unchanged", binding.customer_id, "already deleted")
    # In UTC: SQLite keeps no offset, and a record's change is compared with it (`_deleted_since`).
    binding.status, binding.deleted_at = "deleted", at.astimezone(UTC) if at is not None else utcnow()
    refresh_bound_backends(master.session, [binding.customer_id])
    master._event(binding.customer_id, "binding_deleted", "deleted at its source", binding)
    if not master._active_bindings(binding.customer_id):
        master._set_status(
            binding.customer_id, "inactive", f"its last record ({backend} {external_id}) was deleted"
        )
    master.session.flush()
    return Applied("updated", binding.customer_id, "binding deleted")


def merge(master: CustomerMaster, survivor_no: str, absorbed_no: str, why: str = "") -> int:
    """Fold `absorbed` into `survivor`: its bindings move over, it is marked merged. Its ledger history
    stays where it is, traceable to it, and counts in the survivor's figures (`credit.figures`);
    returns the bindings moved."""
    serialize(master.session, IDENTITY_LOCK)  # two merges crossing would make a loop
    survivor, absorbed = master.directory.get(survivor_no), master.directory.get(absorbed_no)
    if survivor.id == absorbed.id:
        raise CustomerError("a customer cannot be merged into itself")
    rows = master.session.scalars(  # as committed now, locked in id order until the merge commits
        select(Customer)
        .where(Customer.id.in_([survivor.id, absorbed.id]))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if any(row.status == "merged" for row in rows):
        raise CustomerError("a merged customer cannot take part in another merge")
    if "merged" in (survivor.status, absorbed.status):
        raise CustomerError("a merged customer cannot take part in another merge")
    if survivor.currency != absorbed.currency:
        raise CustomerError(
            f"{absorbed_no} is kept in {absorbed.currency} and {survivor_no} in {survivor.currency}: their "
            f"records would be sent {survivor.currency} amounts as their own, so customers of two "
            "currencies stay apart"
        )
    bindings = list(
        master.session.scalars(select(CustomerBinding).where(CustomerBinding.customer_id == absorbed.id))
    )
    for binding in bindings:
        binding.customer_id = survivor.id
    refresh_bound_backends(master.session, [survivor.id, absorbed.id])
    row = master.session.get_one(Customer, absorbed.id)
    row.status, row.merged_into_id = "merged", survivor.id
    reason = f"{why}; " if why else ""
    moved = ", ".join(f"{b.backend} {b.external_id}" for b in bindings) or "none"
    master._event(
        absorbed.id,
        "merged_into",
        f"{reason}merged into {survivor_no} by {master.actor}",
        related=survivor.id,
    )
    master._event(
        survivor.id,
        "absorbed",
        f"{reason}absorbed {absorbed_no}; bindings moved: {moved}",
        related=absorbed.id,
    )
    for binding in bindings:  # each, for an unmerge to move back
        master._event(survivor.id, MOVED_IN, f"from {absorbed_no}", binding, related=absorbed.id)
    master.session.flush()
    return len(bindings)


MOVED_IN = "binding_moved_in"


def _listed_as_moved(master: CustomerMaster, survivor_id: int, absorbed_id: int) -> set[tuple[str, str]]:
    detail = master.session.scalars(
        select(CustomerEvent.detail)
        .where(
            CustomerEvent.customer_id == survivor_id,
            CustomerEvent.kind == "absorbed",
            CustomerEvent.related_customer_id == absorbed_id,
        )
        .order_by(CustomerEvent.id.desc())
    ).first()
    listed = (detail or "").rpartition("bindings moved: ")[2]
    return {
        (backend, external_id)
        for item in listed.split(", ")
        if item != "none" and (parts := item.split(" ", 1)) and len(parts) == 2
        for backend, external_id in [parts]
    }


def unmerge(master: CustomerMaster, absorbed_no: str, why: str = "") -> CustomerView:
    """Undo a merge: `absorbed` is a customer of its own again, with the records the merge moved (and
    that are still on the customer it went into), and its ledger counts for itself alone again."""
    serialize(master.session, IDENTITY_LOCK)
    absorbed = master.directory.get(absorbed_no)
    row = master.session.get_one(Customer, absorbed.id, with_for_update=True, populate_existing=True)
    if row.status != "merged" or row.merged_into_id is None:
        raise CustomerError(f"{absorbed_no} is not merged into another customer")
    survivor_id = row.merged_into_id
    survivor = master.session.get_one(Customer, survivor_id)
    if survivor.status == "merged":  # its records went on with that customer's own merge
        onward = (
            master.session.get_one(Customer, survivor.merged_into_id) if survivor.merged_into_id else None
        )
        raise CustomerError(
            f"{absorbed_no} was merged into {survivor.account_no}, merged in turn into "
            f"{onward.account_no if onward else 'another'}: unmerge {survivor.account_no} first"
        )
    moved = master.session.execute(
        select(CustomerEvent.backend, CustomerEvent.external_id).where(
            CustomerEvent.customer_id == survivor_id,
            CustomerEvent.kind == MOVED_IN,
            CustomerEvent.related_customer_id == absorbed.id,
        )
    ).all()
    keys = {(backend, external_id) for backend, external_id in moved if backend and external_id}
    if not keys:  # merged before each moved record was noted: as the merge's own event lists them
        keys = _listed_as_moved(master, survivor_id, absorbed.id)
    back = [
        binding
        for binding in master.session.scalars(
            select(CustomerBinding).where(CustomerBinding.customer_id == survivor_id)
        )
        if (binding.backend, binding.external_id) in keys
    ]
    for binding in back:
        binding.customer_id = absorbed.id
    row.merged_into_id = None
    # Inactive only when every record it has was deleted at its source (as `delete` leaves it).
    row.status = "inactive" if back and all(binding.status != "active" for binding in back) else "active"
    refresh_bound_backends(master.session, [survivor_id, absorbed.id])
    reason = f"{why}; " if why else ""
    survivor_no = survivor.account_no
    records = ", ".join(f"{b.backend} {b.external_id}" for b in back) or "none"
    master._event(
        absorbed.id, "unmerged", f"{reason}no longer merged into {survivor_no}", related=survivor_id
    )
    master._event(
        survivor_id,
        "released",
        f"{reason}{absorbed_no} unmerged by {master.actor}; records moved back: {records}",
        related=absorbed.id,
    )
    master.session.flush()
    return master.directory.view(absorbed.id)


def split(master: CustomerMaster, backend: str, external_id: str, why: str = "") -> CustomerView:
    """Take a wrongly linked record off its customer: it becomes a new customer of its own."""
    serialize(master.session, IDENTITY_LOCK)  # never beside a merge moving the binding
    binding = master._binding(backend, external_id)
    if len(master._active_bindings(binding.customer_id)) < 2:
        raise CustomerError(f"{backend} {external_id} is its customer's only record: nothing to split off")
    record: dict[str, Any] = json.loads(master.cipher.decrypt(BINDING_RECORD, binding.record_enc))
    source = SourceRecord(backend, external_id, record, binding.content_hash, binding.mapping_digest)
    original = binding.customer_id
    created = master._create(source, classify.region(record, master.policy.regions))
    binding.customer_id = created.id
    refresh_bound_backends(master.session, [original, created.id])
    reason = f"{why}; " if why else ""
    master._event(
        original,
        "split",
        f"{reason}{backend} {external_id} split off by {master.actor}",
        related=created.id,
        backend=backend,
        external_id=external_id,
    )
    master._event(created.id, "split_from", f"{reason}split from customer #{original}", related=original)
    _without_its_contact(master, original, record)
    return created


def _without_its_contact(master: CustomerMaster, customer_id: int, record: Mapping[str, Any]) -> None:
    """The e-mail, phone and address that only a split-off record gave the customer (a link fills in
    what the customer lacked) are taken off it, or taken from its remaining records: left on, the other
    person's address would keep finding this customer."""
    current = master.directory.view(customer_id)
    remaining = [
        json.loads(master.cipher.decrypt(BINDING_RECORD, other.record_enc))
        for other in master._active_bindings(customer_id)
    ]
    values = {field: getattr(current, field) for field in ("email", "phone", "address")}
    taken = []
    for field in values:
        gone = text_of(record, field)
        if gone is None or values[field] != gone or any(text_of(r, field) == gone for r in remaining):
            continue
        values[field] = next((value for r in remaining if (value := text_of(r, field))), None)
        taken.append(field)
    if taken:
        master.directory.update_contact(
            customer_id, current.name, values["email"], values["phone"], values["address"]
        )
        master._event(
            customer_id, "contact_split_off", f"{', '.join(taken)} of the split-off record taken off"
        )
