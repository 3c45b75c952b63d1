"""Pulling customers from the Zoho sandbox over loopback HTTP: full, incremental, deletions, trouble."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from adapters.zoho.sandbox.config import FaultConfig, SandboxConfig
from adapters.zoho.sandbox.timeutil import ManualClock
from connector import retry
from connector.db import unit_of_work
from connector.ledger.models import Customer
from connector.ledger.verify import verify_ledger
from connector.mapping.files import parse_mapping_texts
from connector.master.sync import apply_mapped
from connector.ports import Changed, ContactSource, Deletion
from connector.sync import cursors
from connector.sync import pull as pull_module
from connector.sync.credits import DatabaseSpendingLog
from connector.sync.models import QuarantinedRecord, SyncRun
from connector.sync.pull import pull_stream
from connector.sync.push import push_target
from tests.e2e.zoho_org import MAPPINGS, Org, connect_to, zoho_org
from tests.integration.helpers import disk_full_on_commit, invoice

FULL_PULL_CONTACTS = 25_000


def outcomes(counts: dict[str, int]) -> int:
    """Records that reached an outcome: every one read must have exactly one."""
    return sum(n for k, n in counts.items() if k not in {"read", "stopped_on_budget"})


@pytest.fixture(scope="module")
def big_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    with zoho_org(
        SandboxConfig(seed=11, contacts=FULL_PULL_CONTACTS, accounts=10), tmp_path_factory.mktemp("big")
    ) as org:
        yield org


def test_full_pull_reads_every_contact_far_past_the_2000_that_page_offsets_reach(big_org: Org) -> None:
    result = pull_stream(
        big_org.container, big_org.container.zoho.records, big_org.mappings, "zoho", "Contacts"
    )

    assert result.stopped is None
    assert result.counts["read"] == FULL_PULL_CONTACTS
    assert outcomes(result.counts) == FULL_PULL_CONTACTS  # each bound, held for review or quarantined
    bound = big_org.bindings("zoho.Contacts")
    assert set(bound) <= set(big_org.sandbox.record_ids("Contacts"))
    assert len(bound) == result.counts["created"] + result.counts["matched"]
    with big_org.container.sessions() as session:
        assert verify_ledger(session).ok


def test_a_second_pull_reads_nothing_when_nothing_changed(big_org: Org) -> None:
    again = pull_stream(
        big_org.container, big_org.container.zoho.records, big_org.mappings, "zoho", "Contacts"
    )

    assert again.counts["read"] == 0


def test_incremental_pull_returns_only_the_records_changed_since(big_org: Org) -> None:
    ids = sorted(big_org.bindings("zoho.Contacts"))[:3]
    for record_id in ids:
        big_org.sandbox.edit_as_user("Contacts", record_id, {"Mailing_Country": "Singapore"})
    created = big_org.sandbox.create_as_user(
        "Contacts", {"Last_Name": "Okafor", "First_Name": "Ada", "Email": "ada.okafor@example.org"}
    )

    result = pull_stream(
        big_org.container, big_org.container.zoho.records, big_org.mappings, "zoho", "Contacts"
    )

    assert result.counts["read"] == 4
    assert result.counts["updated"] == 3
    assert created in big_org.bindings("zoho.Contacts")


def test_deleted_contacts_mark_their_binding_deleted(big_org: Org) -> None:
    gone = sorted(big_org.bindings("zoho.Contacts"))[-2:]
    for record_id in gone:
        big_org.sandbox.delete_as_user("Contacts", record_id)

    result = pull_stream(
        big_org.container, big_org.container.zoho.records, big_org.mappings, "zoho", "Contacts"
    )

    assert result.counts["deleted"] == 2
    bound = big_org.bindings("zoho.Contacts")
    assert [bound[i][1] for i in gone] == ["deleted", "deleted"]
    again = pull_stream(
        big_org.container, big_org.container.zoho.records, big_org.mappings, "zoho", "Contacts"
    )
    assert again.counts["deleted"] == 0


class ExpiringMidRun:
    """A source whose org revokes every access token after the third page (as an expiry would)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.inner: ContactSource = org.container.zoho.records

    def changes(
        self, stream: str, fields: object, since: datetime | None, seen_at_since: frozenset[str]
    ) -> Iterator[list[Changed]]:
        for number, page in enumerate(self.inner.changes(stream, fields, since, seen_at_since), start=1):  # type: ignore[arg-type]
            if number == 3:
                self.org.sandbox.expire_access_tokens()
            yield page

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def snapshot(org: Org) -> dict[str, str]:
    """external id → account number of every Contacts binding."""
    with org.container.sessions() as session:
        customers = org.container.customers(session)
        return {
            ext: customers.view(cid).account_no for ext, (cid, _) in org.bindings("zoho.Contacts").items()
        }


