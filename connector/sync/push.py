"""Push figures back to the CRM: plan what each bound record should show, send only what changed.

Planning computes every bound customer's figures, maps them through the outbound mapping and keeps
the result in the outbox as the record's desired values. A record is sent only when its desired
values differ from what was last pushed successfully; sending, and what becomes of a refused record,
is `push_send`'s. A record last pulled in another currency than its customer's ledger is sent its
amounts cleared with the reason and its other figures current (credit status and score …: `withheld`),
then held `dead` until its currency is the customer's again (its amounts would be read in the record's
currency); sent again, and held again, whenever those figures change meanwhile. A record whose figures the
outbound mapping cannot write, or whose amount has more decimal places than its CRM field keeps (the CRM
would round it), is quarantined and held `dead` the same way, until they fit again. A spent API budget
stops the cycle cleanly: everything unsent stays pending.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector.bootstrap import Container
from connector.credit.figures import customer_credit
from connector.credit.history import record_status_changes
from connector.credit.reads import counted_in
from connector.db import unit_of_work
from connector.errors import BudgetExhaustedError, ConnectorError, StoppingError
from connector.exact_json import dumps_exact
from connector.imports.models import ReceiptApplication
from connector.ledger.models import Customer, CustomerBalance
from connector.mapping.apply import map_record
from connector.mapping.files import MappingSet
from connector.mapping.model import AMOUNT_FIGURES, DATE_FIGURES, MappingFile
from connector.master.currency import first_posting
from connector.master.models import CustomerBinding
from connector.master.records import BINDING_RECORD, text_of
from connector.money import Priced
from connector.ports import StatusSink
from connector.sync.leases import lease
from connector.sync.models import OutboxItem, SyncRun
from connector.sync.push_fields import fit_places
from connector.sync.push_send import CURRENCY_DIFFERS, PushOutcome, mark_for_resend, send
from connector.sync.runs import failure_of, finish_run, quarantine, start_run, without_its_values
from connector.sync.withheld import withheld_reason, withheld_values

PLAN_CHUNK = 900
UNMAPPABLE = "UNMAPPABLE"  # the code of a record held for figures the outbound mapping cannot write
HELD = (CURRENCY_DIFFERS, UNMAPPABLE)


def values_hash(desired_json: str) -> str:
    return _digest(desired_json)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def outbound_mapping(mappings: MappingSet, target: str) -> MappingFile:
    mapping = mappings.for_source(target, "outbound")
    if mapping is None:
        raise ConnectorError(f"no outbound mapping for {target!r} in the mapping set")
    return mapping


def priced(figures: Mapping[str, Any]) -> dict[str, Any]:
    """The customer's figures with each amount knowing the figures' currency (`Priced`): an outbound
    converter writing a currency (format_decimal's cn style) writes the customer's own. A sample's
    text (`customers figures --json`) is read as the figures are: amounts as amounts, dates as dates."""
    currency = figures.get("currency")
    dated = {name: _dated(value) if name in DATE_FIGURES else value for name, value in figures.items()}
    if not isinstance(currency, str):
        return dated
    return {
        name: _priced(value, currency) if name in AMOUNT_FIGURES else value for name, value in dated.items()
    }


def _priced(value: Any, currency: str) -> Any:
    """An amount as `Priced`: a Decimal, or the text or whole number a sample writes it as."""
    if isinstance(value, Decimal):
        return Priced(value, currency)
    if isinstance(value, str | int) and not isinstance(value, bool):
        try:
            return Priced(Decimal(str(value)), currency)
        except InvalidOperation:
            return value  # not an amount: the mapping says so
    return value


def _dated(value: Any) -> Any:
    """A date figure as a `date`, from the ISO text a sample writes it as."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value  # not a date: the mapping says so
    return value


def plan(
    container: Container,
    session: Session,
    mappings: MappingSet,
    target: str,
    as_of: date,
    run: SyncRun,
    today: date,
    places: Mapping[str, int],
) -> Counter[str]:
    """Bring every active binding of `target` to its desired values in the outbox; count what changed.

    A record whose inputs — the date, the mapping set, the credit rules, its customer's postings and
    master data, the record as last pulled — are those it was last planned from is skipped without
    computing its figures. A credit status other than the one last recorded for the customer is recorded
    in its audit trail, with why. A record kept in another currency than its customer's ledger, or whose
    figures the mapping cannot write or the CRM fields' decimal `places` cannot keep, is held.
    """
    mapping = outbound_mapping(mappings, target)
    settings = container.settings
    counts: Counter[str] = Counter()
    counts["retired"] = _retire_unbound(session, target)
    rules = f"{settings.credit.model_dump_json()}|{settings.ledger.chart.model_dump_json()}"
    context = f"{as_of}|{mappings.digest}|{rules}"
    bound = session.execute(
        select(CustomerBinding.external_id, CustomerBinding.customer_id, CustomerBinding.content_hash)
        .where(CustomerBinding.backend == target, CustomerBinding.status == "active")
        .order_by(CustomerBinding.customer_id)
    ).all()
    for start in range(0, len(bound), PLAN_CHUNK):
        chunk = bound[start : start + PLAN_CHUNK]
        items = {
            item.external_id: item
            for item in session.scalars(
                select(OutboxItem).where(
                    OutboxItem.target == target, OutboxItem.external_id.in_([e for e, _, _ in chunk])
                )
            )
        }
        inputs = _inputs(session, [customer_id for _, customer_id, _ in chunk], context)
        # The record as last pulled too: a record now kept in another currency is held at once.
        planned_from = {e: _digest(f"{inputs[c]}|{record}") for e, c, record in chunk}
        stale = [
            (e, c)
            for e, c, _ in chunk
            if (item := items.get(e)) is None or item.planned_from != planned_from[e]
        ]
        for external_id in {e for e, _, _ in chunk} - {e for e, _ in stale}:  # planned from these inputs
            counts["to_push" if items[external_id].status == "pending" else "unchanged"] += 1  # resent: due
        if not stale:
            continue
        credit = customer_credit(
            session, [c for _, c in stale], as_of, settings.ledger.chart, settings.credit
        )
        figures = {customer_id: found.figures for customer_id, found in credit.items()}
        counts["status_changed"] += record_status_changes(session, credit.values(), as_of, today)
        kept_in = _record_currencies(session, container, target, [e for e, _ in stale])
        for external_id, customer_id in stale:
            customer_figures = figures.get(customer_id, {})
            held = _other_currency(target, kept_in.get(external_id), customer_figures)
            if held is not None:
                ids = (target, external_id, customer_id)
                item = _withhold(session, mapping, items.get(external_id), ids, kept_in, customer_figures)
                item.last_code, item.last_field, item.last_message = CURRENCY_DIFFERS, "currency", held
                item.last_run_id, item.planned_from = run.id, None  # planned again by every push
                if item.desired_hash == item.pushed_hash:  # shown already: held until its currency is back
                    _hold(item, CURRENCY_DIFFERS, "currency", held, run.id)
                counts["held"] += 1
                continue
            mapped = map_record(mapping, priced(customer_figures))
            errors = mapped.errors or fit_places(mapped.values, places)
            if errors:
                item = items.get(external_id) or _want(
                    session, None, target, external_id, customer_id, dumps_exact({})
                )
                item.customer_id = customer_id
                counts[_unmappable(session, container, run, item, customer_figures, errors)] += 1
                continue
            item = _want(
                session, items.get(external_id), target, external_id, customer_id, dumps_exact(mapped.values)
            )
            item.planned_from = planned_from[external_id]
            if item.last_code in HELD:  # its currency is the customer's again, its figures fit the mapping
                _release(item)
            counts["to_push" if item.status == "pending" else "unchanged"] += 1
    return counts


def _record_currencies(
    session: Session, container: Container, target: str, external_ids: Sequence[str]
) -> dict[str, str]:
    """The currency each record was kept in when last pulled, for those whose inbound mapping reads one."""
    found: dict[str, str] = {}
    for external_id, record_enc in session.execute(
        select(CustomerBinding.external_id, CustomerBinding.record_enc).where(
            CustomerBinding.backend == target, CustomerBinding.external_id.in_(list(external_ids))
        )
    ):
        currency = text_of(json.loads(container.cipher.decrypt(BINDING_RECORD, record_enc)), "currency")
        if currency is not None:
            found[external_id] = currency.upper()
    return found


def _other_currency(target: str, kept_in: str | None, figures: Mapping[str, Any]) -> str | None:
    """Why the record is sent no figures, when it is kept in another currency than its customer's ledger:
    the CRM would read the amounts as its own currency's."""
    currency = figures.get("currency")
    if kept_in is None or not isinstance(currency, str) or kept_in == currency.upper():
        return None
    customer = figures.get("account_number") or "its customer"
    return (
        f"the {target} record is kept in {kept_in}, customer {customer} in {currency}: its amounts would "
        f"be read as {kept_in}; they are cleared on it, with why, until its currency is {currency} again "
        "(the push after the next pull sends its figures)"
    )


def _withhold(
    session: Session,
    mapping: MappingFile,
    item: OutboxItem | None,
    record: tuple[str, str, int],
    kept_in: Mapping[str, str],
    figures: Mapping[str, Any],
) -> OutboxItem:
    """The record's item wanting its amounts cleared and the reason saying why, in place of figures it
    would read in its own currency, and its other figures current (`withheld_values`); pending until the
    record shows that, so again when they change while it is held."""
    target, external_id, customer_id = record
    customer = session.get_one(Customer, customer_id)
    reason = withheld_reason(
        kept_in[external_id], customer.currency, customer.account_no, first_posting(session, customer_id)
    )
    mapped = map_record(mapping, priced(figures)).values
    desired = dumps_exact(withheld_values(mapping, reason, mapped))
    return _want(session, item, target, external_id, customer_id, desired)


def _unmappable(
    session: Session,
    container: Container,
    run: SyncRun,
    item: OutboxItem,
    figures: Mapping[str, Any],
    errors: Mapping[str, str],
) -> str:
    """Hold a record whose figures the outbound mapping cannot write (an amount with more decimals than
    its places, a credit status the mapping has no value for): the CRM keeps showing its old figures, so
    the outbox says it is not up to date. Quarantined once per reason, not again by every push."""
    reasons = without_its_values("; ".join(f"{name}: {why}" for name, why in errors.items()), figures)
    first, *others = errors
    on = f"{first} and {len(others)} more" if others else first
    if item.last_code == UNMAPPABLE and item.last_message == reasons:
        _hold(item, UNMAPPABLE, on, reasons, run.id)
        return "held"
    quarantine(
        session, container.cipher, run, item.target, f"{item.target} {item.external_id}", figures, reasons
    )
    _hold(item, UNMAPPABLE, on, reasons, run.id)
    return "unmappable"


def _hold(item: OutboxItem, code: str, on: str, why: str, run_id: int) -> None:
    """Keep the record's values unsent until a person decides; planned again by every push, it goes out
    once its currency is the customer's again or its figures fit the mapping (a retry by hand is held
    again meanwhile)."""
    item.status, item.attempts, item.next_attempt_at = "dead", 0, None
    item.last_code, item.last_field, item.last_message = code, on, why
    item.last_run_id, item.planned_from = run_id, None


def _release(item: OutboxItem) -> None:
    item.status = "pushed" if item.desired_hash == item.pushed_hash else "pending"
    item.attempts, item.next_attempt_at = 0, None
    item.last_code = item.last_field = item.last_message = None


def _retire_unbound(session: Session, target: str) -> int:
    """Records whose binding is no longer active (deleted in the CRM) are sent nothing more: their
    waiting, refused and dead items retire (planned afresh should the binding come back)."""
    active = select(CustomerBinding.external_id).where(
        CustomerBinding.backend == target, CustomerBinding.status == "active"
    )
    retired = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.target == target,
            OutboxItem.status.in_(("pending", "failed", "dead")),
            OutboxItem.external_id.not_in(active),
        )
        .values(status="retired", planned_from=None, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(retired.rowcount or 0)  # type: ignore[attr-defined]


def _inputs(session: Session, customer_ids: Sequence[int], context: str) -> dict[int, str]:
    """Per customer, a digest of everything its figures are computed from: its postings and those of
    the customers merged into it, the invoices its receipts name, and the customer itself."""
    counted = counted_in(session, customer_ids)
    every = list(counted)
    postings: Counter[int] = Counter()
    for customer_id, count in session.execute(
        select(CustomerBalance.customer_id, func.sum(CustomerBalance.posting_count))
        .where(CustomerBalance.customer_id.in_(every))
        .group_by(CustomerBalance.customer_id)
    ):
        for counting in counted[customer_id]:
            postings[counting] += int(count or 0)
    named: Counter[int] = Counter()  # a payment naming an invoice may post nothing (its bank line did)
    for customer_id, count in session.execute(
        select(ReceiptApplication.customer_id, func.count())
        .where(ReceiptApplication.customer_id.in_(every))
        .group_by(ReceiptApplication.customer_id)
    ):
        for counting in counted[customer_id]:
            named[counting] += int(count)
    updated = dict(
        session.execute(select(Customer.id, Customer.updated_at).where(Customer.id.in_(customer_ids))).all()
    )
    return {  # the customer itself too: a record moved to another customer (a merge) is planned again
        customer_id: hashlib.sha256(
            f"{context}|{customer_id}|{postings[customer_id]}|{named[customer_id]}|{updated.get(customer_id)}".encode()
        ).hexdigest()
        for customer_id in customer_ids
    }


def _want(
    session: Session, item: OutboxItem | None, target: str, external_id: str, customer_id: int, desired: str
) -> OutboxItem:
    """The record's outbox item wanting `desired`: pending unless that is what was last pushed."""
    digest = values_hash(desired)
    if item is None:
        item = OutboxItem(target=target, external_id=external_id, customer_id=customer_id, attempts=0)
        session.add(item)
    elif item.desired_hash == digest and item.status != "retired":
        item.customer_id = customer_id
        return item
    item.customer_id = customer_id
    item.desired_json, item.desired_hash = desired, digest
    item.attempts, item.next_attempt_at = 0, None
    item.status = "pushed" if digest == item.pushed_hash else "pending"
    return item


def push_target(
    container: Container,
    sink: StatusSink,
    mappings: MappingSet,
    target: str,
    *,
    as_of: date | None = None,
    include_waiting: bool = False,
    resend: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wait: bool = True,
) -> PushOutcome:
    """Plan then send `target` as one run in the run history, one push of a target at a time (another
    process pushing it is waited for, or without `wait` a `LeaseHeldError`: each record is sent once).
    With `resend`, the records pushed before are sent their current figures again (`mark_for_resend`)."""
    with lease(container.sessions, f"push {target}", wait=wait):
        return _push(container, sink, mappings, target, as_of, include_waiting, resend, clock)


def _push(
    container: Container,
    sink: StatusSink,
    mappings: MappingSet,
    target: str,
    as_of: date | None,
    include_waiting: bool,
    resend: bool,
    clock: Callable[[], datetime],
) -> PushOutcome:
    with unit_of_work(container.sessions) as session:
        run_id = start_run(session, "push", target, mappings.digest).id
    error: str | None = None
    outcome = PushOutcome(target)
    planned: Counter[str] = Counter()
    try:
        # The CRM fields' decimal places, read once a run outside any transaction: what they would round
        # is held, not sent.
        places = sink.decimal_places(target.split(".", 1)[1])
        with unit_of_work(container.sessions) as session:
            run = session.get_one(SyncRun, run_id)
            # The business day (`ledger.timezone`), as `customers figures` reads it: not UTC's.
            today = container.settings.ledger.business_day(clock())
            resent = mark_for_resend(session, target) if resend else 0
            planned = plan(container, session, mappings, target, as_of or today, run, today, places)
            if resent:
                planned["resend"] = resent
        send(container, sink, outcome, run_id, include_waiting=include_waiting, clock=clock)
    except (BudgetExhaustedError, StoppingError) as exc:  # reading the fields: nothing planned or sent
        outcome.stopped = str(exc)
    except BaseException as exc:  # a crash or Ctrl-C too: the run did not go through
        error = failure_of(exc)
        raise
    finally:
        outcome.counts.update(planned)
        with unit_of_work(container.sessions) as session:
            finish_run(session.get_one(SyncRun, run_id), +outcome.counts, error or outcome.stopped)
    return outcome
