"""`connector customers …`: import, inspect, review, merge, split and classify customers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from connector.bootstrap import Container
from connector.cli.context import (
    as_of_day,
    err,
    one_of,
    out,
    report_problems,
    state,
    stopping_on_signals,
)
from connector.cli.output import DataTable, dumps, iso_time, money_json, money_text
from connector.db import unit_of_work
from connector.errors import ConfigError, ConnectorError
from connector.imports import learning, unmerged
from connector.imports.rules import Accounts
from connector.imports.unlearning import rematch_now, take_back
from connector.ledger.entries import Voucher
from connector.ledger.models import Customer
from connector.ledger.posting import Ledger
from connector.mapping.files import MappingSet
from connector.mapping.model import MappingFile
from connector.mapping.samples import SampleFile, absent_columns
from connector.mapping.unheld import UnheldPaths
from connector.master.classify import region as region_of
from connector.master.models import CustomerBinding, IdentityReview
from connector.master.policy import CustomerPolicy
from connector.master.records import text_of
from connector.master.service import CustomerMaster
from connector.master.sync import STOPPED, inbound_mapping, sync_customers
from connector.sync.leases import IMPORTS, lease
from connector.sync.mapping_sets import mappings_in_force

customers_app = typer.Typer(
    help="The customer master: bindings, review queue, audit trail.", no_args_is_help=True
)
Actor = Annotated[str, typer.Option(help="Who decides (recorded in the audit trail).")]
Reason = Annotated[str, typer.Option(help="Why (recorded in the audit trail).")]


def mappings_for_run(container: Container) -> MappingSet:
    """The mapping set in force; a folder that fails validation is reported and the last valid set used."""
    with unit_of_work(container.sessions) as session:
        in_force = mappings_in_force(session, container.settings.mappings.dir)
    if in_force.problems:
        report_problems(
            f"{len(in_force.problems)} mapping problem(s); the files are refused:", in_force.problems
        )
    if in_force.mappings is None:
        raise ConfigError("no valid mapping set to run with: fix the files (`connector mapping check`)")
    if not in_force.from_folder:
        err.print(f"using {in_force.describe()}, valid since {in_force.valid_since:%Y-%m-%d %H:%M}")
    return in_force.mappings


@contextmanager
def master_session(ctx: typer.Context, actor: str = "connector") -> Iterator[CustomerMaster]:
    """The customer master under the mapping set in force, in one transaction."""
    container = state(ctx).container()
    policy = mappings_for_run(container).policy
    with unit_of_work(container.sessions) as session:
        yield container.master(session, policy, actor)


@contextmanager
def identity_change(ctx: typer.Context, actor: str) -> Iterator[CustomerMaster]:
    """`master_session` once no import runs (the `imports` lease, waited for and saying so): an import
    reads which customer each record and invoice belongs to once per file, so a merge, unmerge or split
    committed while it runs would have its receipts posted to the customer it read."""
    container = state(ctx).container()
    with stopping_on_signals(), lease(container.sessions, IMPORTS), master_session(ctx, actor) as master:
        yield master


def _summary(counts: Counter[str]) -> str:
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())) or "no records"


@customers_app.command("import")
def import_file(
    ctx: typer.Context,
    mapping: Annotated[str, typer.Argument(help="Inbound mapping file name, e.g. zoho_contacts.")],
    file: Annotated[Path, typer.Argument(help="Records exported from the source: .json, .jsonl or .csv.")],
) -> None:
    """Map a file of source records into the customer master (bad records go to quarantine)."""
    container = state(ctx).container()
    mappings = mappings_for_run(container)
    name = mapping.removesuffix(".toml")
    inbound = inbound_mapping(mappings, name)
    sample = SampleFile.read(file, inbound.encoding)
    for said in sample.notes:  # a guessed encoding, bytes read as �: said before any record is written
        err.print(Text(f"{file}: {said}"))
    columns = sample.columns()
    unheld = UnheldPaths(inbound)
    records = sample.records()
    if columns is not None:
        _check_columns(inbound, file, columns)
    else:  # JSON records name their own paths: those none of them holds are named once it is read
        records = unheld.watching(records)
    with stopping_on_signals():  # a Ctrl-C or SIGTERM: the file stops between two batches, kept so far
        counts = sync_customers(container, mappings, name, records, "customers.import")
    stopped = counts.pop(STOPPED, 0)
    out.print(f"{file}: {_summary(counts)} (mapping set {mappings.digest[:12]})")
    if (note := unheld.note()) is not None:
        err.print(Text(f"{file}: {note}"))
    if stopped:
        err.print(
            f"{file}: stopped early — the records applied so far stay; import it again to go on "
            "(they read unchanged)"
        )
        raise typer.Exit(3)


def _check_columns(mapping: MappingFile, file: Path, columns: list[str]) -> None:
    """A CSV without the column of the records' id is refused (every record would fail); the columns of
    other fields it lacks are named (their values would be dropped unseen: a renamed column)."""
    absent = absent_columns(mapping, columns)
    if any(field.target == "external_id" for field in absent):
        raise ConnectorError(
            f"{file}: no column {next(f.source for f in absent if f.target == 'external_id')!r} for the "
            f"records' id (external_id); its columns: {', '.join(columns)}"
        )
    if absent:
        named = ", ".join(f"{field.source!r} ({field.target})" for field in absent)
        err.print(
            f"{file}: columns the mapping {mapping.source} reads are not in the file, so read as empty: "
            f"{named}; if the file names them otherwise, rename their `source`"
        )


@customers_app.command("list")
def list_customers(
    ctx: typer.Context,
    search: Annotated[
        str | None,
        typer.Option(
            help="Only those whose account number, name, e-mail or phone holds this, or the name or company "
            "of one of their source records.",
        ),
    ] = None,
    status: Annotated[str | None, typer.Option(help="active, inactive or merged.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Customers by account number, with class, region, currency, status and the CRMs holding them."""
    one_of(status, ("active", "inactive", "merged"))
    container = state(ctx).container()
    with unit_of_work(container.sessions) as session:
        found = container.customers(session).listed(search, status, limit)
        merged = [c.id for c in found if c.status == "merged"]
        survivor = aliased(Customer)
        into = {
            customer_id: account_no
            for customer_id, account_no in session.execute(
                select(Customer.id, survivor.account_no)
                .join(survivor, survivor.id == Customer.merged_into_id)
                .where(Customer.id.in_(merged))
            )
        }
    if as_json:
        rows = [
            {
                "account_no": c.account_no,
                "name": c.name,
                "type": c.customer_type,
                "region": c.region,
                "currency": c.currency,
                "status": c.status,
                "merged_into": into.get(c.id),
                "sources": sorted(c.backends),
            }
            for c in found
        ]
        out.print(dumps(rows))
        return
    for c in found:
        sources = ", ".join(sorted(c.backends)) or "no source record"
        status_text = f"merged into {into[c.id]}" if c.id in into else c.status
        line = (
            f"{c.account_no}  {c.name}  {c.customer_type} {c.region} {c.currency}  {status_text}  ({sources})"
        )
        out.print(line)
    more = " (--limit for more)" if len(found) == limit else ""
    out.print(f"{len(found)} customer(s){more}")


