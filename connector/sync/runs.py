"""Run history and quarantine: every run records its mapping set; no bad record is dropped."""

from __future__ import annotations

import ast
import html
import json
import os
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector.db import aware, clock_ms, database_error_text
from connector.errors import ConnectorError
from connector.ledger.models import utcnow
from connector.master.classify import fold
from connector.security.cipher import FieldCipher
from connector.sync.models import JobLease, QuarantinedRecord, SyncRun

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
    finished_at: datetime | None  # None while running, or for a run killed before its progress was kept
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

    @property
    def end_unknown(self) -> bool:
        """A run that ended with no end recorded: one killed before the versions that keep a run's
        progress (`progress_at`), so nothing tells when it stopped."""
        return self.status != "running" and self.finished_at is None


# The jobs runs are recorded for (`start_run`): a CRM's pull and push, the records its notifications name,
# the imports of accounting exports and statements, and the customers imported from files.
RUN_JOBS = ("pull", "push", "notification", "import", "customers.import")


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


# The lease (`leases.lease`) the current thread holds: a run started under it is that lease's.
held_by: ContextVar[str | None] = ContextVar("lease holder", default=None)
_LEASED = re.compile(r" [0-9a-f]{8}$")  # a lease holder: "host pid N" and the lease's own token


def start_run(session: Session, job: str, source: str, mapping_digest: str) -> SyncRun:
    holder, now = held_by.get() or this_process(), utcnow()
    run = SyncRun(
        job=job, source=source, mapping_digest=mapping_digest, holder=holder, started_at=now, progress_at=now
    )
    session.add(run)
    session.flush()
    return run


