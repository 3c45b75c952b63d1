from __future__ import annotations

import dataclasses
import socket
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from connector.bootstrap import Container, build_container
from connector.db import unit_of_work
from connector.errors import CustomerError, KeyStoreError, MoneyError
from connector.ledger.customers import CustomerDirectory, NewCustomer
from connector.ledger.models import Customer
from connector.money import Money
from connector.security.cipher import FieldCipher, key_id_of
from connector.security.keys import KeyRing, save_keyring
from connector.security.models import IndexState
from connector.security.rotation import Reencrypted, older_keys_left, reencrypt_all
from connector.sync.leases import lease
from connector.sync.models import JobLease, SyncRun
from connector.sync.runs import close_abandoned_runs, record_counts, run_history, start_run
from tests.integration.helpers import add_customer


def test_account_numbers_count_per_type_and_region(container: Container) -> None:
    numbers = [
        add_customer(container, "A", customer_type="KA", region="SH"),
        add_customer(container, "B", customer_type="KA", region="SH"),
        add_customer(container, "C", customer_type="SME", region="SH"),
        add_customer(container, "D", customer_type="KA", region="BJ"),
    ]
    assert numbers == ["KASH00001", "KASH00002", "SMESH00001", "KABJ00001"]


def test_a_rolled_back_creation_leaves_no_gap_and_no_duplicate_number(container: Container) -> None:
    first = add_customer(container, "A")
    with pytest.raises(RuntimeError), unit_of_work(container.sessions) as session:
        container.customers(session).create(NewCustomer("B", "KA", "SH", "CNY"))
        raise RuntimeError("abandoned")
    assert [first, add_customer(container, "C"), add_customer(container, "D")] == [
        "KASH00001",
        "KASH00002",
        "KASH00003",
    ]


def test_a_template_without_region_numbers_across_regions(container: Container) -> None:
    with unit_of_work(container.sessions) as session:
        directory = CustomerDirectory(session, container.cipher, "C{type}-{seq:06}")
        made = [
            directory.create(NewCustomer(n, "KA", r, "CNY")).account_no for n, r in (("a", "SH"), ("b", "BJ"))
        ]
    assert made == ["CKA-000001", "CKA-000002"]


def test_personal_data_is_stored_encrypted_and_found_through_blind_indexes(container: Container) -> None:
    account_no = add_customer(
        container,
        "上海明远贸易有限公司",
        email="Finance@MingYuan.example.cn",
        phone="+86 21 6888 1234",
        address="上海市浦东新区世纪大道100号",
        bank_accounts=("6222 0210 0112 3456 789",),
        credit_limit=Money.of("500000", "CNY"),
        payment_terms_days=60,
    )
    with unit_of_work(container.sessions) as session:
        stored = session.scalars(select(Customer)).one()
        directory = container.customers(session)
        assert "明远" not in stored.name_enc
        assert "MingYuan" not in (stored.email_enc or "")
        assert [c.account_no for c in directory.find_by_email("finance@mingyuan.example.cn")] == [account_no]
        assert [c.account_no for c in directory.find_by_phone("+862168881234")] == [account_no]
        assert [c.account_no for c in directory.find_by_bank_account("6222021001123456789")] == [account_no]
        view = directory.get(account_no)
    assert view.name == "上海明远贸易有限公司"
    assert view.address == "上海市浦东新区世纪大道100号"
    assert view.credit_limit == Money.of("500000", "CNY")
    assert view.payment_terms_days == 60