def test_a_pull_writes_its_credits_with_its_transactions_while_its_reader_resyncs_the_budget(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=5, contacts=3_000, accounts=2), tmp_path) as org:
        meter = org.container.zoho.meter
        meter.resync_every = 1  # the reader writes and reads the spending at each call, in its thread
        log = DatabaseSpendingLog(org.container.sessions)

        result = pull_stream(
            org.container, org.container.zoho.records, org.mappings, "zoho", "Contacts", spending=meter
        )

        assert result.counts["read"] == 3_000
        assert log.spent_since("zoho", datetime.now(UTC) - timedelta(days=1)) == meter.spent_by_me


def test_a_token_expiring_mid_run_is_replaced_once_and_the_pull_completes(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=5, contacts=1_500), tmp_path) as org:
        result = pull_stream(org.container, ExpiringMidRun(org), org.mappings, "zoho", "Contacts")  # type: ignore[arg-type]

        assert result.counts["read"] == 1_500
        assert outcomes(result.counts) == 1_500


def test_429_storms_slow_the_pull_but_give_identical_results(tmp_path: Path) -> None:
    config = SandboxConfig(seed=5, contacts=2_500)
    with zoho_org(config, tmp_path / "calm") as calm:
        pull_stream(calm.container, calm.container.zoho.records, calm.mappings, "zoho", "Contacts")
        expected = snapshot(calm)
    stormy = SandboxConfig(
        seed=5, contacts=2_500, faults=FaultConfig(burst_429_every=4, burst_429_length=2, error_rate=0.05)
    )
    with zoho_org(stormy, tmp_path / "storm") as storm:
        result = pull_stream(
            storm.container, storm.container.zoho.records, storm.mappings, "zoho", "Contacts"
        )

        assert result.counts["read"] == 2_500
        assert snapshot(storm) == expected
        assert storm.sandbox.injector.calls > 13  # the storm happened: 13 pages took more calls


def test_the_cursor_and_its_records_survive_a_second_connector_instance(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=8, contacts=600), tmp_path) as org:
        pull_stream(org.container, org.container.zoho.records, org.mappings, "zoho", "Contacts")
        org.sandbox.edit_as_user(
            "Contacts", org.sandbox.record_ids("Contacts")[0], {"Mailing_Country": "Japan"}
        )
        other = connect_to(org.server, tmp_path)  # same database, a fresh process's view
        try:
            result = pull_stream(
                other.container, other.container.zoho.records, other.mappings, "zoho", "Contacts"
            )
        finally:
            other.container.close()

        assert result.counts["read"] == 1


def manual_clock(config: SandboxConfig) -> ManualClock:
    clock = ManualClock(config.epoch.timestamp() + 86_400)
    config.clock = clock
    return clock


def pull(org: Org, source: ContactSource | None = None) -> dict[str, int]:
    source = source or org.container.zoho.records
    return dict(pull_stream(org.container, source, org.mappings, "zoho", "Contacts").counts)


def test_a_later_edit_of_a_record_read_at_the_cursor_instant_is_pulled(tmp_path: Path) -> None:
    config = SandboxConfig(seed=3, contacts=20, accounts=2)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:
        pull(org)
        with unit_of_work(org.container.sessions) as session:
            at_cursor = cursors.changes_position(cursors.cursor_row(session, "zoho", "Contacts")).seen
        clock.advance(3_600)
        org.sandbox.edit_as_user("Contacts", min(at_cursor), {"Mailing_Country": "Singapore"})

        assert pull(org)["read"] == 1