@customers_app.command("show")
def show(
    ctx: typer.Context, account_no: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """A customer: class, terms, status, its source records and its audit trail."""
    container = state(ctx).container()
    with unit_of_work(container.sessions) as session:
        customers = container.customers(session)
        view = customers.get(account_no)
        bindings = session.scalars(
            select(CustomerBinding).where(CustomerBinding.customer_id == view.id)
        ).all()
        history = container.master(session, CustomerPolicy()).history(view.id)
        related = _account_numbers(session, {e.related_customer_id for e in history})
        accounts = learning.known_accounts(session, container.cipher, view.id)
        payload = {
            "account_no": view.account_no,
            "name": view.name,
            "type": view.customer_type,
            "region": view.region,
            "value_tier": view.value_tier,
            "status": view.status,
            "currency": view.currency,
            "credit_limit": money_json(view.credit_limit) if view.credit_limit else None,
            "payment_terms_days": view.payment_terms_days,
            "bindings": [
                {
                    "backend": b.backend,
                    "external_id": b.external_id,
                    "status": b.status,
                    "synced": iso_time(b.last_synced_at),
                }
                for b in bindings
            ],
            "bank_accounts": [
                {
                    "number": a.number,
                    "of": a.of or view.account_no,  # a customer merged into it, or itself
                    "origin": a.origin(),
                    "learned_from": [
                        {"reconcile_item": t.item_id, "by": t.by, "at": iso_time(t.at)} for t in a.taught
                    ],
                }
                for a in accounts
            ],
            "history": [
                {
                    "at": iso_time(e.at),
                    "kind": e.kind,
                    "actor": e.actor,
                    "detail": e.detail,
                    "backend": e.backend,
                    "external_id": e.external_id,
                    "related_account_no": related.get(e.related_customer_id),
                }
                for e in history
            ],
        }
    if as_json:
        out.print(dumps(payload))
        return
    shown = {**payload, "credit_limit": money_text(view.credit_limit) if view.credit_limit else None}
    for key in (
        "account_no",
        "name",
        "type",
        "region",
        "value_tier",
        "status",
        "credit_limit",
        "payment_terms_days",
    ):
        out.print(Text(f"{key:>20}: {shown[key] if shown[key] is not None else '-'}"))
    sources = ("backend", "external id", "status", "last synced")
    table = DataTable(*sources, whole=sources, title="source records", title_justify="left")
    for b in bindings:
        table.add_row(Text(b.backend), Text(b.external_id), b.status, f"{b.last_synced_at:%Y-%m-%d %H:%M}")
    out.print(table)
    known = DataTable(
        "account", "known", whole={"account"}, title="payer bank accounts", title_justify="left"
    )
    for a in accounts:
        known.add_row(Text(a.number), Text(a.origin()))
    out.print(known)
    trail = DataTable(
        *("at", "event", "by", "record", "customer", "detail"),
        whole={"at", "event", "record", "customer"},
        title="audit trail",
        title_justify="left",
    )
    for e in history:
        record = f"{e.backend} {e.external_id}" if e.backend else ""
        other = related.get(e.related_customer_id, "")
        trail.add_row(f"{e.at:%Y-%m-%d %H:%M}", e.kind, Text(e.actor), Text(record), other, Text(e.detail))
    out.print(trail)


def _account_numbers(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    """The account numbers of the customers `ids` (None: an event about no other customer)."""
    found = session.execute(select(Customer.id, Customer.account_no).where(Customer.id.in_(ids - {None})))
    return {customer_id: account_no for customer_id, account_no in found}


@customers_app.command("forget-bank-account")
def forget_bank_account(
    ctx: typer.Context,
    account_no: Annotated[str, typer.Argument(help="The customer's account number.")],
    number: Annotated[
        str, typer.Argument(help="The payer bank account or IBAN (as `customers show` lists it).")
    ],
    reason: Reason = "",
    actor: Actor = "cli",
) -> None:
    """Forget a payer bank account known for a customer (learned from `reconcile apply`, or from its
    record): receipts from it no longer find the customer by it, and wait for a person. The receipts a
    learned one posted to the customer by itself wait for a person again."""
    container = state(ctx).container()
    cipher = container.cipher
    accounts = Accounts.of(container.settings.ledger.chart)
    try:
        with unit_of_work(container.sessions) as session:
            view = container.customers(session).get(account_no)
            known, unlearned = learning.forget_account(session, cipher, view.id, number, actor, reason)
            memo = f"payer bank account forgotten by {actor}" + (f": {reason}" if reason else "")
            taken = take_back(
                session,
                Ledger(session),
                cipher,
                accounts,
                [unlearned] if unlearned is not None else [],
                rematch_now(session, cipher, accounts, container.settings.imports.matching),
                memo,
                Voucher("correction", record=f"{actor}: {reason or 'payer bank account forgotten'}"),
            )
    except ConnectorError as exc:
        err.print(f"error: {account_no}: {exc}")
        raise typer.Exit(1) from None
    out.print(
        f"{view.account_no}: payer account {known.number} no longer known (it was {known.origin()}): its "
        "next receipts wait for a person unless they name the customer otherwise"
    )
    for receipt in taken:  # it found them their customer: a person decides again
        out.print(receipt.describe())


@customers_app.command("reviews")
def reviews(
    ctx: typer.Context,
    every: Annotated[
        bool, typer.Option("--all", help="Decided reviews too, with who decided what, when and why.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Records whose identity is ambiguous, waiting for a decision (`customers resolve`): each record's
    name, e-mail, phone, company and region, the rule that matched, and each candidate's."""
    with master_session(ctx) as master:
        listed = master.reviews(None if every else "open")
        entries = [_review_entry(master, review) for review in listed]
    if as_json:
        out.print(dumps(entries))
        return
    table = DataTable(
        *("#", "record", "name", "e-mail", "phone", "company", "region", "rule", "candidates", "reason"),
        *(("decision",) if every else ()),
        whole={"#", "record", "region", "rule"},
        right={"#"},
        title="identity reviews" if every else "identity review queue",
    )
    for review, entry in zip(listed, entries, strict=True):
        candidates = [
            " · ".join(str(c[key] or "") for key in ("account_no", "name", "email", "phone", "region"))
            for c in entry["candidates"]
        ]
        row: list[str | Text] = [
            str(entry["id"]),
            Text(f"{entry['backend']} {entry['external_id']}"),
            *(Text(entry[key] or "") for key in ("name", "email", "phone", "company", "region")),
            Text(entry["rule"]),
            Text("\n".join(candidates)),
            Text(entry["reason"]),
        ]
        if every:
            row.append(Text(_decision(review)))
        table.add_row(*row)
    if listed:
        out.print(table)
    waiting = sum(review.status == "open" for review in listed)
    decided = f", {len(listed) - waiting} decided" if every else ""
    out.print(f"{waiting} record(s) waiting for review{decided}")


def _decision(review: IdentityReview) -> str:
    """What was decided, by whom and when ("open" while undecided; why is in the review's reason)."""
    if review.resolved_at is None:
        return review.status
    return f"{review.status} by {review.resolved_by} {review.resolved_at:%Y-%m-%d %H:%M}"


def _review_entry(master: CustomerMaster, review: IdentityReview) -> dict[str, Any]:
    """A review as a person decides it: the record (decrypted), the rule that matched, the candidates."""
    record = master.review_record(review)
    views = [master.directory.view(int(i)) for i in review.candidates.split(",") if i]
    return {
        "id": review.id,
        "backend": review.backend,
        "external_id": review.external_id,
        **{field: text_of(record, field) for field in ("name", "email", "phone", "company")},
        "region": region_of(record, master.policy.regions).value,
        "rule": review.rule,
        "reason": review.reason,
        "candidates": [
            {
                "account_no": c.account_no,
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "region": c.region,
            }
            for c in sorted(views, key=lambda view: view.account_no)
        ],
    }


@customers_app.command("resolve")
def resolve(
    ctx: typer.Context,
    review_id: int,
    link: Annotated[str | None, typer.Option(help="Bind the record to this account number.")] = None,
    new: Annotated[bool, typer.Option("--new", help="Make the record a customer of its own.")] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="Set the record aside.")] = False,
    reason: Reason = "",
    actor: Actor = "cli",
) -> None:
    """Decide a review: --link ACCOUNT_NO, --new or --dismiss (`customers reviews --all` lists it then)."""
    if [link is not None, new, dismiss].count(True) != 1:
        raise typer.BadParameter("give exactly one of --link ACCOUNT_NO, --new, --dismiss")
    with master_session(ctx, actor) as master:
        applied = master.resolve_review(review_id, link_to=link, create=new, why=reason)
        number = master.directory.view(applied.customer_id).account_no if applied.customer_id else None
    out.print(f"review #{review_id}: {applied.outcome}" + (f" → {number}" if number else ""))


@customers_app.command("merge")
def merge(
    ctx: typer.Context, survivor: str, absorbed: str, reason: Reason = "", actor: Actor = "cli"
) -> None:
    """Fold customer ABSORBED into SURVIVOR: its source records move over; its ledger history stays."""
    with identity_change(ctx, actor) as master:
        moved = master.merge(survivor, absorbed, reason)
    out.print(f"{absorbed} merged into {survivor}: {moved} source record(s) moved")


@customers_app.command("unmerge")
def unmerge(ctx: typer.Context, absorbed: str, reason: Reason = "", actor: Actor = "cli") -> None:
    """Undo a merge: customer ABSORBED stands on its own again, with the source records the merge moved,
    and its ledger counts for itself alone again: each receipt posted to the other while merged that named
    it (its account number, a record of its, its invoice) is reversed there and posted again to it."""
    accounts = Accounts.of(state(ctx).container().settings.ledger.chart)
    with identity_change(ctx, actor) as master:
        done = unmerged.unmerge(master, accounts, absorbed, reason)
    out.print(f"{absorbed} is a customer of its own again ({done.customer.status})")
    for moved in done.moved:  # posted to the customer it was merged into, by what named it
        out.print(moved.describe())


@customers_app.command("split")
def split(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Where the record lives, e.g. zoho.Contacts.")],
    external_id: Annotated[str, typer.Argument(help="The record's id there.")],
    reason: Reason = "",
    actor: Actor = "cli",
) -> None:
    """Take a wrongly linked source record off its customer: it becomes a customer of its own."""
    with identity_change(ctx, actor) as master:
        created = master.split(source, external_id, reason)
    out.print(f"{source} {external_id} is now customer {created.account_no}")


@customers_app.command("classify")
def classify(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option(help="Day the trailing window ends (YYYY-MM-DD; default today).")
    ] = None,
) -> None:
    """Recompute value tiers from the ledger's receipts; every change goes to the audit trail."""
    day = as_of_day(ctx, as_of)
    chart = state(ctx).settings().ledger.chart
    with master_session(ctx) as master:
        counts = master.reclassify_tiers(chart, day)
    out.print(f"value tiers as of {day}: {_summary(counts)}")
