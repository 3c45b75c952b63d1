"""Pushing figures to the Zoho sandbox over loopback HTTP: batches, per-record refusals, only changes."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.zoho.push import ZohoStatusSink
from adapters.zoho.sandbox.config import SandboxConfig
from connector import retry
from connector.db import unit_of_work
from connector.errors import ConnectorError, PermanentRemoteError, TransientRemoteError
from connector.ledger.entries import EntryDraft
from connector.ledger.models import Customer
from connector.mapping.files import load_mapping_set
from connector.ports import FieldUpdate, PushResult
from connector.sync.models import OutboxItem, QuarantinedRecord, SyncRun
from connector.sync.pull import pull_stream
from connector.sync.push import push_target
from connector.sync.push_send import retry_by_hand
from connector.sync.status import container_snapshot
from tests.e2e.zoho_org import MAPPINGS, Org, zoho_org
from tests.integration.helpers import invoice

ACCOUNTS = 1_000
REJECTED = 30  # 3 %
AS_OF = date(2026, 4, 30)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    with zoho_org(
        SandboxConfig(seed=21, contacts=8, accounts=ACCOUNTS), tmp_path_factory.mktemp("push")
    ) as org:
        pulled = pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        assert pulled.counts["read"] == ACCOUNTS
        yield org


def push(org: Org, *, retry_now: bool = False) -> dict[str, int]:
    outcome = push_target(
        org.container,
        org.container.zoho.sink,
        org.mappings,
        "zoho.Accounts",
        as_of=AS_OF,
        include_waiting=retry_now,
    )
    assert outcome.stopped is None
    return dict(outcome.counts)


def api_updates(org: Org) -> int:
    return len([w for w in org.sandbox.written("Accounts") if w.operation == "update"])


def shown(org: Org, record: str) -> dict[str, Any]:
    values = org.sandbox.record("Accounts", record)
    assert values is not None
    return values


def test_first_push_writes_every_bound_account_and_records_each_refusal(org: Org) -> None:
    bound = sorted(org.bindings("zoho.Accounts"))
    refused = bound[:REJECTED]
    org.sandbox.faults.invalid_data.update({record_id: "Outstanding_Balance" for record_id in refused})

    counts = push(org)

    assert counts["to_push"] == len(bound)
    assert counts["pushed"] == len(bound) - REJECTED
    assert counts["rejected"] == REJECTED
    assert api_updates(org) == len(bound) - REJECTED
    with unit_of_work(org.container.sessions) as session:
        failed = session.scalars(select(OutboxItem).where(OutboxItem.status == "failed")).all()
        assert sorted(i.external_id for i in failed) == refused
        assert {(i.last_code, i.last_field, i.attempts) for i in failed} == {
            ("INVALID_DATA", "Outstanding_Balance", 1)
        }
        assert all(i.next_attempt_at is not None for i in failed)
        run = session.scalars(select(SyncRun).where(SyncRun.job == "push")).one()
        assert json.loads(run.counts_json)["rejected"] == REJECTED
        assert json.loads(run.counts_json)["rejected INVALID_DATA on Outstanding_Balance"] == REJECTED
    written = org.sandbox.record("Accounts", bound[-1])
    assert written is not None
    assert written["Credit_Status"] == "正常 OK"
    assert written["Outstanding_Balance"] == Decimal("0.00")
    assert written["Figures_As_Of"] == "2026-04-30"  # the day of the figures: stale ones show an older day


def test_only_the_refused_records_are_sent_again(org: Org) -> None:
    org.sandbox.faults.invalid_data.clear()
    before = api_updates(org)

    waiting = push(org)  # their retry time has not come
    retried = push(org, retry_now=True)

    assert waiting.get("pushed", 0) == 0
    assert retried["pushed"] == REJECTED
    assert api_updates(org) - before == REJECTED


def test_a_push_with_no_ledger_change_sends_nothing(org: Org) -> None:
    before = api_updates(org)

    counts = push(org)

    assert counts.get("pushed", 0) == 0
    assert counts.get("to_push", 0) == 0
    assert api_updates(org) == before


def test_a_changed_balance_is_pushed_for_that_account_only(org: Org) -> None:
    external_id, (customer_id, _) = sorted(org.bindings("zoho.Accounts").items())[5]
    with unit_of_work(org.container.sessions) as session:
        account_no = org.container.customers(session).view(customer_id).account_no
        currency = org.container.customers(session).view(customer_id).currency
        org.container.ledger(session).post(invoice("INV-PUSH-1", account_no, "1234.50", currency, day=2))
    before = api_updates(org)

    counts = push(org)

    assert counts["pushed"] == 1
    assert api_updates(org) - before == 1
    shown = org.sandbox.record("Accounts", external_id)
    assert shown is not None
    assert shown["Outstanding_Balance"] == Decimal("1234.50")


def test_a_spent_budget_stops_the_push_cleanly_and_the_next_cycle_finishes(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=3, contacts=4, accounts=250), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        meter = org.container.zoho.meter
        meter.budget = meter.budget - meter.remaining() + 15  # 15 credits left: 1 per 10 records written

        first = push_target(
            org.container, org.container.zoho.sink, org.mappings, "zoho.Accounts", as_of=AS_OF
        )

        assert first.stopped is not None
        assert "budget" in first.stopped
        assert 0 < first.counts["pushed"] < 250
        meter.budget += 1_000
        second = push_target(
            org.container, org.container.zoho.sink, org.mappings, "zoho.Accounts", as_of=AS_OF
        )
        assert second.stopped is None
        assert first.counts["pushed"] + second.counts["pushed"] == len(org.bindings("zoho.Accounts"))


def test_a_push_failing_half_way_records_in_its_run_what_it_pushed_before_and_the_next_sends_the_rest(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=3, contacts=4, accounts=250), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        sink = org.container.zoho.sink
        batches = 0

        def second_batch_fails(stream: str, updates: Sequence[FieldUpdate]) -> list[PushResult]:
            nonlocal batches
            batches += 1
            org.sandbox.faults.error_rate = 1.0 if batches == 2 else 0.0  # HTTP 500 until retries run out
            return ZohoStatusSink.push(sink, stream, updates)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sink, "push", second_batch_fails)
            with pytest.raises(ConnectorError):
                push_target(org.container, sink, org.mappings, "zoho.Accounts", as_of=AS_OF)
        with unit_of_work(org.container.sessions) as session:
            run = session.scalars(select(SyncRun).where(SyncRun.job == "push")).one()
            recorded = json.loads(run.counts_json)
        assert run.status == "failed"
        assert recorded["pushed"] == sink.max_batch  # the first batch, written to Zoho and recorded
        org.sandbox.faults.error_rate = 0.0

        rest = push_target(org.container, sink, org.mappings, "zoho.Accounts", as_of=AS_OF)

        bound = len(org.bindings("zoho.Accounts"))
        assert rest.counts["pushed"] == bound - sink.max_batch
        assert api_updates(org) == bound  # each record written once


def test_a_push_stopped_while_a_batch_is_retried_stops_cleanly_and_the_next_sends_that_batch(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=3, contacts=4, accounts=250), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        sink = org.container.zoho.sink
        batches = 0

        def stopped_during_the_second_batch(stream: str, updates: Sequence[FieldUpdate]) -> list[PushResult]:
            nonlocal batches
            batches += 1
            if batches == 2:  # HTTP 500s, and a SIGTERM while the call waits to be tried again
                org.sandbox.faults.error_rate = 1.0
                retry.STOPPING.set()
            return ZohoStatusSink.push(sink, stream, updates)

        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(sink, "push", stopped_during_the_second_batch)
                first = push_target(org.container, sink, org.mappings, "zoho.Accounts", as_of=AS_OF)
        finally:
            retry.STOPPING.clear()
        org.sandbox.faults.error_rate = 0.0

        assert first.stopped is not None
        assert first.counts["pushed"] == sink.max_batch
        rest = push_target(org.container, sink, org.mappings, "zoho.Accounts", as_of=AS_OF)
        assert rest.counts["pushed"] == len(org.bindings("zoho.Accounts")) - sink.max_batch


def test_values_sent_whose_answer_was_lost_are_not_taken_as_shown_so_going_back_is_sent(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=3, contacts=4, accounts=1), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        (record_id,) = org.bindings("zoho.Accounts")
        customer_id = org.bindings("zoho.Accounts")[record_id][0]
        assert push(org)["pushed"] == 1  # 0.00 owed, shown
        with unit_of_work(org.container.sessions) as session:
            account_no = session.get_one(Customer, customer_id).account_no
            entry = org.container.ledger(session).post(invoice("INV-LOST", account_no, "999.00", day=2))
        sink = org.container.zoho.sink

        def applied_but_answer_lost(stream: str, updates: Sequence[FieldUpdate]) -> list[PushResult]:
            ZohoStatusSink.push(sink, stream, updates)  # Zoho applies 999.00
            raise TransientRemoteError("zoho: update Accounts: read timed out")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sink, "push", applied_but_answer_lost)
            with pytest.raises(ConnectorError):
                push_target(org.container, sink, org.mappings, "zoho.Accounts", as_of=AS_OF)
        with unit_of_work(org.container.sessions) as session:  # the invoice voided: back to 0.00
            org.container.ledger(session).reverse(entry.entry_id, posting_date=date(2026, 3, 3))

        assert push(org)["pushed"] == 1  # 0.00 sent again: the CRM showed 999.00
        shown = org.sandbox.record("Accounts", record_id)
        assert shown is not None
        assert Decimal(str(shown["Outstanding_Balance"])) == Decimal("0.00")


def test_a_refusal_of_the_whole_call_fails_the_run_and_counts_against_no_record(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=3, contacts=4, accounts=5), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        sink = org.container.zoho.sink

        def wrong_url(stream: str, updates: Sequence[FieldUpdate]) -> list[PushResult]:
            raise PermanentRemoteError("zoho: update Accounts: HTTP 404 INVALID_URL_PATTERN", status=404)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sink, "push", wrong_url)
            with pytest.raises(PermanentRemoteError, match="INVALID_URL_PATTERN"):
                push_target(org.container, sink, org.mappings, "zoho.Accounts", as_of=AS_OF)
        with unit_of_work(org.container.sessions) as session:
            items = [(i.status, i.attempts) for i in session.scalars(select(OutboxItem))]
        assert items == [("pending", 0)] * 5
        assert push(org)["pushed"] == 5  # once fixed, every record goes


def test_a_batch_whose_every_record_is_refused_keeps_each_records_own_code_and_field(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=21, contacts=4, accounts=3), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        locked, balance, status = sorted(org.bindings("zoho.Accounts"))
        org.sandbox.faults.locked_ids.add(locked)
        org.sandbox.faults.invalid_data.update({balance: "Outstanding_Balance", status: "Credit_Status"})

        counts = push(org)

        assert counts["rejected"] == 3
        with unit_of_work(org.container.sessions) as session:
            items = session.scalars(select(OutboxItem))
            refusals = {i.external_id: (i.last_code, i.last_field) for i in items}
        assert refusals == {
            locked: ("RECORD_LOCKED", "id"),
            balance: ("INVALID_DATA", "Outstanding_Balance"),
            status: ("INVALID_DATA", "Credit_Status"),
        }


def test_a_record_moved_to_another_customer_by_a_merge_shows_the_survivors_figures(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=3), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        push(org)
        (moved, (absorbed, _)), (_, (survivor, _)) = sorted(org.bindings("zoho.Accounts").items())[:2]
        with unit_of_work(org.container.sessions) as session:
            numbers = dict(session.execute(select(Customer.id, Customer.account_no)).all())
            org.container.master(session, org.mappings.policy).merge(
                numbers[survivor], numbers[absorbed], "the same company"
            )

        assert push(org)["pushed"] >= 1
        shown = org.sandbox.record("Accounts", moved)
        assert shown is not None
        assert shown["Account_Number"] == numbers[survivor]


def test_a_record_deleted_in_the_crm_is_sent_nothing_more(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=3), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        gone = sorted(org.bindings("zoho.Accounts"))[0]
        org.sandbox.faults.locked_ids.add(gone)
        assert push(org)["rejected"] == 1
        org.sandbox.delete_as_user("Accounts", gone)
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        before = api_updates(org)

        counts = push(org, retry_now=True)

        assert (counts["retired"], counts.get("rejected", 0), api_updates(org)) == (1, 0, before)
        with unit_of_work(org.container.sessions) as session:
            assert session.get_one(OutboxItem, ("zoho.Accounts", gone)).status == "retired"


def test_two_pushes_at_once_send_each_record_once(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=150), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        org.sandbox.faults.latency_s = 0.1
        pushes = [threading.Thread(target=push, args=(org,)) for _ in range(2)]
        for thread in pushes:
            thread.start()
        for thread in pushes:
            thread.join()

        assert api_updates(org) == len(org.bindings("zoho.Accounts"))


@dataclass(frozen=True)
class Withheld:
    """An account pushed with one invoice of `invoiced`, then changed in the CRM to `other` currency than
    the ledger keeps its customer in (`kept_in`), and pulled: its next push withholds its amounts."""

    org: Org
    record: str
    account_no: str
    kept_in: str
    other: str
    shown_before: dict[str, Any]

    def pull(self) -> None:
        pull_stream(
            self.org.container, self.org.container.zoho.records, self.org.mappings, "zoho", "Accounts"
        )

    def post(self, draft: EntryDraft) -> None:
        with unit_of_work(self.org.container.sessions) as session:
            self.org.container.ledger(session).post(draft)


@contextmanager
def an_account_changed_to_another_currency(tmp_path: Path, invoiced: str) -> Iterator[Withheld]:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=6), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        record, (customer_id, _) = sorted(org.bindings("zoho.Accounts").items())[0]
        kept_in = shown(org, record)["Currency"]
        with unit_of_work(org.container.sessions) as session:
            account_no = session.get_one(Customer, customer_id).account_no
            org.container.ledger(session).post(invoice("INV-1", account_no, invoiced, kept_in, day=2))
        push(org)
        other = "USD" if kept_in != "USD" else "EUR"
        account = Withheld(org, record, account_no, kept_in, other, shown(org, record))
        org.sandbox.edit_as_user("Accounts", record, {"Currency": other})
        account.pull()
        yield account


def test_a_record_changed_to_another_currency_in_the_crm_has_its_amounts_withheld_until_it_is_back(
    tmp_path: Path,
) -> None:
    with an_account_changed_to_another_currency(tmp_path, "1000.00") as account:
        org, record, account_no, kept_in, other = (
            account.org,
            account.record,
            account.account_no,
            account.kept_in,
            account.other,
        )
        account.post(invoice("INV-2", account_no, "500.00", kept_in, day=3))
        before = api_updates(org)

        held = push(org)
        with unit_of_work(org.container.sessions) as session:
            retry_by_hand(session, "zoho.Accounts", [record])
        held_again = push(org)

        assert (held["held"], held["withheld"], held_again["held"]) == (1, 1, 1)
        assert (held_again.get("withheld", 0), api_updates(org) - before) == (0, 1)  # sent once
        with unit_of_work(org.container.sessions) as session:
            item = session.get_one(OutboxItem, ("zoho.Accounts", record))
            assert (item.status, item.last_code) == ("dead", "CURRENCY_DIFFERS")
            assert f"kept in {other}, customer {account_no} in {kept_in}" in (item.last_message or "")
        withheld = shown(org, record)
        amounts = (
            "Outstanding_Balance",
            "Overdue_Amount",
            "Aging_Current",
            "Credit_Limit",
            "Available_Credit",
        )
        assert [withheld[field] for field in amounts] == [None] * len(amounts)
        assert withheld["Credit_Status_Reason"] == (
            f"figures withheld: the CRM record is in {other}, the ledger keeps customer {account_no} in "
            f"{kept_in} since 2026-03-02; set the record back to {kept_in} or ask finance"
        )

        org.sandbox.edit_as_user("Accounts", record, {"Currency": kept_in})
        account.pull()
        assert push(org)["pushed"] == 1
        assert shown(org, record)["Outstanding_Balance"] == Decimal("1500.00")


def test_a_withheld_record_shows_its_current_credit_status_and_is_sent_again_when_it_changes(
    tmp_path: Path,
) -> None:
    with an_account_changed_to_another_currency(tmp_path, "500.00") as account:
        org, record = account.org, account.record
        assert account.shown_before["Credit_Status"] == "正常 OK"
        assert push(org)["withheld"] == 1
        late = invoice("INV-LATE", account.account_no, "80000.00", account.kept_in, day=2)
        account.post(replace(late, due_date=AS_OF - timedelta(days=100)))
        before = api_updates(org)

        blocked = push(org)
        held = push(org)

        assert (blocked["status_changed"], blocked.get("withheld", 0), held["held"]) == (1, 1, 1)
        assert (held.get("withheld", 0), api_updates(org) - before) == (0, 1)  # sent once, held again
        withheld = shown(org, record)
        assert (withheld["Credit_Status"], withheld["Figures_As_Of"]) == ("冻结 Blocked", AS_OF.isoformat())
        assert withheld["Credit_Score"] < account.shown_before["Credit_Score"]
        assert (withheld["Outstanding_Balance"], withheld["Overdue_Amount"]) == (None, None)
        assert withheld["Credit_Status_Reason"].startswith("figures withheld: ")
        with unit_of_work(org.container.sessions) as session:
            item = session.get_one(OutboxItem, ("zoho.Accounts", record))
            assert (item.status, item.last_code) == ("dead", "CURRENCY_DIFFERS")


def test_an_account_merged_away_in_the_crm_keeps_its_money_on_the_status_until_merged_here_too(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=6), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        with unit_of_work(org.container.sessions) as session:
            customers = org.container.customers(session)
            by_currency: dict[str, list[tuple[str, str]]] = {}
            for record, (customer_id, _) in sorted(org.bindings("zoho.Accounts").items()):
                view = customers.view(customer_id)
                by_currency.setdefault(view.currency, []).append((record, view.account_no))
            currency, pair = next((c, p) for c, p in by_currency.items() if len(p) >= 2)
            (kept, survivor_no), (gone, absorbed_no) = pair[:2]
            org.container.ledger(session).post(invoice("INV-MERGED", absorbed_no, "1234.50", currency, day=2))
        push(org)
        # Zoho's merge: the record kept takes what the other had, the other is deleted
        org.sandbox.edit_as_user("Accounts", kept, {"Phone": "+86 21 6123 4567"})
        org.sandbox.delete_as_user("Accounts", gone)

        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")

        assert container_snapshot(org.container).recordless_holding_money == 1
        with unit_of_work(org.container.sessions) as session:
            master = org.container.master(session, org.mappings.policy)
            absorbed = master.directory.get(absorbed_no)
            last = master.history(absorbed.id)[-1]
            assert (absorbed.status, last.kind) == ("inactive", "inactive")
            assert "1,234.50" in last.detail
            assert f"connector customers merge SURVIVOR {absorbed_no}" in last.detail
            master.merge(survivor_no, absorbed_no, "merged in the CRM")
        assert container_snapshot(org.container).recordless_holding_money == 0
        push(org)
        assert shown(org, kept)["Outstanding_Balance"] == Decimal("1234.50")


def test_a_record_whose_figures_stop_fitting_the_mapping_is_held_and_quarantined_once_until_they_fit(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=3), tmp_path) as org:
        record = org.sandbox.record_ids("Accounts")[0]
        org.sandbox.edit_as_user("Accounts", record, {"Currency": "KWD"})
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        customer_id = org.bindings("zoho.Accounts")[record][0]
        with unit_of_work(org.container.sessions) as session:
            account_no = session.get_one(Customer, customer_id).account_no
            org.container.ledger(session).post(invoice("K1", account_no, "10.000", "KWD", day=2))
        push(org)
        with unit_of_work(org.container.sessions) as session:  # fils: more decimals than places = 2
            entry = org.container.ledger(session).post(invoice("K2", account_no, "90000.005", "KWD", day=3))

        first, again = push(org), push(org)

        assert (first.get("unmappable"), first.get("held"), first.get("pushed", 0)) == (1, None, 0)
        assert (again.get("unmappable"), again.get("held")) == (None, 1)
        with unit_of_work(org.container.sessions) as session:
            item = session.get_one(OutboxItem, ("zoho.Accounts", record))
            assert (item.status, item.last_code, item.planned_from) == ("dead", "UNMAPPABLE", None)
            assert "more decimal places than 2" in (item.last_message or "")
            (held,) = session.scalars(select(QuarantinedRecord)).all()
            assert (held.record_ref, held.attempts) == (f"zoho.Accounts {record}", 1)
        assert shown(org, record)["Outstanding_Balance"] == Decimal("10.00")
        with unit_of_work(org.container.sessions) as session:
            org.container.ledger(session).reverse(entry.entry_id, posting_date=date(2026, 3, 4))
            org.container.ledger(session).post(invoice("K3", account_no, "5.000", "KWD", day=4))

        assert push(org)["pushed"] == 1
        assert shown(org, record)["Outstanding_Balance"] == Decimal("15.00")
        with unit_of_work(org.container.sessions) as session:
            item = session.get_one(OutboxItem, ("zoho.Accounts", record))
            assert (item.status, item.last_code) == ("pushed", "SUCCESS")


def test_a_push_told_to_resend_corrects_a_crm_users_edit_of_a_pushed_field(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=3), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        record, (customer_id, _) = sorted(org.bindings("zoho.Accounts").items())[0]
        with unit_of_work(org.container.sessions) as session:
            customer = session.get_one(Customer, customer_id)
            org.container.ledger(session).post(
                invoice("INV-R", customer.account_no, "50000.00", customer.currency, day=2)
            )
        push(org)
        status = shown(org, record)["Credit_Status"]
        org.sandbox.edit_as_user("Accounts", record, {"Credit_Status": "正常 OK", "Outstanding_Balance": 0})
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        assert push(org).get("pushed", 0) == 0  # only what the connector last sent is compared

        resent = push_target(
            org.container, org.container.zoho.sink, org.mappings, "zoho.Accounts", as_of=AS_OF, resend=True
        )

        assert (resent.counts["resend"], resent.counts["pushed"]) == (3, 3)
        assert resent.counts["unchanged"] == 0  # each record counted once: resent, not also unchanged
        assert status != "正常 OK"
        assert (shown(org, record)["Credit_Status"], shown(org, record)["Outstanding_Balance"]) == (
            status,
            Decimal("50000.00"),
        )
        assert push(org).get("pushed", 0) == 0


def test_an_amount_with_more_decimals_than_its_crm_field_keeps_is_held_naming_the_field_never_rounded(
    tmp_path: Path,
) -> None:
    mappings_dir = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, mappings_dir)
    outbound = mappings_dir / "zoho_accounts_outbound.toml"
    outbound.write_text(outbound.read_text(encoding="utf-8").replace("places = 2", "places = 3"), "utf-8")
    mappings, problems = load_mapping_set(mappings_dir)
    assert mappings is not None, problems
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=3), tmp_path / "org") as org:
        fils, zeros, plain = org.sandbox.record_ids("Accounts")
        for record in (fils, zeros):
            org.sandbox.edit_as_user("Accounts", record, {"Currency": "KWD"})
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        for number, (record, amount) in enumerate([(fils, "1234.567"), (zeros, "1234.500")]):
            customer_id = org.bindings("zoho.Accounts")[record][0]
            with unit_of_work(org.container.sessions) as session:
                account_no = session.get_one(Customer, customer_id).account_no
                org.container.ledger(session).post(invoice(f"K{number}", account_no, amount, "KWD", day=2))
        before = shown(org, fils).get("Outstanding_Balance")
        api = org.container.zoho.api
        calls: list[str] = []

        def counted(*args: Any, what: str, **kwargs: Any) -> Any:
            calls.append(what)
            return type(api).call(api, *args, what=what, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(api, "call", counted)
            first = push_target(
                org.container, org.container.zoho.sink, mappings, "zoho.Accounts", as_of=AS_OF
            )
            again = push_target(
                org.container, org.container.zoho.sink, mappings, "zoho.Accounts", as_of=AS_OF
            )

        assert (first.counts["unmappable"], first.counts["pushed"]) == (1, 2)
        assert (again.counts["held"], again.counts["pushed"]) == (1, 0)
        assert calls.count("zoho: fields of Accounts") == 1  # kept for the next run: one API credit
        with unit_of_work(org.container.sessions) as session:
            item = session.get_one(OutboxItem, ("zoho.Accounts", fils))
            assert (item.status, item.last_code) == ("dead", "UNMAPPABLE")
            assert (item.last_field or "").startswith("Outstanding_Balance")
            assert "Outstanding_Balance: 1234.567 needs 3 decimal places; the CRM field keeps 2" in (
                item.last_message or ""
            )
        assert shown(org, fils).get("Outstanding_Balance") == before
        assert shown(org, zeros)["Outstanding_Balance"] == Decimal("1234.50")
        assert shown(org, plain)["Outstanding_Balance"] == Decimal("0.00")


def test_two_pushes_within_the_period_read_the_fields_once_and_one_after_it_reads_them_again(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=3), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        fields = org.container.zoho.sink.fields
        first_read = datetime.now(UTC)
        api = org.container.zoho.api
        calls: list[str] = []

        def counted(*args: Any, what: str, **kwargs: Any) -> Any:
            calls.append(what)
            return type(api).call(api, *args, what=what, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(api, "call", counted)
            push(org)
            push(org)
            assert calls.count("zoho: fields of Accounts") == 1
            patch.setattr(fields, "clock", lambda: first_read + timedelta(hours=24, seconds=1))
            push(org)

        assert calls.count("zoho: fields of Accounts") == 2
        assert fields.read_at()["Accounts"] == first_read + timedelta(hours=24, seconds=1)


def test_a_push_counts_the_day_of_the_ledger_timezone_not_the_hosts(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=7, contacts=4, accounts=3), tmp_path) as org:
        settings = org.container.settings
        org.container.settings = settings.model_copy(
            update={"ledger": settings.ledger.model_copy(update={"timezone": "Asia/Shanghai"})}
        )
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts")
        record, (customer_id, _) = sorted(org.bindings("zoho.Accounts").items())[0]
        currency = shown(org, record)["Currency"]
        with unit_of_work(org.container.sessions) as session:
            account_no = session.get_one(Customer, customer_id).account_no
            issued = invoice("INV-CST-MORNING", account_no, "800.00", currency)
            # Issued on 8 December in China, while UTC (the container's clock) is still on the 7th.
            china_morning = date(2026, 12, 8)
            org.container.ledger(session).post(
                replace(issued, posting_date=china_morning, document_date=china_morning)
            )

        outcome = push_target(
            org.container,
            org.container.zoho.sink,
            org.mappings,
            "zoho.Accounts",
            clock=lambda: datetime(2026, 12, 7, 19, 32, tzinfo=UTC),
        )

        assert outcome.counts["pushed"] >= 1
        assert shown(org, record)["Outstanding_Balance"] == Decimal("800.00")