def this_process() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def progress(session: Session, holder: str) -> None:
    """The runs started under the lease `holder` holds are going: told at each of its renewals, so
    that one whose process dies between two batches is known to have run until then."""
    session.execute(
        update(SyncRun)
        .where(SyncRun.holder == holder, SyncRun.status == "running")
        .values(progress_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def gone_here(holder: str) -> int | None:
    """The pid `holder` (a run's or a lease's: "host pid N …") names when it is another process of this
    host that no longer runs (killed, crashed); None for a live one, this one or another host's."""
    pid = holder.removeprefix(f"{socket.gethostname()} pid ").partition(" ")[0]
    if holder.startswith(f"{socket.gethostname()} pid ") and pid.isdigit() and int(pid) != os.getpid():
        return None if _alive(int(pid)) else int(pid)
    return None


def close_abandoned_runs(session: Session, *, starting: bool = True) -> int:
    """Runs left `running` by a process that is gone (killed, its machine or container restarted):
    recorded as failed, so a crash never passes for a run still going. A run started under a lease is
    gone with its lease (expired or taken over, by the database's clock: on any host, whatever pids
    other containers reuse); another, of this host, with its process (a process `starting` holds no run
    yet, so one under its own pid is another's, from before; later, its own are its own). Each is
    recorded as ending when it last showed progress, not now: its duration is how long it ran; one
    started before progress was kept has no end recorded (the time it was noticed would pass for its
    duration). How many."""
    host = f"{socket.gethostname()} pid "
    # Judged in the update itself: a lease read apart from its run could be older than the run (a run
    # started meanwhile, under a lease taken meanwhile, would be judged without it).
    lease_gone = ~exists().where(JobLease.holder == SyncRun.holder, JobLease.expires_at >= clock_ms(session))
    closed = 0
    for run_id, holder in session.execute(
        select(SyncRun.id, SyncRun.holder).where(SyncRun.status == "running")
    ):
        holder = holder or ""
        gone: ColumnElement[bool] = true()
        if _LEASED.search(holder):
            gone = lease_gone
            # Which of the two, the database cannot tell: a process whose connection dropped (the
            # database restarted) lives on, its lease lapsed all the same.
            why = (
                "its lease lapsed before the run ended (its process was killed, or lost its database "
                "connection)"
            )
        else:
            pid = holder.removeprefix(host) if holder.startswith(host) else ""
            mine = pid.isdigit() and int(pid) == os.getpid()
            if not pid.isdigit() or (mine and not starting) or (not mine and _alive(int(pid))):
                continue
            why = f"its process (pid {pid}) stopped before the run ended"
        failed = (
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "running", gone)
            .values(
                status="failed",
                finished_at=SyncRun.progress_at,  # None before it was kept: when it stopped is not known
                error=f"interrupted: {why}",
            )
            .execution_options(synchronize_session=False)
        )
        closed += session.execute(failed).rowcount  # type: ignore[attr-defined]
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
    show; a database error's reason ("database or disk is full": never its statement or values);
    anything else only by its kind, its details being in the log."""
    if isinstance(exc, ConnectorError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, SQLAlchemyError):
        return f"{type(exc).__name__}: {database_error_text(exc)} (see the log)"
    return f"{type(exc).__name__} (see the log)"


def finish_run(run: SyncRun, counts: Counter[str], error: str | None = None) -> None:
    run.status = "failed" if error else "succeeded"
    run.error = error
    record_counts(run, counts)
    run.finished_at = utcnow()


def record_counts(run: SyncRun, counts: Counter[str]) -> None:
    """The run's counts so far, written in the transaction of what they count: a run killed before it
    finished shows what it committed, and when it last did."""
    run.counts_json = json.dumps(dict(sorted(counts.items())))
    run.progress_at = utcnow()


def quarantine(
    session: Session,
    cipher: FieldCipher,
    run: SyncRun | None,
    source: str,
    ref: str,
    raw: Any,
    reason: str,
    same_record: Callable[[Any], bool] | None = None,
    content_key: str | None = None,
    same_content: Callable[[Any], bool] | None = None,
    known_keys: Sequence[str] = (),
) -> None:
    """Keep a record that failed, with why; the same record failing again counts another attempt.

    An open record under the same source and reference is that record, unless `same_record` (asked
    with its raw input) says otherwise: then it is kept as it is and this one is kept beside it. With
    none there, an open record of the source with the same `content_key` that `same_content` takes is
    it, seen under another reference (a file row brought back by a file of another name): it moves to
    `ref`, where it was last seen. `known_keys`: the content keys it was held under before (under a
    document's former id); found under one, it takes `content_key`.
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
    if known is None and content_key is not None:
        elsewhere = session.scalars(
            select(QuarantinedRecord)
            .where(
                QuarantinedRecord.source == source,
                QuarantinedRecord.content_key.in_([content_key, *known_keys]),
                QuarantinedRecord.status == "open",
            )
            .order_by(QuarantinedRecord.id)
        )
        known = next(
            (r for r in elsewhere if same_content is None or same_content(raw_input(cipher, r))), None
        )
    raw_enc = cipher.encrypt(RAW_FIELD, json.dumps(raw, ensure_ascii=False, default=str))
    reason = without_its_values(reason, raw)
    if known is None:
        session.add(
            QuarantinedRecord(
                run_id=run.id if run else None,
                source=source,
                record_ref=ref,
                raw_enc=raw_enc,
                reason=reason,
                content_key=content_key,
            )
        )
    else:
        known.attempts += 1
        known.reason, known.raw_enc, known.record_ref = reason, raw_enc, ref
        known.content_key = content_key if content_key is not None else known.content_key
        known.run_id = run.id if run else known.run_id
    session.flush()


# A value a reason quotes, however long ('…' or "…", as repr writes it: with backslash escapes, \n, \xa0, \').
_QUOTED = re.compile(r"'((?:[^'\\\n]|\\.)+)'|\"((?:[^\"\\\n]|\\.)+)\"")


def without_its_values(reason: str, raw: Any) -> str:
    """`reason` with the values of the record it quotes left out ('…'): a reason is kept in clear, the
    record only encrypted (a name, an e-mail in a shifted column), and `quarantine show` decrypts it. A
    value quoted as repr writes it (a line break as \\n) is compared as the text it stands for; values
    and record are compared folded (width, case, spacing), with XML's entities read and a CSV row's
    doubled quotes as one, as a converter quotes ' zeb ' as 'ZEB', a statement's &amp; as & and a
    row's cell "a ""b"" c" as 'a "b" c'. A quoted text of punctuation alone ('.', ",")
    is the reason's own hint, never left out; one shorter than three characters only when it stands in
    the record on its own (a cell of a row's text), not inside a word or number of it."""
    texts = [
        fold(one) for text in _texts(raw) for one in {text, html.unescape(text), text.replace('""', '"')}
    ]

    def hidden(quoted: re.Match[str]) -> str:
        value = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
        mark = quoted.group()[0]
        values = {fold(value), fold(_unescaped(quoted.group()))}
        found = any(_quotes_from(one, text) for one in values for text in texts)
        return f"{mark}…{mark}" if found else quoted.group()

    return _QUOTED.sub(hidden, reason) if texts else reason


def _quotes_from(value: str, text: str) -> bool:
    """Whether a reason's quoted `value` is taken from the record's `text` (both folded)."""
    if not any(char.isalnum() for char in value):  # '.', ",": no one's data, and in every row
        return False
    if len(value) >= 3:
        return value in text
    at = text.find(value)
    while at >= 0:  # '1' or 'ab' is in most rows: only a whole one (a cell 'Li', '王五') is theirs
        end = at + len(value)
        if not (at > 0 and text[at - 1].isalnum()) and not (end < len(text) and text[end].isalnum()):
            return True
        at = text.find(value, at + 1)
    return False


def _unescaped(quoted: str) -> str:
    """The text a repr-quoted value stands for ('' when it is not one)."""
    try:
        value = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return ""
    return value if isinstance(value, str) else ""


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