def test_an_account_number_cannot_be_changed(container: Container) -> None:
    add_customer(container)
    with (
        pytest.raises(CustomerError, match="KASH00001 is immutable"),
        unit_of_work(container.sessions) as session,
    ):
        session.scalars(select(Customer)).one().account_no = "KASH99999"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"customer_type": "大客户"}, "customer type code"),
        ({"region": "S H"}, "region code"),
        ({"currency": "RMB"}, "unknown currency"),
        ({"payment_terms_days": -1}, "payment terms"),
        ({"credit_limit": Money.of("1", "USD")}, "credit limit in USD"),
    ],
)
def test_invalid_customers_are_refused_with_the_reason(
    container: Container, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises((CustomerError, MoneyError), match=message):
        add_customer(container, "X", **overrides)


def test_rotation_re_encrypts_every_field_and_keeps_lookups_working(container: Container) -> None:
    account_no = add_customer(
        container, "王小明", email="wang@example.com", bank_accounts=("GB29NWBK60161331926819",)
    )
    rotated = FieldCipher(container.keyring.rotated())
    assert reencrypt_all(container.sessions, rotated, batch=1) == Reencrypted(3, 0)
    with unit_of_work(container.sessions) as session:
        stored = session.scalars(select(Customer)).one()
        assert key_id_of(stored.name_enc) == rotated.ring.active_id
        directory = CustomerDirectory(session, rotated, "{type}{region}{seq:05}")
        assert directory.get(account_no).name == "王小明"
        assert [c.account_no for c in directory.find_by_bank_account("GB29 NWBK 6016 1331 9268 19")] == [
            account_no
        ]
    assert reencrypt_all(container.sessions, rotated) == Reencrypted(0, 0)


def test_values_a_writer_sealed_with_the_old_key_after_a_rotation_are_counted_per_column(
    container: Container,
) -> None:
    add_customer(container, "王小明", email="wang@example.com")
    rotated = FieldCipher(container.keyring.rotated())
    done = reencrypt_all(container.sessions, rotated)
    with unit_of_work(container.sessions) as session:
        assert older_keys_left(session, rotated.ring.active_id, done.unreadable_by_column()) == {}
        late = container.cipher.encrypt("customer.email", "wang@example.org")  # a process on the old key
        session.execute(update(Customer).values(email_enc=late))
    with unit_of_work(container.sessions) as session:
        left = older_keys_left(session, rotated.ring.active_id, {})
        unreadable_too = older_keys_left(session, rotated.ring.active_id, {"customers email_enc": 1})
    assert (left, unreadable_too) == ({"customers email_enc": 1}, {})


def test_rotation_never_undoes_a_value_another_writer_changed_meanwhile(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN: the two never overlap")
    account_no = add_customer(container, "王小明", email="old@example.com")
    rotated = FieldCipher(container.keyring.rotated())
    save_keyring(container.settings.security.keys_file, rotated.ring)  # `keys rotate` saves it first
    container.cipher.use(rotated.ring)  # and the daemon has read it
    sealing = rotated.encrypt

    def a_writer_changes_it_meanwhile(field: str, plaintext: str) -> str:
        if field == "customer.email":  # the daemon writes the new address between the read and the write
            with unit_of_work(container.sessions) as session:
                directory = container.customers(session)
                view = directory.get(account_no)
                directory.update_contact(view.id, view.name, "new@example.com", view.phone, view.address)
        return sealing(field, plaintext)

    monkeypatch.setattr(rotated, "encrypt", a_writer_changes_it_meanwhile)
    done = reencrypt_all(container.sessions, rotated)
    assert (done.changed, done.moved_on) == (1, 1)
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        assert directory.get(account_no).email == "new@example.com"
        assert [c.account_no for c in directory.find_by_email("new@example.com")] == [account_no]


def test_lookups_made_by_older_rules_are_made_again_when_the_connector_starts(container: Container) -> None:
    account_no = add_customer(container, "Mingyuan Trading Co., Ltd.", email="Li.Wei@gmail.com")
    with unit_of_work(container.sessions) as session:  # as a database from before the rules changed
        session.execute(update(Customer).values(name_index="old", email_index="old"))
        session.execute(delete(IndexState).where(IndexState.name == "customer index rules"))

    started = build_container(container.settings, logging=False)
    try:
        with unit_of_work(started.sessions) as session:
            directory = started.customers(session)
            assert [c.account_no for c in directory.find_by_email("li.wei+shop@gmail.com")] == [account_no]
            namesakes = directory.find_by_name("Mingyuan Trading Company Limited", "SH")
            assert [c.account_no for c in namesakes] == [account_no]
    finally:
        started.close()


def test_another_index_key_than_the_first_customers_lookups_were_made_with_is_refused_at_start(
    container: Container, tmp_path: Path
) -> None:
    add_customer(container, "王小明", email="wang@example.com")  # the first: made by a running process
    other = tmp_path / "other-keys.json"
    save_keyring(other, dataclasses.replace(container.keyring, index_key=KeyRing.generate().index_key))
    settings = container.settings.model_copy(
        update={"security": container.settings.security.model_copy(update={"keys_file": other})}
    )
    with pytest.raises(
        KeyStoreError, match="index_key is not the one this database's look-ups were made with"
    ):
        build_container(settings, logging=False)


def test_a_run_whose_process_is_gone_is_recorded_as_failed_when_the_next_process_starts(
    container: Container,
) -> None:
    host = socket.gethostname()
    with unit_of_work(container.sessions) as session:
        killed = start_run(session, "import", "zoho_books.invoices", "").id
        session.get_one(SyncRun, killed).holder = f"{host} pid 4194304"  # beyond any pid: gone
        elsewhere = start_run(session, "pull", "zoho.Contacts", "").id
        session.get_one(SyncRun, elsewhere).holder = "another-host pid 12"  # not this host's to judge

    build_container(container.settings, logging=False).close()

    with unit_of_work(container.sessions) as session:
        gone, other = session.get_one(SyncRun, killed), session.get_one(SyncRun, elsewhere)
        assert (gone.status, gone.error) == (
            "failed",
            "interrupted: its process (pid 4194304) stopped before the run ended",
        )
        assert other.status == "running"


def test_a_run_started_under_a_lease_is_failed_once_its_lease_is_gone_whatever_host_or_pid(
    container: Container,
) -> None:
    with lease(container.sessions, "scheduled zoho pull"):
        with unit_of_work(container.sessions) as session:
            live = start_run(session, "pull", "zoho.Contacts", "").id
        with unit_of_work(container.sessions) as session:
            dead = start_run(session, "pull", "zoho.Accounts", "").id
            # a pod killed mid-pull, its replacement under another host name; its lease expired
            session.get_one(SyncRun, dead).holder = "connector-7f9c-abcde pid 1 0badc0de"
            session.add(
                JobLease(
                    name="scheduled zoho push", holder="connector-7f9c-abcde pid 1 0badc0de", expires_at=0
                )
            )
        with unit_of_work(container.sessions) as session:
            assert close_abandoned_runs(session) == 1  # the live one's lease is held (pid 1 elsewhere too)
        with unit_of_work(container.sessions) as session:
            assert session.get_one(SyncRun, live).status == "running"
            gone = session.get_one(SyncRun, dead)
            assert (gone.status, gone.error) == (
                "failed",
                "interrupted: its lease lapsed before the run ended (its process was killed, or lost its "
                "database connection)",
            )


def test_a_run_whose_lease_lapsed_is_recorded_as_ending_when_it_last_made_progress_not_when_noticed(
    container: Container,
) -> None:
    dead_holder = "connector-7f9c-abcde pid 1 0badc0de"  # killed 8 s into its import, its lease lapsed
    started = datetime.now(UTC) - timedelta(seconds=80)
    with unit_of_work(container.sessions) as session:
        run = start_run(session, "import", "zoho_books.invoices", "")
        run.holder, run.started_at = dead_holder, started
        record_counts(run, Counter(invoices_posted=3))  # its last batch
        run.progress_at = started + timedelta(seconds=8)
        dead = run.id
        session.add(JobLease(name="imports", holder=dead_holder, expires_at=0))

    with unit_of_work(container.sessions) as session:  # another replica's next run, 72 s later
        assert close_abandoned_runs(session, starting=False) == 1

    with unit_of_work(container.sessions) as session:
        [record] = [one for one in run_history(session) if one.id == dead]
    assert record.finished_at is not None
    assert (record.finished_at - record.started_at).total_seconds() == pytest.approx(8, abs=0.01)
    assert record.error == (
        "interrupted: its lease lapsed before the run ended (its process was killed, or lost its "
        "database connection)"
    )


def test_a_run_shows_progress_with_each_batch_it_commits(container: Container) -> None:
    with unit_of_work(container.sessions) as session:
        run = start_run(session, "import", "zoho_books.invoices", "")
        assert run.progress_at == run.started_at
        run.progress_at = run.started_at - timedelta(minutes=5)
        record_counts(run, Counter(invoices_posted=1))
        assert run.progress_at is not None
        assert run.progress_at > run.started_at
