"""The daemon's jobs, on SQLite and PostgreSQL: which run, and a run that fails or is not this
process's turn never stops the scheduler."""

from __future__ import annotations

import logging
import shutil
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from adapters.zoho.limits import CreditMeter
from connector import daemon
from connector.bootstrap import Container
from connector.daemon import Job, NothingDone, _spending_told, run_job, scheduled_jobs
from connector.db import clock_ms, unit_of_work
from connector.errors import TransientRemoteError
from connector.imports import inbox as inbox_module
from connector.imports.inbox import InboxFile
from connector.imports.pipeline import FileResult
from connector.job_board import DONE, FAILED, HELD, JobBoard
from connector.security.keys import read_keyring_file, save_keyring
from connector.settings import DaemonSettings, ZohoSettings
from connector.sync.credits import DatabaseSpendingLog, write_spent
from connector.sync.leases import give_back_turns, lease, turn_holder
from connector.sync.models import JobLease, SyncRun
from connector.sync.notifications import ProcessResult
from connector.sync.pull import PullResult
from connector.sync.push_send import PushOutcome
from connector.sync.runs import start_run
from tests.conftest import REPO


def with_settings(container: Container, monkeypatch: pytest.MonkeyPatch, **sections: object) -> None:
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update=sections))


def test_only_the_inbox_runs_without_zoho_and_an_interval_of_0_switches_a_job_off(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [job.name for job in scheduled_jobs(container)] == ["inbox"]
    zoho = ZohoSettings(enabled=True, client_id="1000.X", client_secret=SecretStr("s"))
    with_settings(container, monkeypatch, zoho=zoho, daemon=DaemonSettings(push_minutes=0))
    assert [(job.name, job.every) for job in scheduled_jobs(container)] == [
        ("zoho pull", timedelta(minutes=15)),
        ("zoho notifications", timedelta(seconds=60)),
        ("inbox", timedelta(seconds=30)),
    ]  # channels are renewed only with a callback URL to renew them for
    watched = zoho.model_copy(update={"callback_url": "https://connector.example.com/zoho/notify"})
    with_settings(container, monkeypatch, zoho=watched)
    assert "zoho channels" in [job.name for job in scheduled_jobs(container)]


def test_a_failed_run_is_logged_and_the_next_one_still_runs(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[int] = []

    def flaky() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("the CRM is down")
        return "2 done"

    job = Job("flaky", timedelta(milliseconds=50), flaky)
    with caplog.at_level(logging.INFO):
        run_job(container, job)
        time.sleep(0.1)  # its next interval
        run_job(container, job)
    assert len(runs) == 2
    assert "flaky failed; it runs again in 0:00:00.050000" in caplog.text
    assert "flaky: 2 done" in caplog.text


def test_a_run_failing_on_a_database_outage_logs_one_line_with_its_error_and_the_traceback_at_debug(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    def pull() -> str:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly\nmore"))

    job = Job("zoho pull", timedelta(minutes=15), pull)
    with caplog.at_level(logging.DEBUG, logger="connector.daemon"):
        run_job(container, job)
    said = [r for r in caplog.records if r.name == "connector.daemon"]
    [error] = [r for r in said if r.levelno >= logging.INFO]
    assert error.getMessage() == (
        "zoho pull failed: the database cannot be used: server closed the connection unexpectedly; "
        "it runs again in 0:15:00"
    )
    assert error.exc_info is None
    assert [r.exc_info is not None for r in said if r.levelno == logging.DEBUG] == [True]


def test_replicas_running_a_job_on_one_interval_take_turns_instead_of_each_running_it(
    container: Container,
) -> None:
    runs: list[int] = []

    def pull() -> str:
        runs.append(1)
        return "pulled"

    every = timedelta(milliseconds=300)
    board = JobBoard([("zoho pull", every)])
    run_job(container, Job("zoho pull", every, pull), board=board)
    run_job(container, Job("zoho pull", every, pull), board=board)  # another replica, moments later
    assert len(runs) == 1
    (record,) = board.jobs()
    assert (record.last_outcome, record.last_message.startswith("run by ")) == (HELD, True)
    time.sleep(0.35)  # the next interval: whoever comes first runs it
    run_job(container, Job("zoho pull", every, pull), board=board)
    assert len(runs) == 2


def test_a_run_left_to_the_replica_whose_turn_it_was_logs_only_at_debug(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job("zoho pull", timedelta(minutes=15), lambda: "pulled")
    assert [level for level, _ in logged(caplog, container, job, give_back=False)] == [logging.INFO]
    assert logged(caplog, container, job) == [  # another replica's run within the same interval
        (logging.DEBUG, f"zoho pull: not run now, run by {turn_holder()} within its interval")
    ]


def test_replicas_with_inbox_folders_of_their_own_each_pass_over_theirs_every_interval(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    passes: list[str] = []

    def passing(folder: str) -> Callable[[], str]:
        def run() -> str:
            passes.append(folder)
            return "0 file(s)"

        return run

    jobs = []
    deep = tmp_path / ("shared" * 30)  # the folders' names longer than a lease's: told apart all the same
    (deep / "a" / "inbox").mkdir(parents=True)
    (deep / "c").symlink_to(deep / "a", target_is_directory=True)
    # The last replica reaches the first one's folder by another path, as a bind mount shows it.
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: self.absolute())
    for folder in ("a", "b", "a", "c"):  # four replicas, the last two sharing the first one's folder
        imports = container.settings.imports.model_copy(update={"inbox": deep / folder / "inbox"})
        with_settings(container, monkeypatch, imports=imports)
        [inbox] = scheduled_jobs(container)
        jobs.append(replace(inbox, run=passing(folder)))
    board = JobBoard([("inbox", jobs[0].every)])

    for job in jobs:
        run_job(container, job, board=board)

    assert passes == ["a", "b"]
    (record,) = board.jobs()
    assert (record.last_outcome, record.last_message.startswith("run by ")) == (HELD, True)


def test_a_failed_run_and_a_stopped_daemon_leave_the_turn_to_the_next_start(container: Container) -> None:
    runs: list[str] = []

    def pull() -> str:
        runs.append("tried")
        if len(runs) == 1:
            raise TransientRemoteError("zoho unreachable")
        return "pulled"

    job = Job("zoho pull", timedelta(minutes=15), pull)
    board = JobBoard([("zoho pull", job.every)])
    run_job(container, job, board=board)  # failed: Zoho unreachable
    run_job(container, job, board=board)  # the next start, Zoho back: it runs at once
    run_job(container, job, board=board)  # within the interval of that run: another replica's turn
    assert runs == ["tried", "tried"]
    give_back_turns(container.sessions)  # the daemon stopped cleanly
    run_job(container, job, board=board)
    assert runs == ["tried", "tried", "tried"]


def test_a_run_that_found_its_work_running_elsewhere_leaves_the_turn_to_its_retry(
    container: Container,
) -> None:
    runs: list[int] = []

    def pull() -> str:
        with lease(container.sessions, "pull zoho.Contacts", wait=False):  # as pull_stream takes it
            runs.append(1)
            return "pulled"

    job = Job("zoho pull", timedelta(minutes=15), pull)
    again: list[int] = []
    with lease(container.sessions, "pull zoho.Contacts"):  # a person's `connector zoho pull`
        run_job(container, job, lambda: again.append(1))
    assert (runs, again) == ([], [1])

    run_job(container, job)  # the retry, moments later

    assert runs == [1]


def test_a_key_rotated_by_another_process_seals_what_the_next_job_writes(container: Container) -> None:
    before = container.cipher.encrypt("customer.email", "ada@example.org")
    keys_file = container.settings.security.keys_file
    rotated = read_keyring_file(keys_file).rotated()
    save_keyring(keys_file, rotated)  # `connector keys rotate` in another process

    sealed: list[str] = []

    def write() -> str:
        sealed.append(container.cipher.encrypt("customer.email", "ada@example.org"))
        return "1 written"

    run_job(container, Job("writer", timedelta(minutes=1), write))

    assert sealed[0].startswith(f"{rotated.active_id}:")
    assert container.cipher.decrypt("customer.email", before) == "ada@example.org"  # older keys stay
    assert container.refresh_keys() is False  # unchanged since


def test_a_job_another_replica_is_running_is_not_run_here(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job("zoho pull", timedelta(minutes=15), lambda: pytest.fail("ran while another replica ran it"))
    tried_again: list[bool] = []
    with lease(container.sessions, "scheduled zoho pull"), caplog.at_level(logging.DEBUG):
        run_job(container, job, lambda: tried_again.append(True))
    assert "zoho pull: not run now, scheduled zoho pull is running elsewhere now" in caplog.text
    assert tried_again == [True]  # once its lease is over, should its holder have died


def test_a_job_another_replica_is_running_is_skipped_quietly_until_it_has_held_it_for_intervals(
    container: Container, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon, "_held_since", {})  # this process's daemon starts afresh
    job = Job("quick pull", timedelta(seconds=0.05), lambda: pytest.fail("ran while another replica ran it"))
    board = JobBoard([(job.name, job.every)])
    with lease(container.sessions, "scheduled quick pull"):
        levels = [level for level, _ in logged(caplog, container, job, board=board)]  # aligned schedules
        time.sleep(job.every.total_seconds() * daemon.HELD_INTERVALS)
        stuck = logged(caplog, container, job, board=board)  # held across several intervals

    assert levels == [logging.DEBUG]
    [(level, line)] = stuck
    assert level == logging.INFO
    assert line.startswith("quick pull: not run now, scheduled quick pull is running elsewhere now")
    assert "found so at each try since" in line
    (record,) = board.jobs()
    assert record.runs[HELD] == 2
    run_job(container, replace(job, run=lambda: NothingDone("0 file(s)")))  # run here since: streak over
    give_back_turns(container.sessions)
    with lease(container.sessions, "scheduled quick pull"):
        assert [level for level, _ in logged(caplog, container, job)] == [logging.DEBUG]


def test_a_job_whose_lease_a_dead_process_of_this_host_holds_is_told_of_at_info(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    with unit_of_work(container.sessions) as session:  # killed -9, its lease not lapsed yet
        dead = f"{socket.gethostname()} pid 4194304 0badc0de"
        session.add(JobLease(name="scheduled zoho pull", holder=dead, expires_at=clock_ms(session) + 60_000))
    job = Job("zoho pull", timedelta(minutes=15), lambda: pytest.fail("ran while its lease was held"))

    [(level, line)] = logged(caplog, container, job)

    assert level == logging.INFO
    assert "is held by a process of this host that is gone" in line


def test_a_zoho_job_writes_the_api_credits_it_spent_when_it_ends(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoho = ZohoSettings(enabled=True, client_id="1000.X", client_secret=SecretStr("s"))
    with_settings(container, monkeypatch, zoho=zoho)
    monkeypatch.delitem(container.__dict__, "zoho", raising=False)  # built anew with these settings
    meter = container.zoho.meter

    def calls_zoho(_: Container) -> str:
        meter.charge(7, "a page of Contacts")
        return "1 page"

    assert _spending_told(container, calls_zoho)() == "1 page"

    assert (
        DatabaseSpendingLog(container.sessions).spent_since("zoho", datetime.now(UTC) - timedelta(days=1))
        == 7
    )
    container.__dict__.pop("zoho").close()


def test_credits_written_in_a_transaction_that_rolls_back_are_written_once_with_the_next_one(
    container: Container,
) -> None:
    log = DatabaseSpendingLog(container.sessions)
    meter = CreditMeter("zoho", 1_000, log)
    meter.charge(3, "a page")
    with pytest.raises(RuntimeError, match="fails"), unit_of_work(container.sessions) as session:
        write_spent(session, meter)
        raise RuntimeError("the transaction fails")
    meter.charge(2, "another page")
    with unit_of_work(container.sessions) as session:
        write_spent(session, meter)
    meter.flush()

    assert log.spent_since("zoho", datetime.now(UTC) - timedelta(days=1)) == 5
    assert meter.remaining() == 995


def test_a_zoho_job_warns_each_run_of_a_configured_module_no_mapping_serves(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    zoho = ZohoSettings(
        enabled=True, client_id="1000.X", client_secret=SecretStr("s"), modules=("contacts", "Accounts")
    )
    with_settings(container, monkeypatch, zoho=zoho)
    ran: list[str] = []

    def pull(_: object, module: str) -> tuple[str, str | None]:
        ran.append(module)
        return f"zoho.{module} done", None

    with caplog.at_level(logging.INFO):
        for _ in range(2):
            assert daemon._each_module(container, "inbound", pull) == "zoho.Accounts done"
    assert ran == ["Accounts", "Accounts"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == 2 * [
        "zoho.modules with no inbound or outbound mapping, never synced: contacts (did you mean 'Contacts'?)"
    ]


def test_the_inbox_pass_says_which_files_it_set_aside_and_which_stay_for_the_next_pass(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_settings(
        container, monkeypatch, imports=container.settings.imports.model_copy(update={"inbox": tmp_path})
    )
    passed = [
        InboxFile(
            FileResult("bad.csv", None, "failed", reason="unreadable"), tmp_path / "failed" / "bad.csv"
        ),
        InboxFile(FileResult("stopped.csv", None, "failed", reason="the daemon is stopping"), None),
        InboxFile(FileResult("good.csv", None, "imported"), tmp_path / "archive" / "x.csv"),
        InboxFile(FileResult("taken.csv", None, "imported"), None, gone=True),  # by another pass
    ]
    monkeypatch.setattr(daemon, "process_inbox", lambda *args, **kwargs: passed)
    assert daemon._inbox(container) == (
        "4 file(s), 1 unreadable (set aside in failed/), 1 left in the inbox for the next pass, "
        "1 gone before this pass could archive them (taken by another pass)"
    )


def test_a_job_run_records_a_crashed_replicas_run_as_failed_once_its_lease_lapsed(
    container: Container,
) -> None:
    with unit_of_work(container.sessions) as session:
        crashed = start_run(session, "pull", "zoho.Contacts", "")
        crashed.holder = "connector-7f9c-abcde pid 1 0badc0de"  # its lease lapsed: nobody holds it
        crashed_id = crashed.id
    run_job(container, Job("inbox", timedelta(minutes=1), lambda: "0 file(s)"))
    with unit_of_work(container.sessions) as session:
        assert session.get_one(SyncRun, crashed_id).status == "failed"


@pytest.fixture
def zoho_on(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    zoho = ZohoSettings(enabled=True, client_id="1000.X", client_secret=SecretStr("s"), modules=("Accounts",))
    with_settings(container, monkeypatch, zoho=zoho)
    monkeypatch.delitem(container.__dict__, "zoho", raising=False)  # built anew with these settings
    yield container
    container.__dict__.pop("zoho").close()


def logged(
    caplog: pytest.LogCaptureFixture,
    container: Container,
    job: Job,
    *,
    give_back: bool = True,
    board: JobBoard | None = None,
) -> list[tuple[int, str]]:
    """The levels and lines a run of `job` logged about itself."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="connector.daemon"):
        run_job(container, job, board=board)
    if give_back:
        give_back_turns(container.sessions)  # the next run of it, in this test, is its next interval's
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "connector.daemon"]
    return [(level, line) for level, line in said if line.startswith(f"{job.name}")]


EVERY = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("counts", "stopped", "level"),
    [
        ({}, None, logging.DEBUG),
        ({"read": 3, "updated": 3}, None, logging.INFO),
        ({"quarantined": 1}, None, logging.INFO),
        ({}, "the org's API credits for the day are spent", logging.INFO),
    ],
    ids=["no-change", "changes", "quarantined", "stopped"],
)
def test_a_pull_run_that_found_no_change_in_the_crm_is_logged_at_debug(
    zoho_on: Container,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    counts: dict[str, int],
    stopped: str | None,
    level: int,
) -> None:
    result = PullResult("zoho.Accounts", Counter(counts), stopped)
    monkeypatch.setattr(daemon, "pull_stream", lambda *args, **kwargs: result)
    job = Job("zoho pull", EVERY, lambda: daemon._zoho_pull(zoho_on))
    assert [level for level, _ in logged(caplog, zoho_on, job)] == [level]


@pytest.mark.parametrize(
    ("counts", "level"),
    [
        ({}, logging.DEBUG),
        ({"unchanged": 8}, logging.DEBUG),
        ({"pushed": 1, "unchanged": 7}, logging.INFO),
        ({"held": 1, "unchanged": 7}, logging.INFO),
    ],
    ids=["none", "unchanged", "pushed", "held"],
)
def test_a_push_run_with_nothing_to_push_is_logged_at_debug(
    zoho_on: Container,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    counts: dict[str, int],
    level: int,
) -> None:
    outcome = PushOutcome("zoho.Accounts", Counter(counts))
    monkeypatch.setattr(daemon, "push_target", lambda *args, **kwargs: outcome)
    job = Job("zoho push", EVERY, lambda: daemon._zoho_push(zoho_on))
    assert [level for level, _ in logged(caplog, zoho_on, job)] == [level]


def test_a_notifications_run_with_none_to_process_is_logged_at_debug(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    results = iter(
        [ProcessResult(), ProcessResult(outcomes=Counter(processed=1), applied=Counter(updated=1))]
    )
    monkeypatch.setattr(daemon, "process_notifications", lambda _: next(results))
    job = Job("zoho notifications", EVERY, lambda: daemon._notifications(container))
    assert logged(caplog, container, job) == [
        (logging.DEBUG, "zoho notifications: nothing to do; records nothing to do")
    ]
    assert logged(caplog, container, job) == [
        (logging.INFO, "zoho notifications: processed 1; records updated 1")
    ]


def test_a_channels_run_with_none_to_renew_is_logged_at_debug(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(daemon, "renew_channels", lambda _: [])
    job = Job("zoho channels", EVERY, lambda: daemon._renew(container))
    assert logged(caplog, container, job) == [(logging.DEBUG, "zoho channels: 0 channel(s) renewed, 0 not")]


def test_an_inbox_pass_logs_each_file_with_its_status_and_after_a_colon_its_reason_or_counts(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with_settings(
        container, monkeypatch, imports=container.settings.imports.model_copy(update={"inbox": tmp_path})
    )
    done = [
        InboxFile(FileResult("good.csv", "camt053", "imported", Counter(posted=2)), tmp_path / "good.csv"),
        InboxFile(
            FileResult("bad.csv", None, "failed", reason="no parser recognises it"), tmp_path / "bad.csv"
        ),
    ]
    monkeypatch.setattr(daemon, "process_inbox", lambda *args, **kwargs: done)
    said = logged(caplog, container, Job("inbox", EVERY, lambda: daemon._inbox(container)))
    assert (logging.INFO, "inbox: good.csv imported: posted 2") in said
    assert (logging.WARNING, "inbox: bad.csv failed: no parser recognises it") in said


def test_an_inbox_pass_over_an_empty_inbox_is_logged_at_debug_and_a_failed_pass_still_as_an_error(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with_settings(
        container, monkeypatch, imports=container.settings.imports.model_copy(update={"inbox": tmp_path})
    )
    job = Job("inbox", EVERY, lambda: daemon._inbox(container))
    assert logged(caplog, container, job) == [(logging.DEBUG, "inbox: 0 file(s)")]

    done = [InboxFile(FileResult("good.csv", None, "imported"), tmp_path / "archive" / "good.csv")]
    monkeypatch.setattr(daemon, "process_inbox", lambda *args, **kwargs: done)
    assert (logging.INFO, "inbox: 1 file(s)") in logged(caplog, container, job)

    def broken(*args: object, **kwargs: object) -> list[InboxFile]:
        raise OSError("the inbox folder is gone")

    monkeypatch.setattr(daemon, "process_inbox", broken)
    assert logged(caplog, container, job) == [(logging.ERROR, "inbox failed; it runs again in 0:01:00")]


def test_an_inbox_pass_that_leaves_a_file_stuck_is_recorded_as_failed_and_its_last_success_stays(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    imports = container.settings.imports.model_copy(update={"inbox": tmp_path, "inbox_settle_seconds": 0})
    with_settings(container, monkeypatch, imports=imports)
    job = Job("inbox", EVERY, lambda: daemon._inbox(container))
    board = JobBoard([("inbox", EVERY)])
    payments = REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv"
    shutil.copy(payments, tmp_path / "a.csv")
    run_job(container, job, board=board)
    give_back_turns(container.sessions)  # the next interval
    (done,) = board.jobs()
    assert (done.last_outcome, done.runs[DONE]) == (DONE, 1)

    def disk_full(*args: object, **kwargs: object) -> FileResult:
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(inbox_module, "import_file", disk_full)
    (tmp_path / "b.csv").write_text(payments.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    run_job(container, job, board=board)

    (record,) = board.jobs()
    assert (record.last_outcome, record.runs[FAILED], record.last_success_at) == (
        FAILED,
        1,
        done.last_success_at,
    )
    assert record.last_message == (
        "1 file(s), 1 left in the inbox for the next pass; 1 stuck, first b.csv: database or disk is full"
    )
    assert (tmp_path / "b.csv").exists()