class EditsAfterTheFirstPage:
    """A source during whose listing a person edits a record the pull has just read."""

    def __init__(self, org: Org, edit: Callable[[], None]) -> None:
        self.inner: ContactSource = org.container.zoho.records
        self.edit = edit
        self.read: list[str] = []

    def changes(
        self, stream: str, fields: object, since: datetime | None, seen_at_since: frozenset[str]
    ) -> Iterator[list[Changed]]:
        for number, page in enumerate(self.inner.changes(stream, fields, since, seen_at_since), start=1):  # type: ignore[arg-type]
            self.read += [change.id for change in page]
            yield page
            if number == 1:
                self.edit()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_stopping_process_ends_its_pull_between_two_transactions_and_the_next_run_reads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull_module, "RECORDS_PER_TRANSACTION", 200)  # a page a transaction

    def then_stop(*args: Any, **kwargs: Any) -> Counter[str]:
        retry.STOPPING.set()  # SIGTERM while the first transaction is applied
        return apply_mapped(*args, **kwargs)

    with zoho_org(SandboxConfig(seed=6, contacts=1_000, accounts=2), tmp_path) as org:
        try:
            with monkeypatch.context() as stopping:
                stopping.setattr("connector.sync.pull.apply_mapped", then_stop)
                first = pull(org)
        finally:
            retry.STOPPING.clear()
        second = pull(org)

        assert first["stopped_by_shutdown"] == 1
        assert 0 < first["read"] < 1_000
        assert first["read"] + second["read"] >= 1_000
        assert len(org.bindings("zoho.Contacts")) == 1_000


def test_a_record_edited_while_the_pull_pages_hides_no_other_record(tmp_path: Path) -> None:
    config = SandboxConfig(seed=4, contacts=400, accounts=2)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:
        pull(org)
        changed = org.sandbox.record_ids("Contacts")
        clock.advance(60)
        for record_id in changed:  # 400 records changed since the cursor: two pages
            clock.advance(1)
            org.sandbox.edit_as_user("Contacts", record_id, {"Mailing_Country": "Singapore"})

        def edit_one_already_read() -> None:
            clock.advance(60)
            org.sandbox.edit_as_user("Contacts", changed[4], {"Mailing_City": "Pune"})

        source = EditsAfterTheFirstPage(org, edit_one_already_read)
        pull(org, source)  # type: ignore[arg-type]

        assert set(source.read) == set(changed)


def two_pages_deleted(org: Org, clock: ManualClock) -> list[str]:
    """250 of the contacts pulled, deleted a second apart: two pages of deletions, listed newest first."""
    pull(org)
    gone = sorted(org.bindings("zoho.Contacts"))[:250]
    for record_id in gone:
        clock.advance(1)
        org.sandbox.delete_as_user("Contacts", record_id)
    return gone


def test_deletions_applied_before_a_stop_on_budget_move_no_cursor_past_the_rest(tmp_path: Path) -> None:
    config = SandboxConfig(seed=5, contacts=300, accounts=2)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:
        gone = two_pages_deleted(org, clock)
        meter = org.container.zoho.meter
        meter.budget = meter.budget - meter.remaining() + 3  # the changes listing and one deletions page

        first = pull(org)
        meter.budget += 1_000
        second = pull(org)

        assert (first["stopped_on_budget"], first["deleted"]) == (1, 200)
        assert second["deleted"] == 50
        bound = org.bindings("zoho.Contacts")
        assert {bound[record_id][1] for record_id in gone} == {"deleted"}


class RestoresAfterTheFirstPage:
    """A source during whose listing of deletions a person restores a record from the recycle bin."""

    def __init__(self, org: Org, restored: str) -> None:
        self.inner: ContactSource = org.container.zoho.records
        self.org, self.restored = org, restored

    def deletions(self, stream: str, since: datetime | None) -> Iterator[list[Deletion]]:
        for number, page in enumerate(self.inner.deletions(stream, since), start=1):
            yield page
            if number == 1:  # its entry leaves the listing (the record itself is left out of the sandbox)
                store = self.org.sandbox.store(stream)
                with self.org.sandbox.lock:
                    store.deleted = [entry for entry in store.deleted if str(entry.id) != self.restored]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_record_restored_while_deletions_are_paged_hides_no_other_deletion(tmp_path: Path) -> None:
    config = SandboxConfig(seed=5, contacts=300, accounts=2)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:
        gone = two_pages_deleted(org, clock)

        first = pull(org, RestoresAfterTheFirstPage(org, gone[-1]))  # type: ignore[arg-type]
        second = pull(org)

        assert (first["deleted"], second.get("deleted", 0)) == (250, 0)
        bound = org.bindings("zoho.Contacts")
        assert {bound[record_id][1] for record_id in gone} == {"deleted"}


