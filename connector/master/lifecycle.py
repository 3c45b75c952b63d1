"""Deletions, merges and splits: bindings and statuses change, the ledger's history never does.

Each change is written to the customer's audit trail with its reason; `CustomerMaster.delete`, `merge`
and `split` are these.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.bulk import rows_in
from connector.credit.reads import counted_in
from connector.db import serialize
from connector.errors import CustomerError
from connector.ledger.customers import CustomerView
from connector.ledger.models import Customer, CustomerBalance, utcnow
from connector.master import classify
from connector.master.bound import refresh_bound_backends
from connector.master.identity import IDENTITY_LOCK
from connector.master.models import CustomerBinding, CustomerEvent
from connector.master.records import (
    CONTACT_FIELDS,
    Applied,
    SourceRecord,
    modified_at,
    text_of,
)
from connector.money import Money

log = logging.getLogger(__name__)

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
            held = modified_at(master.review_record(review))
            if at is not None and held is not None and at < held:
                why = f"deleted at {at.isoformat()}, before the version held for review #{review.id}"
                return Applied("stale", None, why)
            master._close_review(review, "dismissed", None, "deleted at its source")
        return Applied("unchanged", None, "no binding for the deleted record")
    if binding.status == "deleted":
        return Applied("unchanged", binding.customer_id, "already deleted")
    applied = modified_at(master.binding_record(binding))
    if at is not None and applied is not None and at < applied:  # a notification delivered late
        why = f"deleted at {at.isoformat()}, before the version applied last ({applied.isoformat()})"
        return Applied("stale", binding.customer_id, why)
    # In UTC: SQLite keeps no offset, and a record's change is compared with it (`_deleted_since`).
    binding.status, binding.deleted_at = "deleted", at.astimezone(UTC) if at is not None else utcnow()
    refresh_bound_backends(master.session, [binding.customer_id])
    master._event(binding.customer_id, "binding_deleted", "deleted at its source", binding)
    if not master._active_bindings(binding.customer_id):
        why = f"its last record ({backend} {external_id}) was deleted" + _still_owed(
            master, binding.customer_id
        )
        master._set_status(binding.customer_id, "inactive", why)
    master.session.flush()
    return Applied("updated", binding.customer_id, "binding deleted")


def _still_owed(master: CustomerMaster, customer_id: int) -> str:
    """What to say of a customer left with no record in the CRM while its ledger holds balances: a
    record merged into another there (the other took its phone, its deals) has its money shown on no
    CRM record until it is merged here too."""
    balances = money_held(master.session, [customer_id]).get(customer_id)
    if not balances:
        return ""
    account_no = master.directory.view(customer_id).account_no
    held = ", ".join(f"{Money(minor, currency)} on {code}" for code, currency, minor in balances)
    log.warning(
        "customer %s: its last CRM record was deleted while its ledger holds %s; if the CRM merged it "
        "into another record, merge it here too (connector customers merge SURVIVOR %s)",
        account_no,
        held,
        account_no,
    )
    return (
        f", while its ledger holds {held}: if the CRM merged it into another record, merge it here too "
        f"(`connector customers merge SURVIVOR {account_no}`), so that record shows its money"
    )


def money_held(session: Session, customer_ids: Sequence[int]) -> dict[int, list[tuple[str, str, int]]]:
    """Per customer of `customer_ids` that holds any, the balances of its ledger and of the customers
    merged into it: (account code, currency, minor units), none of them 0. These are the stored balances,
    every posting whatever its date: a document dated ahead is money the ledger holds already."""
    counted = counted_in(session, customer_ids)
    sums: Counter[tuple[int, str, str]] = Counter()
    for counted_id, code, currency, minor in rows_in(  # one row per customer, account and currency
        session,
        "customer_id, account_code, currency, balance_minor",
        CustomerBalance.__tablename__,
        "customer_id",
        counted,
        array_type="bigint",
    ):
        for holder in counted[counted_id]:
            sums[(holder, code, currency)] += int(minor)
    held: dict[int, list[tuple[str, str, int]]] = {}
    for (holder, code, currency), minor in sorted(sums.items()):
        if minor:
            held.setdefault(holder, []).append((code, currency, minor))
    return held


def recordless_holding_money(session: Session) -> int:
    """How many customers hold money in the ledger while every record they were bound to was deleted at
    its source: a record the CRM merged into another shows that money on no CRM record until it is merged
    here too (each says so in its audit trail, with the command)."""
    bound = select(CustomerBinding.id).where(CustomerBinding.customer_id == Customer.id)
    gone = session.scalars(
        select(Customer.id).where(
            Customer.status != "merged",
            bound.where(CustomerBinding.status == "deleted").exists(),
            ~bound.where(CustomerBinding.status == "active").exists(),
        )
    ).all()
    return len(money_held(session, gone))


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
    _status_of_its_records(master, survivor.id, f"holds {absorbed_no}'s records")
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
    # A record linked while merged by the unmerged customer's e-mail or phone (not the other's) is its.
    found_by_it = _linked_by_its_contact(master, survivor_id, absorbed.id, back)
    for binding in [*back, *found_by_it]:
        binding.customer_id = absorbed.id
    for binding in found_by_it:
        master._event(absorbed.id, "binding_moved_back", "linked by its contact while merged", binding)
    back += found_by_it
    row.merged_into_id = None
    # What its records changed while merged went onto the customer it was merged into: each takes its own.
    its_records = [master.binding_record(binding) for binding in back]
    _without_its_contact(master, survivor_id, its_records, "of the unmerged records")
    _with_its_contact(master, absorbed.id, its_records)
    # Inactive only when every record it has was deleted at its source (as `delete` leaves it).
    row.status = "inactive" if back and all(binding.status != "active" for binding in back) else "active"
    refresh_bound_backends(master.session, [survivor_id, absorbed.id])
    if back:
        _status_of_its_records(master, survivor_id, f"its records left with {absorbed_no}")
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
    record = master.binding_record(binding)
    source = SourceRecord(backend, external_id, record, binding.content_hash, binding.mapping_digest)
    original = binding.customer_id
    created = master._create(source, classify.region(record, master.policy.regions))
    binding.customer_id = created.id
    refresh_bound_backends(master.session, [original, created.id])
    if binding.status != "active":
        master._set_status(created.id, "inactive", f"its only record ({backend} {external_id}) was deleted")
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
    _without_its_contact(master, original, [record], "of the split-off record")
    return master.directory.view(created.id)


def _without_its_contact(
    master: CustomerMaster, customer_id: int, records: Sequence[Mapping[str, Any]], whose: str
) -> None:
    """The name, e-mail, phone and address that only `records` (taken off the customer) gave it (a link
    fills in what the customer lacked, a bound record's change writes over it) are taken off it, or taken
    from its remaining records: left on, the other's address would keep finding this customer. A name is
    only ever replaced, never taken off."""
    current = master.directory.view(customer_id)
    remaining = [master.binding_record(other) for other in master._active_bindings(customer_id)]
    values = {field: getattr(current, field) for field in CONTACT_FIELDS}
    taken = []
    for field in CONTACT_FIELDS:
        gone = {text_of(record, field) for record in records} - {None}
        if values[field] not in gone or any(text_of(r, field) == values[field] for r in remaining):
            continue
        instead = next((value for r in remaining if (value := text_of(r, field))), None)
        if instead is None and field == "name":
            continue
        values[field] = instead
        taken.append(field)
    if taken:
        _set_contact(
            master, customer_id, values, "contact_split_off", f"{', '.join(taken)} {whose} taken off"
        )


def _with_its_contact(master: CustomerMaster, customer_id: int, records: Sequence[Mapping[str, Any]]) -> None:
    """The contact fields of a customer given its records back (an unmerge): what they changed while it
    was merged (written onto the other customer) is its own again; a field none of them gives stays."""
    current = master.directory.view(customer_id)
    values = {field: getattr(current, field) for field in CONTACT_FIELDS}
    taken = []
    for field in CONTACT_FIELDS:
        given = [value for record in records if (value := text_of(record, field))]
        if given and values[field] not in given:
            values[field] = given[0]
            taken.append(field)
    if taken:
        _set_contact(
            master, customer_id, values, "contact_restored", f"{', '.join(taken)} of its own records"
        )


def _linked_by_its_contact(
    master: CustomerMaster, survivor_id: int, absorbed_id: int, back: Sequence[CustomerBinding]
) -> list[CustomerBinding]:
    """The survivor's records linked since the merge whose e-mail or phone is the absorbed customer's
    (its own, or one of its records') and none of the survivor's other records'."""
    merged = master.session.scalar(
        select(func.max(CustomerEvent.id)).where(
            CustomerEvent.customer_id == survivor_id,
            CustomerEvent.kind == "absorbed",
            CustomerEvent.related_customer_id == absorbed_id,
        )
    )
    bound_since = select(CustomerEvent.backend, CustomerEvent.external_id).where(
        CustomerEvent.customer_id == survivor_id,
        CustomerEvent.kind == "bound",
        CustomerEvent.id > (merged or 0),
    )
    since = {(backend, external_id) for backend, external_id in master.session.execute(bound_since)}
    moved = {binding.id for binding in back}
    rest = [b for b in master._active_bindings(survivor_id) if b.id not in moved]
    indexes = master.directory.indexes

    def contact(email: str | None, phone: str | None) -> set[str]:
        return {index for index in indexes(None, email, phone)[1:] if index is not None}

    absorbed = master.directory.view(absorbed_id)
    its = contact(absorbed.email, absorbed.phone)
    for binding in back:
        record = master.binding_record(binding)
        its |= contact(text_of(record, "email"), text_of(record, "phone"))
    records = {binding.id: master.binding_record(binding) for binding in rest}
    linked = [b for b in rest if (b.backend, b.external_id) in since]
    others: set[str] = set()
    for binding in rest:
        if binding not in linked:
            record = records[binding.id]
            others |= contact(text_of(record, "email"), text_of(record, "phone"))
    found = []
    for binding in linked:
        made = contact(text_of(records[binding.id], "email"), text_of(records[binding.id], "phone"))
        if made & its and not made & others:
            found.append(binding)
    return found


def _set_contact(
    master: CustomerMaster, customer_id: int, values: Mapping[str, str | None], kind: str, why: str
) -> None:
    name = values["name"]
    assert name is not None  # a customer always has a name; it is replaced, never taken off
    master.directory.update_contact(customer_id, name, values["email"], values["phone"], values["address"])
    master._event(customer_id, kind, why)


def _status_of_its_records(master: CustomerMaster, customer_id: int, why: str) -> None:
    """Active while any of its records is; inactive once every one was deleted at its source."""
    active = bool(master._active_bindings(customer_id))
    if (
        active
        or master.session.scalar(
            select(CustomerBinding.id).where(CustomerBinding.customer_id == customer_id).limit(1)
        )
        is not None
    ):
        master._set_status(customer_id, "active" if active else "inactive", why)
