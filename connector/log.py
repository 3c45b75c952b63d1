"""Logging set-up with redaction: registered secret values never reach the log output."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

from connector.settings import LoggingSettings

REDACTED = "**********"
MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Formats with `inner`, then masks every registered secret in the whole text (tracebacks included)."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.inner = inner
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        merged = set(self._secrets) | {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self._secrets = sorted(merged, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.inner.format(record))


class SkippedRunFilter(logging.Filter):
    """Leaves out the scheduler's warning that a job's run is skipped while its last run still goes ("…
    skipped: maximum number of running instances reached (1)"): what the daemon means (a job never
    overlaps itself), said at every interval of a long import."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "skipped: maximum number of running instances" not in str(record.msg)


def configure_logging(settings: LoggingSettings, secrets: Iterable[str] = ()) -> RedactingFormatter:
    """Log to stderr at the configured level; returns the formatter so more secrets can be registered."""
    inner = (
        JsonFormatter()
        if settings.json_format
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    formatter = RedactingFormatter(inner, secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("connector")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "connector"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # Alembic narrates every connection at INFO; its upgrades are still logged at WARNING and above.
    logging.getLogger("alembic").setLevel(logging.DEBUG if settings.level == "DEBUG" else logging.WARNING)
    # One line per HTTP request drowns the log (and URLs may carry ids); requests are logged at DEBUG.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if settings.level == "DEBUG" else logging.WARNING)
    # mt-940 logs each field it reads at DEBUG: payers' names, accounts and remittance text.
    logging.getLogger("mt940").setLevel(logging.WARNING)
    # The scheduler narrates each run it starts and ends, and uvicorn each probe of /health and /metrics:
    # thousands of lines a day saying nothing; the jobs log what they did themselves.
    for chatty in ("apscheduler", "uvicorn.access"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if settings.level == "DEBUG" else logging.WARNING)
    scheduler = logging.getLogger("apscheduler.scheduler")
    for stale in [f for f in scheduler.filters if isinstance(f, SkippedRunFilter)]:
        scheduler.removeFilter(stale)
    if settings.level != "DEBUG":
        scheduler.addFilter(SkippedRunFilter())
    return formatter