def calls_to(org: Org, path: str) -> Counter[str]:
    """Counts, from now on, the connector's calls to `path` (ending the URL's path) by their query."""
    counted: Counter[str] = Counter()

    def count(request: httpx.Request) -> None:
        if request.url.path.endswith(path):
            counted[str(request.url.params)] += 1

    org.container.zoho.http.event_hooks["request"].append(count)
    return counted


def test_two_pages_of_deletions_cost_two_calls_not_a_second_reading(tmp_path: Path) -> None:
    config = SandboxConfig(seed=5, contacts=300, accounts=2)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:
        gone = two_pages_deleted(org, clock)
        listed = calls_to(org, "/Contacts/deleted")

        counts = pull(org)

        assert counts["deleted"] == len(gone)
        assert sum(listed.values()) == 2


def test_records_changed_in_one_second_are_listed_again_by_one_pull_only_and_none_made_then_is_missed(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(seed=3, contacts=446, accounts=2)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:
        pull(org)
        clock.advance(3_600)
        for record_id in org.sandbox.record_ids("Contacts"):  # a bulk edit: all stamped in one second
            org.sandbox.edit_as_user("Contacts", record_id, {"Mailing_Country": "Singapore"})
        assert pull(org)["read"] == 446
        late = org.sandbox.create_as_user("Contacts", {"Last_Name": "Okafor", "Email": "ada@example.org"})
        listed = calls_to(org, "/Contacts")

        # The same second again: the record made in it after the pull read it is found
        assert pull(org)["read"] == 1
        assert late in org.bindings("zoho.Contacts")
        # … and again: nothing new there, the cursor moves past it
        assert pull(org).get("read", 0) == 0
        assert sum(listed.values()) == 2 * 3  # 447 records at one instant: pages of 200, 200 and 47
        listed.clear()

        assert pull(org).get("read", 0) == 0
        assert sum(listed.values()) == 1  # an idle pull: one call, answered 304
        clock.advance(1)
        org.sandbox.edit_as_user("Contacts", late, {"Mailing_Country": "Japan"})
        assert pull(org)["read"] == 1


def test_a_contact_deleted_and_made_again_between_pulls_rebinds_its_customer(tmp_path: Path) -> None:
    config = SandboxConfig(seed=3, contacts=20, accounts=2)
    clock = manual_clock(config)
    person = {"Last_Name": "Okafor", "First_Name": "Ada", "Email": "ada.okafor@example.org"}
    with zoho_org(config, tmp_path) as org:
        pull(org)
        clock.advance(3_600)
        old = org.sandbox.create_as_user("Contacts", person)
        pull(org)
        clock.advance(60)
        org.sandbox.delete_as_user("Contacts", old)
        clock.advance(60)
        new = org.sandbox.create_as_user("Contacts", person)  # the same person, made again

        counts = pull(org)

        bound = org.bindings("zoho.Contacts")
        assert (counts["deleted"], counts.get("review", 0)) == (1, 0)
        assert bound[old] == (bound[new][0], "deleted")
        assert bound[new][1] == "active"
        with unit_of_work(org.container.sessions) as session:
            assert org.container.customers(session).view(bound[new][0]).status == "active"


def test_a_record_quarantined_then_corrected_in_the_crm_is_resolved_by_the_pull_that_applies_it(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(seed=3, contacts=20, accounts=2)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:
        pull(org)
        clock.advance(3_600)
        record_id = org.sandbox.create_as_user("Contacts", {"Last_Name": "Zhou", "Phone": "1234"})
        assert pull(org)["quarantined"] == 1
        clock.advance(60)
        org.sandbox.edit_as_user("Contacts", record_id, {"Phone": "+86 139 1234 5670"})

        counts = pull(org)

        assert (counts["created"], counts["quarantine_resolved"]) == (1, 1)
        with unit_of_work(org.container.sessions) as session:
            record = session.scalars(select(QuarantinedRecord)).one()
        assert (record.status, record.resolved_by) == ("resolved", "pull")
        assert record.resolution is not None
        assert record.resolution.startswith("applied by pull run ")


class BreaksAfterTheFirstPage(EditsAfterTheFirstPage):
    def __init__(self, org: Org) -> None:
        def crash() -> None:
            raise RuntimeError("a bug")

        super().__init__(org, crash)


def test_a_pull_that_crashes_is_recorded_as_failed_not_as_succeeded(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=6, contacts=450, accounts=2), tmp_path) as org:
        with pytest.raises(RuntimeError):
            pull(org, BreaksAfterTheFirstPage(org))  # type: ignore[arg-type]
        with unit_of_work(org.container.sessions) as session:
            run = session.scalars(select(SyncRun).where(SyncRun.job == "pull")).one()
        assert (run.status, run.error) == ("failed", "RuntimeError (see the log)")
        assert pull(org)["read"] == 250  # the next run goes on from the committed first page


def test_a_pull_killed_part_way_is_recorded_with_the_counts_of_what_it_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull_module, "finish_run", lambda *args: None)  # killed: nothing after it runs
    with zoho_org(SandboxConfig(seed=6, contacts=450, accounts=2), tmp_path) as org:
        with pytest.raises(RuntimeError):
            pull(org, BreaksAfterTheFirstPage(org))  # type: ignore[arg-type]
        with unit_of_work(org.container.sessions) as session:
            run = session.scalars(select(SyncRun).where(SyncRun.job == "pull")).one()
            assert run.counts_json is not None
            assert json.loads(run.counts_json)["read"] == 200  # the first page, committed


