"""Sending the outbox to the CRM: the records due, in the sink's batches, each answer recorded.

A success records what was pushed; a refusal records the CRM's code, field and message on the record
and retries it in later cycles with growing waits (`retry_wait`), until it is left `dead` — visible in
`connector outbox list`, and retryable by hand (`retry_by_hand`). No transaction is open during a call.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connector import retry
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import BudgetExhaustedError, StoppingError
from connector.ledger.models import utcnow
from connector.ports import FieldUpdate, PushResult, StatusSink
from connector.sync.models import OutboxItem
from connector.sync.push_fields import retry_refused_for_fields

FIRST_RETRY = timedelta(minutes=5)
LONGEST_WAIT = timedelta(hours=24)
DEAD_AFTER = 8  # attempts
CURRENCY_DIFFERS = "CURRENCY_DIFFERS"  # the code of a record held for its currency (not the CRM's)


@dataclass
class PushOutcome:
    target: str
    counts: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None
    fields_reread: bool = False  # a write refused for a field had the CRM's fields read again this run


def retry_wait(attempts: int) -> timedelta:
    """How long a refused record waits before its next attempt: 5 min, 10, 20 … capped at a day."""
    doublings: int = min(max(0, attempts - 1), 20)
    return min(LONGEST_WAIT, FIRST_RETRY * (1 << doublings))


def due_keys(session: Session, target: str, now: datetime, include_waiting: bool) -> list[str]:
    """Records to send now: pending ones, and refused ones whose wait is over (or all, if asked)."""
    query = select(OutboxItem.external_id).where(
        OutboxItem.target == target, OutboxItem.status.in_(("pending", "failed"))
    )
    if not include_waiting:
        query = query.where(or_(OutboxItem.next_attempt_at.is_(None), OutboxItem.next_attempt_at <= now))
    return list(session.scalars(query.order_by(OutboxItem.customer_id)))


@dataclass(frozen=True)
class _Sending:
    external_id: str
    desired_json: str
    desired_hash: str


def send(
    container: Container,
    sink: StatusSink,
    outcome: PushOutcome,
    run_id: int,
    *,
    include_waiting: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PushOutcome:
    """Send every due record of `outcome.target` in the sink's batches, counting each batch's results
    in `outcome` as it is recorded (a run that fails half-way says what it did); no transaction is
    open during a call."""
    target = outcome.target
    stream = target.split(".", 1)[1]
    with unit_of_work(container.sessions) as session:
        keys = due_keys(session, target, clock(), include_waiting)
    for start in range(0, len(keys), sink.max_batch):
        chunk = keys[start : start + sink.max_batch]
        try:
            retry.stop_point(f"{target} push")
        except StoppingError as exc:  # what was sent is recorded; the rest is the next run's
            outcome.stopped = str(exc)
            return outcome
        with unit_of_work(container.sessions) as session:
            sending = [
                _Sending(external_id, desired_json, desired_hash)
                for external_id, desired_json, desired_hash in session.execute(
                    select(OutboxItem.external_id, OutboxItem.desired_json, OutboxItem.desired_hash)
                    .where(OutboxItem.target == target, OutboxItem.external_id.in_(chunk))
                    .order_by(OutboxItem.customer_id)
                )
            ]
        updates = [
            FieldUpdate(s.external_id, json.loads(s.desired_json, parse_float=Decimal)) for s in sending
        ]
        with unit_of_work(container.sessions) as session:
            # Sent, what the CRM shows is unknown until the answer is recorded: an answer lost (a timeout,
            # a crash) must not leave the earlier values counted as shown, or going back to them would
            # never be sent.
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.target == target, OutboxItem.external_id.in_(chunk))
                .values(pushed_hash=None)
                .execution_options(synchronize_session=False)
            )
        try:
            results = sink.push(stream, updates)
        except (BudgetExhaustedError, StoppingError) as exc:  # a stop while the call was retried, too:
            outcome.stopped = str(exc)  # the batch, its answer unknown, is sent again next run
            return outcome
        if not outcome.fields_reread and any(result.for_field for result in results):
            outcome.fields_reread = True  # once a run: then the fields are as the CRM has them
            try:
                results = retry_refused_for_fields(sink, stream, updates, results, outcome.counts)
            except (BudgetExhaustedError, StoppingError) as exc:  # the first answers are recorded
                outcome.stopped = str(exc)
        # A refusal of the whole call (a wrong URL or module, no permission) is no record's fault: it fails
        # the run, saying so, and leaves every record to send again once it is fixed.
        now = clock()
        with unit_of_work(container.sessions) as session:
            for sent, result in zip(sending, results, strict=True):
                item = session.get_one(OutboxItem, (target, sent.external_id))
                recorded = _record(item, sent, result, run_id, now)
                outcome.counts[recorded] += 1
                if not result.ok:  # the run history says why, by the CRM's code and field
                    outcome.counts[f"{recorded} {_why(result)}"] += 1
        if outcome.stopped:
            return outcome
    return outcome


def _why(result: PushResult) -> str:
    return f"{result.code or 'no code'}" + (f" on {result.field}" if result.field else "")


def _record(item: OutboxItem, sent: _Sending, result: PushResult, run_id: int, now: datetime) -> str:
    item.last_run_id = run_id
    withheld = item.last_code == CURRENCY_DIFFERS  # its amounts cleared: held again once shown
    if result.ok:
        item.pushed_json, item.pushed_hash = sent.desired_json, sent.desired_hash
        item.pushed_at = now
        replanned = item.desired_hash != sent.desired_hash  # planned again while the batch was on its way
        item.status, item.attempts, item.next_attempt_at = ("pending" if replanned else "pushed"), 0, None
        if withheld and not replanned:
            item.status = "dead"  # held for its currency, as `outbox list --status dead` says
            return "withheld"
        item.last_code, item.last_field, item.last_message = result.code, result.field, result.message or None
        return "pushed"
    item.last_code, item.last_field, item.last_message = result.code, result.field, result.message or None
    if result.for_field:  # planned again next run, against the CRM's fields as now read
        item.planned_from = None
    item.attempts += 1
    if item.attempts >= DEAD_AFTER:
        item.status, item.next_attempt_at = "dead", None
        return "dead"
    item.status, item.next_attempt_at = "failed", now + retry_wait(item.attempts)
    return "rejected"


def mark_for_resend(session: Session, target: str) -> int:
    """Make the records pushed before due again, their current figures sent whatever was last pushed:
    planning compares only with what the connector last sent, so a CRM user's edit of a pushed field
    is otherwise kept until the figures change. What the CRM shows is unknown meanwhile. How many."""
    resent = session.execute(
        update(OutboxItem)
        .where(OutboxItem.target == target, OutboxItem.status == "pushed")
        .values(status="pending", pushed_hash=None, attempts=0, next_attempt_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(resent.rowcount or 0)  # type: ignore[attr-defined]


def retry_by_hand(session: Session, target: str | None, external_ids: Sequence[str] = ()) -> int:
    """Make refused and dead records due now (all of `target`, or the named ones); returns how many."""
    query = select(OutboxItem).where(OutboxItem.status.in_(("failed", "dead")))
    if target:
        query = query.where(OutboxItem.target == target)
    if external_ids:
        query = query.where(OutboxItem.external_id.in_(list(external_ids)))
    items = list(session.scalars(query))
    for item in items:
        item.status, item.attempts, item.next_attempt_at, item.updated_at = "pending", 0, None, utcnow()
    return len(items)
