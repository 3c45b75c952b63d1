"""Leases on SQLite and PostgreSQL: one holder at a time, a dead holder's lease taken over, released."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Delete, delete, insert, select
from sqlalchemy.exc import OperationalError

from connector import retry
from connector.bootstrap import Container
from connector.db import aware, clock_ms, unit_of_work
from connector.errors import LeaseHeldError, LeaseLostError, StoppingError
from connector.sync import leases
from connector.sync.leases import lease
from connector.sync.models import JobLease, SyncRun
from connector.sync.runs import start_run


def holders(container: Container) -> list[str]:
    with unit_of_work(container.sessions) as session:
        return list(session.scalars(select(JobLease.name)))


def test_a_lease_is_held_by_one_at_a_time_and_released_after(container: Container) -> None:
    with lease(container.sessions, "push zoho.Accounts"):
        refused = pytest.raises(LeaseHeldError, match=r"push zoho\.Accounts is running elsewhere now")
        with refused, lease(container.sessions, "push zoho.Accounts", wait=False):
            pass  # pragma: no cover - never entered
        with lease(container.sessions, "push zoho.Contacts", wait=False):  # another job is free
            assert sorted(holders(container)) == ["push zoho.Accounts", "push zoho.Contacts"]
    assert holders(container) == []


def test_a_process_whose_clock_runs_ahead_never_takes_a_live_holders_lease(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lease(container.sessions, "scheduled zoho pull"):
        ahead = time.time_ns() + 65 * 10**9  # past the lease, by this machine's reckoning
        monkeypatch.setattr(time, "time_ns", lambda: ahead)
        monkeypatch.setattr(time, "time", lambda: ahead / 10**9)
        with (
            pytest.raises(LeaseHeldError),
            lease(container.sessions, "scheduled zoho pull", wait=False),
        ):
            pass  # pragma: no cover - never entered


def test_a_waiting_process_runs_once_the_holder_is_done(container: Container) -> None:
    order: list[str] = []
    taken = threading.Event()

    def first() -> None:
        with lease(container.sessions, "imports"):
            taken.set()
            time.sleep(0.3)
            order.append("first")

    worker = threading.Thread(target=first)
    worker.start()
    taken.wait(5)
    with lease(container.sessions, "imports", poll_seconds=0.05):
        order.append("second")
    worker.join()
    assert order == ["first", "second"]


def test_a_process_stopping_while_it_waits_for_a_lease_gives_up_the_wait(container: Container) -> None:
    with lease(container.sessions, "imports"):  # a person's long import
        threading.Timer(0.2, retry.STOPPING.set).start()  # SIGTERM to the waiting daemon
        started = time.monotonic()
        try:
            with (
                pytest.raises(StoppingError, match="imports was running elsewhere"),
                lease(container.sessions, "imports", poll_seconds=30),
            ):
                pass  # pragma: no cover - never entered
        finally:
            retry.STOPPING.clear()
        assert time.monotonic() - started < 5  # not the 30 s poll


def test_a_lease_its_holder_stopped_renewing_is_taken_over(container: Container) -> None:
    with unit_of_work(container.sessions) as session:
        session.add(JobLease(name="imports", holder="a process that died", expires_at=1))
    with lease(container.sessions, "imports", wait=False), unit_of_work(container.sessions) as session:
        assert session.get_one(JobLease, "imports").holder != "a process that died"
    assert holders(container) == []


def test_the_holder_renews_its_lease_while_it_works(container: Container) -> None:
    with lease(container.sessions, "imports", lease_seconds=0.3):
        with unit_of_work(container.sessions) as session:
            first = session.get_one(JobLease, "imports").expires_at
        time.sleep(0.25)
        with unit_of_work(container.sessions) as session:
            assert session.get_one(JobLease, "imports").expires_at > first


def test_each_renewal_of_a_lease_shows_the_runs_under_it_are_still_going(container: Container) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with lease(container.sessions, "imports", lease_seconds=0.3):
        with unit_of_work(container.sessions) as session:  # a batch committed five minutes ago
            run = start_run(session, "import", "zoho_books.invoices", "")
            run.progress_at, run_id = long_ago, run.id
        time.sleep(0.25)
        with unit_of_work(container.sessions) as session:
            progress_at = session.get_one(SyncRun, run_id).progress_at
    assert progress_at is not None
    assert aware(progress_at) > long_ago + timedelta(minutes=4)


def test_a_name_longer_than_the_table_keeps_is_cut_and_still_told_apart(container: Container) -> None:
    deep = "inbox /srv/" + "very-long-folder-name/" * 12
    with lease(container.sessions, deep + "a"), lease(container.sessions, deep + "b", wait=False):
        held = holders(container)
    assert len(held) == 2
    assert all(len(name) == 200 for name in held)
    refused = pytest.raises(LeaseHeldError)
    with refused, lease(container.sessions, deep + "a"), lease(container.sessions, deep + "a", wait=False):
        pass  # pragma: no cover - never entered


def test_a_holder_that_stalled_past_its_lease_may_commit_nothing_more(container: Container) -> None:
    with lease(container.sessions, "imports", wait=False) as held:
        with unit_of_work(container.sessions) as session:
            held.confirm(session)  # still its own: renewed in the writer's own transaction
            session.get_one(JobLease, "imports").holder = "the process that took it over"
        with (
            pytest.raises(LeaseLostError, match="stalled past its lease"),
            unit_of_work(container.sessions) as s,
        ):
            s.add(JobLease(name="a write of the stalled process", holder="x", expires_at=1))
            held.confirm(s)
        with unit_of_work(container.sessions) as session:
            assert session.get(JobLease, "a write of the stalled process") is None  # rolled back
            assert session.get_one(JobLease, "imports").holder == "the process that took it over"
            session.execute(delete(JobLease))  # the other process is done too


def test_a_lease_whose_release_failed_is_released_when_this_process_asks_for_it_again(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = [True]

    def delete_while_the_database_is_out(table: type[JobLease]) -> Delete:
        if out.pop() if out else False:
            raise OperationalError("DELETE FROM job_leases", {}, Exception("server closed the connection"))
        return delete(table)

    monkeypatch.setattr(leases, "delete", delete_while_the_database_is_out)
    with pytest.raises(OperationalError), lease(container.sessions, "scheduled inbox"):
        pass
    assert holders(container) == ["scheduled inbox"]  # left behind: the database was out

    with lease(container.sessions, "scheduled inbox", wait=False):  # not "running elsewhere": its own
        assert holders(container) == ["scheduled inbox"]
    assert holders(container) == []


def test_a_lease_left_by_a_killed_process_of_this_host_is_named_as_gone_with_when_it_is_free(
    container: Container,
) -> None:
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()  # its pid no longer runs, as after a kill -9
    holder = f"{socket.gethostname()} pid {killed.pid} 0123abcd"
    with unit_of_work(container.sessions) as session:
        session.execute(
            insert(JobLease).values(name="imports", holder=holder, expires_at=clock_ms(session) + 40_000)
        )
    try:
        with (
            pytest.raises(LeaseHeldError) as refused,
            lease(container.sessions, "imports", wait=False),
        ):
            pass  # pragma: no cover - never entered
    finally:
        with unit_of_work(container.sessions) as session:
            session.execute(delete(JobLease))
    said = str(refused.value)
    assert said.startswith(
        f"imports is held by a process of this host that is gone ({holder}: pid {killed.pid} no longer "
        "runs); its lease is free in "
    ), said
    assert said.endswith(" s: try again then")
    assert 38 <= int(said.rsplit(" free in ", 1)[1].split()[0]) <= 40  # the lease's time left
    assert "running elsewhere" not in said