def test_a_pull_whose_commit_fails_is_recorded_with_the_counts_of_what_it_committed_and_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull_module, "RECORDS_PER_TRANSACTION", 200)  # a page a transaction
    with zoho_org(SandboxConfig(seed=6, contacts=450, accounts=2), tmp_path) as org:
        with (
            disk_full_on_commit(org.container, monkeypatch, pull_module, "apply_mapped", 0, nth=2),
            pytest.raises(OperationalError),
        ):
            pull(org)
        with unit_of_work(org.container.sessions) as session:
            run = session.scalars(select(SyncRun).where(SyncRun.job == "pull")).one()
            counts = json.loads(run.counts_json or "{}")
        assert (run.status, counts["read"]) == ("failed", 200)  # the first page, committed; not the second
        assert run.error == "OperationalError: database or disk is full (see the log)"
        assert len(org.bindings("zoho.Contacts")) == 200


CONTACT_CURRENCY = """[[fields]]
target = "currency"
source = "Currency"
"""


def test_a_contact_kept_in_another_currency_becomes_a_customer_in_that_currency(tmp_path: Path) -> None:
    with zoho_org(SandboxConfig(seed=9, contacts=40, accounts=2), tmp_path) as org:
        pull(org)

        with unit_of_work(org.container.sessions) as session:
            customers = org.container.customers(session)
            kept_in = {
                record: (shown["Currency"], customers.view(customer_id).currency)
                for record, (customer_id, _) in org.bindings("zoho.Contacts").items()
                if (shown := org.sandbox.record("Contacts", record)) is not None
            }
        assert {zoho for zoho, _ in kept_in.values()} >= {"CNY", "USD"}
        assert all(zoho == customer for zoho, customer in kept_in.values())


