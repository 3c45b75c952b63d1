from __future__ import annotations

import logging

import pytest

from connector.log import REDACTED, configure_logging
from connector.settings import LoggingSettings


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
