"""Run history and quarantine: every run records its mapping set; no bad record is dropped."""

from __future__ import annotations

import json
import os
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import aware
from connector.errors import ConnectorError
from connector.ledger.models import utcnow
from connector.security.cipher import FieldCipher
from connector.sync.models import QuarantinedRecord, SyncRun

RAW_FIELD = "quarantine.raw"  # the cipher context of a quarantined record's raw input


@dataclass(frozen=True)
class RunRecord:
    """A run of the history: one job over one source (a module, a file format, a push target), its
    counts (a push's refusals by the CRM's code and field among them) and its error."""

    id: int
    job: str
    source: str
    status: str  # running, succeeded, failed
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    error: str | None

    @classmethod
    def of(cls, run: SyncRun) -> RunRecord:
        started, finished = aware(run.started_at), aware(run.finished_at)
        return cls(
            run.id, run.job, run.source, run.status, started, finished, json.loads(run.counts_json), run.error
        )

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "job": self.job,
            "source": self.source,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "counts": self.counts,
            "error": self.error,
        }


def run_history(
    session: Session,
    *,
    job: str | None = None,
    source: str | None = None,
    failed: bool = False,
    limit: int = 50,
) -> list[RunRecord]:
    """The latest `limit` runs, newest first; only of `job`, of `source`, or the failed ones if asked."""
    query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(SyncRun.job == job)
    if source is not None:
        query = query.where(SyncRun.source == source)
    if failed:
        query = query.where(SyncRun.status == "failed")
    return [RunRecord.of(run) for run in session.scalars(query)]


def start_run(session: Session, job: str, source: str, mapping_digest: str) -> SyncRun:
    run = SyncRun(job=job, source=source, mapping_digest=mapping_digest, holder=this_process())
    session.add(run)
    session.flush()
    return run


def this_process() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def close_abandoned_runs(session: Session) -> int:
    """Runs left `running` by a process of this host that is gone (killed, the machine restarted):
    recorded as failed, so a crash never passes for a run still going. A process just started holds no
    run yet, so one under its own pid is another's, from before. How many."""
    host = f"{socket.gethostname()} pid "
    closed = 0
    for run in session.scalars(
        select(SyncRun).where(SyncRun.status == "running", SyncRun.holder.startswith(host, autoescape=True))
    ):
        pid = run.holder.removeprefix(host) if run.holder else ""
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            run.status, run.finished_at = "failed", utcnow()
            run.error = f"interrupted: its process (pid {pid}) stopped before the run ended"
            closed += 1
    session.flush()
    return closed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


def failure_of(exc: BaseException) -> str:
    """What a run stopped by `exc` is recorded (and shown) with: a connector error's own words, fit to
    show; anything else only by its kind, its details being in the log."""
    if isinstance(exc, ConnectorError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__} (see the log)"


def finish_run(run: SyncRun, counts: Counter[str], error: str | None = None) -> None:
    run.status = "failed" if error else "succeeded"
    run.error = error
    run.counts_json = json.dumps(dict(sorted(counts.items())))
    run.finished_at = utcnow()


def quarantine(
    session: Session,
    cipher: FieldCipher,
    run: SyncRun | None,
    source: str,
    ref: str,
    raw: Any,
    reason: str,
    same_record: Callable[[Any], bool] | None = None,
) -> None:
    """Keep a record that failed, with why; the same record failing again counts another attempt.

    An open record under the same source and reference is that record, unless `same_record` (asked
    with its raw input) says otherwise: then it is kept as it is and this one is kept beside it.
    """
    held = session.scalars(
        select(QuarantinedRecord)
        .where(
            QuarantinedRecord.source == source,
            QuarantinedRecord.record_ref == ref,
            QuarantinedRecord.status == "open",
        )
        .order_by(QuarantinedRecord.id)
    ).all()
    known = next((r for r in held if same_record is None or same_record(raw_input(cipher, r))), None)
    raw_enc = cipher.encrypt(RAW_FIELD, json.dumps(raw, ensure_ascii=False, default=str))
    reason = without_its_values(reason, raw)
    if known is None:
        session.add(
            QuarantinedRecord(
                run_id=run.id if run else None, source=source, record_ref=ref, raw_enc=raw_enc, reason=reason
            )
        )
    else:
        known.attempts += 1
        known.reason, known.raw_enc = reason, raw_enc
        known.run_id = run.id if run else known.run_id
    session.flush()


# A value a reason quotes ('…' or "…", as repr writes it).
_QUOTED = re.compile(r"'([^'\n]{1,1000})'|\"([^\"\n]{1,1000})\"")


def without_its_values(reason: str, raw: Any) -> str:
    """`reason` with the values of the record it quotes left out ('…'): a reason is kept in clear, the
    record only encrypted (a name, an e-mail in a shifted column), and `quarantine show` decrypts it."""
    texts = list(_texts(raw))

    def hidden(quoted: re.Match[str]) -> str:
        value = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
        mark = quoted.group()[0]
        return f"{mark}…{mark}" if any(value.strip() and value in text for text in texts) else quoted.group()

    return _QUOTED.sub(hidden, reason) if texts else reason


def _texts(raw: Any) -> Iterator[str]:
    """Every text in a record as it came (a row's text, a mapped record's values)."""
    if isinstance(raw, str):
        yield raw
    elif isinstance(raw, dict):
        for value in raw.values():
            yield from _texts(value)
    elif isinstance(raw, list | tuple):
        for value in raw:
            yield from _texts(value)
    elif raw is not None and not isinstance(raw, bool | int | float):
        yield str(raw)


def raw_input(cipher: FieldCipher, record: QuarantinedRecord) -> Any:
    return json.loads(cipher.decrypt(RAW_FIELD, record.raw_enc))
