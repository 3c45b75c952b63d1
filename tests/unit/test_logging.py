from __future__ import annotations

import logging

import pytest

from adapters.statements.mt940 import Mt940Parser
from connector.log import REDACTED, SkippedRunFilter, configure_logging
from connector.settings import LoggingSettings
from tests.conftest import REPO


def test_registered_secrets_are_masked_in_messages_and_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LoggingSettings(), ["hunter2-password"])
    log = logging.getLogger("connector.test")
    log.warning("connecting with %s", "hunter2-password")
    try:
        raise RuntimeError("bad password hunter2-password")
    except RuntimeError:
        log.exception("failed")
    captured = capsys.readouterr().err
    assert "hunter2-password" not in captured
    assert captured.count(REDACTED) == 3


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LoggingSettings(json_format=True))
    logging.getLogger("connector.test").info("客户 %s", "KASH00001")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert '"message": "客户 KASH00001"' in line


def test_debug_logging_leaves_out_what_the_mt940_reader_says_of_each_payer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LoggingSettings(level="DEBUG"))
    statement = REPO / "tests" / "fixtures" / "statements" / "sparkasse_two_statements_latin1.sta"
    parsed = list(Mt940Parser().parse(str(statement), statement.name))
    assert parsed  # the file was read
    assert "Maschinenbau" not in capsys.readouterr().err


def test_the_schedulers_and_the_web_servers_narration_of_each_run_and_probe_is_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LoggingSettings())
    logging.getLogger("apscheduler.executors.default").info('Running job "pull"')
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /health HTTP/1.1" 200')
    logging.getLogger("connector.daemon").info("pull zoho.Contacts: 3 updated")
    printed = capsys.readouterr().err
    assert ("Running job" in printed, "GET /health" in printed) == (False, False)
    assert "3 updated" in printed


def test_the_schedulers_warning_of_a_run_skipped_while_the_last_still_goes_is_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LoggingSettings())
    configure_logging(LoggingSettings())  # configured again (a test, a reload): still one filter
    scheduler = logging.getLogger("apscheduler.scheduler")
    job = "inbox (trigger: interval[0:00:30], next run at: 2026-12-07 10:00:30 UTC)"
    skipped = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'
    scheduler.warning(skipped, job, 1)  # apscheduler's own words, every interval of a long import
    scheduler.warning("Error getting due jobs from job store %r: %s", "default", "gone")
    printed = capsys.readouterr().err
    assert "skipped" not in printed
    assert "Error getting due jobs from job store 'default': gone" in printed
    assert len([f for f in scheduler.filters if isinstance(f, SkippedRunFilter)]) == 1
    configure_logging(LoggingSettings(level="DEBUG"))  # asked for everything: said
    scheduler.warning(skipped, job, 1)
    assert "skipped: maximum number of running instances reached (1)" in capsys.readouterr().err
    configure_logging(LoggingSettings())
