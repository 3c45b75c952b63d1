"""What the daemon's probes (`/health`, the status views, `/metrics`) log of a database that does not
answer: one line as the outage begins, with what the database said, and one as it ends, not a traceback
at every probe (a load balancer's every few seconds). The traceback is logged at DEBUG."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from connector.db import database_error_text

log = logging.getLogger("connector.web")


def failure_text(exc: BaseException) -> str:
    """One line of what went wrong: what the database said, else the error's kind and message."""
    if isinstance(exc, SQLAlchemyError):
        return database_error_text(exc)
    said = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {said[0]}" if said else type(exc).__name__


class DatabaseWatch:
    """Whether the database answered the last probe; a change is logged, a probe like the last not."""

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()  # probes answer from worker threads

    def failed(self, probe: str, why: str, exc: BaseException | None = None) -> None:
        """`probe` found the database not answering (`why`, one line; `exc` logged at DEBUG)."""
        if exc is not None:
            log.debug("%s: the database does not answer", probe, exc_info=exc)
        with self._lock:
            was_down, self._down = self._down, True
        if not was_down:
            log.error("%s: the database does not answer: %s", probe, why)

    def answered(self, probe: str) -> None:
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            log.info("%s: the database answers again", probe)
