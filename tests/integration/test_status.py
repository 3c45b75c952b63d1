"""What ops see (`connector status`, the daemon's /status, /status.json and /metrics), on SQLite and
PostgreSQL: read from the database, so every replica tells the same; counts and times, no personal data."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from starlette.applications import Starlette

from adapters.statements.camt053 import Camt053Parser
from adapters.statements.ofx import OfxParser
from connector.bootstrap import Container
from connector.daemon import Job, run_job
from connector.db import unit_of_work
from connector.imports.inbox import process_inbox
from connector.imports.pipeline import import_file
from connector.job_board import JobBoard
from connector.ledger.models import Customer
from connector.sync import status
from connector.sync.models import OutboxItem
from connector.sync.runs import finish_run, start_run
from connector.sync.status import Snapshot, container_snapshot
from connector.web import status as web_status
from connector.web.app import build_web_app
from tests.conftest import REPO

CAMT = REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml"


def get(container: Container, path: str, board: JobBoard | None = None) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_web_app(container, board))
        async with httpx.AsyncClient(transport=transport, base_url="http://connector.test") as client:
            return await client.get(path)

    return asyncio.run(send())


def failed_run(container: Container, job: str, source: str) -> None:
    with unit_of_work(container.sessions) as session:
        finish_run(start_run(session, job, source, ""), Counter(), "zoho: HTTP 500 from /crm/v8/Contacts")


def test_the_snapshot_holds_the_latest_run_its_last_success_and_what_waits(
    container: Container, customers: dict[str, str]
) -> None:
    import_file(container, CAMT, [Camt053Parser()])
    with unit_of_work(container.sessions) as session:
        finish_run(start_run(session, "pull", "zoho.Contacts", ""), Counter(read=3))
    failed_run(container, "pull", "zoho.Contacts")
    with unit_of_work(container.sessions) as session:
        customer = session.query(Customer).filter_by(account_no=customers["acme"]).one()
        session.add(
            OutboxItem(
                target="zoho.Accounts",
                external_id="1",
                customer_id=customer.id,
                desired_json="{}",
                desired_hash="h",
                status="pending",
            )
        )

    taken = container_snapshot(container)

    runs = {(run.job, run.source): run for run in taken.runs}
    assert set(runs) == {("import", "camt053"), ("pull", "zoho.Contacts")}
    pull = runs[("pull", "zoho.Contacts")]
    assert (pull.status, pull.error) == ("failed", "zoho: HTTP 500 from /crm/v8/Contacts")
    assert pull.last_success_at is not None  # the run before it succeeded
    assert pull.last_success_at <= pull.started_at
    assert runs[("import", "camt053")].counts["receipts_unapplied"] == 6
    assert taken.quarantine_open == {"camt053": 2}
    assert taken.reconciliation == {"open": 5, "rejected": 1}  # the line the bank reversed
    assert taken.outbox == {("zoho.Accounts", "pending"): 1}
    assert taken.credits == []  # Zoho is off


def test_metrics_give_each_figure_in_prometheus_text_format(container: Container) -> None:
    import_file(container, CAMT, [Camt053Parser()])
    failed_run(container, "pull", "zoho.Contacts")
    board = JobBoard([("inbox", timedelta(seconds=30))])
    run_job(container, Job("inbox", timedelta(seconds=30), lambda: "nothing waiting"), board=board)

    answer = get(container, "/metrics", board)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = set(answer.text.splitlines())
    assert "connector_database_up 1.0" in lines
    assert 'connector_job_runs_total{job="inbox",outcome="done"} 1.0' in lines
    assert 'connector_job_runs_total{job="inbox",outcome="failed"} 0.0' in lines
    assert 'connector_quarantine_open_records{source="camt053"} 2.0' in lines
    assert 'connector_reconciliation_items{status="open"} 5.0' in lines
    assert 'connector_sync_last_run_failed{job="pull",source="zoho.Contacts"} 1.0' in lines
    assert 'connector_sync_last_run_failed{job="import",source="camt053"} 0.0' in lines
    assert any(
        line.startswith('connector_sync_last_success_timestamp_seconds{job="import"') for line in lines
    )
    assert not any("zoho.Contacts" in line and "last_success" in line for line in lines)  # it never succeeded


def test_every_metric_the_daemon_exposes_is_named_in_the_readme(container: Container) -> None:
    board = JobBoard([("inbox", timedelta(seconds=30))])
    exposed = {
        line.split()[2]
        for line in get(container, "/metrics", board).text.splitlines()
        if line.startswith("# TYPE")
    }
    readme = (REPO / "README.md").read_text(encoding="utf-8")

    assert "connector_customers_recordless_holding_money" in exposed
    assert sorted(name for name in exposed if f"`{name}" not in readme) == []


def test_a_file_the_inbox_set_aside_waits_on_the_status_until_it_is_mended_and_imported(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bad.csv").write_bytes(b"garbage\n\x00\x01")
    process_inbox(container, [Camt053Parser()], inbox, settle_seconds=0)

    assert container_snapshot(container).failed_files == ["bad.csv"]
    lines = set(get(container, "/metrics").text.splitlines())
    assert "connector_inbox_failed_files 1.0" in lines
    assert "unreadable file in failed/: bad.csv" in get(container, "/status").text

    def unreadable(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    mended = inbox / "failed" / "bad.csv"
    with monkeypatch.context() as patched:  # untouched since it failed: never read again (a 6 GB scan)
        patched.setattr(status, "file_hash", lambda path: pytest.fail(f"{path} was read"))
        assert container_snapshot(container).failed_files == ["bad.csv"]
    os.utime(mended, (time.time() + 5, time.time() + 5))  # touched since: is it mended?
    with monkeypatch.context() as patched:  # the service's own file, mode 600, and another user asking
        patched.setattr(status, "file_hash", unreadable)
        assert container_snapshot(container).failed_files == ["bad.csv"]
    mended.write_bytes(CAMT.read_bytes())  # a person mends it where it lies and imports it, as told
    import_file(container, mended, [Camt053Parser()])
    assert container_snapshot(container).failed_files == []


def test_every_file_the_inbox_set_aside_is_counted_and_named_also_two_of_the_same_bytes(
    container: Container, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("march.xml", "april.xml"):  # the same damaged export, dropped twice under two names
        (inbox / name).write_bytes(b"garbage\n\x00\x01")
        process_inbox(container, [Camt053Parser()], inbox, settle_seconds=0)

    assert container_snapshot(container).failed_files == ["march.xml", "april.xml"]
    assert "connector_inbox_failed_files 2.0" in get(container, "/metrics").text.splitlines()
    page = get(container, "/status").text
    assert "unreadable file in failed/: march.xml" in page
    assert "unreadable file in failed/: april.xml" in page

    mended = inbox / "failed" / "april.xml"
    mended.write_bytes(CAMT.read_bytes())  # a person mends one where it lies and imports it, as told
    import_file(container, mended, [Camt053Parser()])

    assert container_snapshot(container).failed_files == ["march.xml"]


def test_a_file_connector_import_refused_is_not_counted_as_waiting_in_failed(
    container: Container, tmp_path: Path
) -> None:
    refused = tmp_path / "dl" / "card.ofx"  # no inbox at all: a person imports a download by hand
    refused.parent.mkdir()
    shutil.copy(REPO / "tests" / "fixtures" / "statements" / "creditcard_v2.ofx", refused)
    assert import_file(container, refused, [OfxParser()]).status == "failed"  # a card's: refused

    assert container_snapshot(container).failed_files == []
    assert "connector_inbox_failed_files 0.0" in get(container, "/metrics").text.splitlines()
    assert "in failed/: card.ofx" not in get(container, "/status").text  # its run says why, as it should


def test_files_waiting_in_the_inbox_are_counted_in_metrics_and_on_the_status(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "processing").mkdir(parents=True)
    imports = container.settings.imports.model_copy(update={"inbox": inbox})
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"imports": imports}))
    assert "connector_inbox_waiting_files 0.0" in get(container, "/metrics").text.splitlines()
    for name in ("a.csv", "b.csv", ".hidden.csv", "c.csv.part"):  # the last two are let be
        (inbox / name).write_text("x\n", encoding="utf-8")
    (inbox / "processing" / "killed.csv").write_text("x\n", encoding="utf-8")  # a pass killed mid-file

    assert container_snapshot(container).inbox_waiting == 2
    assert "connector_inbox_waiting_files 3.0" in get(container, "/metrics").text.splitlines()
    assert get(container, "/status.json").json()["inbox_waiting"] == 2
    assert "files in the inbox not taken yet" in get(container, "/status").text


def test_the_status_page_and_its_json_show_jobs_runs_and_what_waits_escaped(container: Container) -> None:
    import_file(container, CAMT, [Camt053Parser()])
    with unit_of_work(container.sessions) as session:
        finish_run(start_run(session, "pull", "<script>", ""), Counter(), "bad <b>thing</b>")
    board = JobBoard([("zoho pull", timedelta(minutes=15))])

    def broken() -> str:
        raise RuntimeError("the password is hunter2")  # not a connector error: only its kind is shown

    run_job(container, Job("zoho pull", timedelta(minutes=15), broken), board=board)

    page = get(container, "/status", board)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "bad &lt;b&gt;thing&lt;/b&gt;" in page.text
    assert "RuntimeError (see the log)" in page.text
    assert "hunter2" not in page.text
    assert "reconciliation queue: open receipts</td><td>5" in page.text
    as_json = get(container, "/status.json", board).json()
    [job] = as_json["jobs"]
    assert (job["name"], job["last_outcome"], job["runs"]["failed"]) == ("zoho pull", "failed", 1)
    assert as_json["quarantine_open"] == {"camt053": 2}


def test_with_the_database_gone_metrics_say_so_and_the_status_pages_answer_503(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = JobBoard([("inbox", timedelta(seconds=30))])
    board.record("inbox", "done", datetime.now(UTC), datetime.now(UTC), "1 file")
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(container.sessions, "kw", {**container.sessions.kw, "bind": unreachable})

    metrics = get(container, "/metrics", board)
    assert metrics.status_code == 200
    assert "connector_database_up 0.0" in metrics.text
    assert 'connector_job_runs_total{job="inbox",outcome="done"} 1.0' in metrics.text
    assert get(container, "/status", board).status_code == 503
    assert get(container, "/status.json", board).status_code == 503


def test_an_outage_is_logged_by_the_probes_once_as_it_begins_and_once_as_it_ends_without_a_traceback(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_web_app(container, JobBoard([]))
    working = container.sessions.kw
    unreachable = {**working, "bind": create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")}

    async def probe(paths: list[str]) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://connector.test") as client:
            return [(await client.get(path)).status_code for path in paths]

    every = ["/health", "/status.json", "/metrics", "/health", "/status", "/health"]
    with caplog.at_level(logging.INFO):
        assert asyncio.run(probe(["/health"])) == [200]
        monkeypatch.setattr(container.sessions, "kw", unreachable)
        assert asyncio.run(probe(every)) == [503, 503, 200, 503, 503, 503]
        monkeypatch.setattr(container.sessions, "kw", working)
        assert asyncio.run(probe(every)) == [200, 200, 200, 200, 200, 200]
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "connector.web"]
    assert [level for level, _ in said] == [logging.ERROR, logging.INFO], said
    assert said[0][1].startswith("health: the database does not answer: connection failed")
    assert "\n" not in said[0][1]
    assert said[1][1] == "health: the database answers again"
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.INFO)


def test_a_database_that_stops_answering_is_down_for_the_views_within_a_scrapes_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_status, "ANSWER_SECONDS", 0.2)
    release = threading.Event()

    def hanging() -> Snapshot:  # a partitioned network: the query never comes back
        release.wait(10)
        raise RuntimeError("gone")

    app = Starlette(routes=web_status.status_routes(hanging, None))

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://connector.test") as client:
            return await client.get("/metrics")

    started = time.monotonic()
    answer = asyncio.run(scrape())
    release.set()
    assert time.monotonic() - started < 5
    assert "connector_database_up 0.0" in answer.text


def test_health_and_status_answer_while_a_long_write_holds_the_database(container: Container) -> None:
    with unit_of_work(container.sessions) as writing:  # an import's batch, say: on SQLite, the write lock
        start_run(writing, "import", "camt053", "")
        writing.flush()
        started = time.monotonic()
        health = get(container, "/health")
        taken = container_snapshot(container)
        waited = time.monotonic() - started
    assert health.json() == {"status": "ok", "message": "healthy"}
    assert taken.notifications_pending == 0
    assert waited < 2, f"a reader waited {waited:.1f} s for the writer"