def test_a_contact_bound_before_its_currency_was_read_gives_it_to_its_customer_unless_it_holds_postings(
    tmp_path: Path,
) -> None:
    with zoho_org(SandboxConfig(seed=9, contacts=40, accounts=2), tmp_path) as org:
        texts = dict(org.mappings.texts)
        reading = texts["zoho_contacts.toml"]
        texts["zoho_contacts.toml"] = (
            reading[: reading.index(CONTACT_CURRENCY)]
            + reading[reading.index("[[fields]]", reading.index(CONTACT_CURRENCY) + 1) :]
        )
        unread, problems = parse_mapping_texts(MAPPINGS, texts)
        assert unread is not None, problems
        pull_stream(org.container, org.container.zoho.records, unread, "zoho", "Contacts")
        in_usd = [
            record
            for record in org.bindings("zoho.Contacts")
            if (org.sandbox.record("Contacts", record) or {}).get("Currency") == "USD"
        ]

        assert len(in_usd) >= 2
        bound = org.bindings("zoho.Contacts")
        posted, empty = in_usd[:1], in_usd[1:]
        with unit_of_work(org.container.sessions) as session:
            for record in posted:
                account_no = session.get_one(Customer, bound[record][0]).account_no
                org.container.ledger(session).post(invoice(f"INV-{record}", account_no, "100.00"))

        counts = pull_stream(
            org.container, org.container.zoho.records, org.mappings, "zoho", "Contacts", full=True
        ).counts

        assert counts["updated"] >= len(in_usd)
        with unit_of_work(org.container.sessions) as session:
            master = org.container.master(session, org.mappings.policy)
            customers = org.container.customers(session)
            for record in posted:
                assert customers.view(bound[record][0]).currency == "CNY"
                assert "currency_differs" in {event.kind for event in master.history(bound[record][0])}
            for record in empty:
                assert customers.view(bound[record][0]).currency == "USD"
                assert "currency_changed" in {event.kind for event in master.history(bound[record][0])}


def test_records_the_push_wrote_are_read_again_but_taken_as_unchanged_customers(tmp_path: Path) -> None:
    config = SandboxConfig(seed=7, contacts=4, accounts=250)
    clock = manual_clock(config)
    with zoho_org(config, tmp_path) as org:

        def pull_accounts() -> Counter[str]:
            return pull_stream(
                org.container, org.container.zoho.records, org.mappings, "zoho", "Accounts"
            ).counts

        def customers_updated_at() -> dict[int, datetime]:
            with unit_of_work(org.container.sessions) as session:
                return dict(session.execute(select(Customer.id, Customer.updated_at)).all())

        pull_accounts()
        bound = org.bindings("zoho.Accounts")
        renamed = sorted(bound)[0]
        clock.advance(60)
        org.sandbox.edit_as_user("Accounts", renamed, {"Account_Name": "Renamed before the push Ltd"})
        clock.advance(60)
        pushed = push_target(org.container, org.container.zoho.sink, org.mappings, "zoho.Accounts")
        assert pushed.counts["pushed"] == len(bound)
        before = customers_updated_at()
        listed = calls_to(org, "/Accounts")
        clock.advance(60)

        counts = pull_accounts()

        # Zoho lists every record the push wrote (their Modified_Time moved; its listing cannot leave out
        # the connector's own writes): pages of 200, from the cursor's instant, and nothing read by id.
        # Only the record a user changed is applied.
        assert sum(listed.values()) <= 3
        assert not [query for query in listed if "ids=" in query]
        assert counts["read"] == len(bound)
        assert (counts["updated"], counts["unchanged"]) == (1, len(bound) - 1)
        after = customers_updated_at()
        assert [c for c in after if after[c] != before[c]] == [bound[renamed][0]]
        with unit_of_work(org.container.sessions) as session:
            assert (
                org.container.customers(session).view(bound[renamed][0]).name == "Renamed before the push Ltd"
            )


def test_a_pull_logs_once_a_run_the_source_paths_none_of_its_records_holds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with zoho_org(SandboxConfig(seed=5, contacts=450, accounts=2), tmp_path) as org:
        with caplog.at_level(logging.WARNING, logger="connector.sync.pull"):
            pull(org)
        assert "source paths" not in caplog.text  # the shipped mapping's paths are each in some record
        texts = dict(org.mappings.texts)
        texts["zoho_contacts.toml"] = texts["zoho_contacts.toml"].replace(
            'source = "Email"', 'source = "Emial"'
        )
        typo, problems = parse_mapping_texts(MAPPINGS, texts)
        assert typo is not None, problems
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="connector.sync.pull"):
            counts = pull_stream(
                org.container, org.container.zoho.records, typo, "zoho", "Contacts", full=True
            )

    assert counts.counts["read"] == 450  # three pages, more than one transaction's worth of pages read
    [note] = [r.getMessage() for r in caplog.records if "source paths" in r.getMessage()]
    assert "mapping zoho.Contacts reads are in none of the 450 record(s)" in note
    # Zoho sends the fields asked for: none near 'Emial' to hint at, a mapped one is not offered
    assert "read as empty: 'Emial' (email); if the records name them otherwise" in note
