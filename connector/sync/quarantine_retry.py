"""Retrying quarantined records: replay what can be replayed, and say so for the rest.

* rows and documents of an imported file: the file is imported again from where its bytes are kept
  (`import_file(again=True)`), once per file. Only the rows of its open records are tried again: rows
  posted before, or resolved by a person, stay as they are. The file's open records the retry did not
  quarantine again went through: they are resolved by "retry". The others stay open with one more
  attempt.
* customer records from a file (`connector customers import`): mapped again through the inbound
  mapping for their source in the mapping set in force and applied in a new run (`apply_records`).
  Those that apply are resolved by "retry"; those that fail again count another attempt. A record
  whose source record was applied again since it failed is not replayed over the newer one.
* anything else is not replayed here: a CRM pull's records come again with the pull that next reads
  them, a push's figures are planned again by every push. Each such record is named with the reason.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bootstrap import Container
from connector.bulk import in_chunks
from connector.db import aware, unit_of_work
from connector.documents import DocumentParser
from connector.errors import ConnectorError
from connector.imports.models import ImportedFile
from connector.imports.pipeline import choose_parser, file_hash, import_file
from connector.imports.row_quarantine import NOT_REPLAYED_KEY
from connector.mapping.apply import map_record
from connector.mapping.files import MappingSet
from connector.mapping.model import MappingFile
from connector.master.models import CustomerBinding
from connector.master.records import BINDING_RECORD, modified_at
from connector.master.sync import apply_records
from connector.security.cipher import FieldCipher
from connector.sync.models import QuarantinedRecord, SyncRun
from connector.sync.quarantine import RETRY_ACTOR, load_records, mark_resolved
from connector.sync.runs import finish_run, raw_input, start_run

log = logging.getLogger(__name__)

IMPORT_JOB = "import"
CUSTOMER_JOBS = frozenset({"customers.import"})  # runs of `master.sync.sync_customers` over a file
NOT_REPLAYED = {
    "pull": "records from a CRM pull are retried by the pull that next reads them (when the record "
    "changes in the CRM, or with a full pull: --full); resolve it when done",
    "push": "figures refused by an outbound mapping are planned again by every push; "
    "resolve it once the mapping or the customer's data is fixed",
}
NOT_REPLAYED["notification"] = NOT_REPLAYED["pull"]


@dataclass
class RetryOutcome:
    """What a retry did for one file, one source's records, or one record it cannot replay."""

    subject: str
    ids: list[int]  # the records asked for
    status: str  # retried, dry-run, not replayed, error
    message: str = ""  # the error, or why the record is not replayed here
    run_id: int | None = None
    resolved: list[int] = field(default_factory=list)  # went through (with a dry run: would)
    still_open: list[int] = field(default_factory=list)  # failed again, one more attempt
    counts: Counter[str] = field(default_factory=Counter)
    superseded: list[int] = field(default_factory=list)  # resolved unreplayed: a later version stands


@dataclass(frozen=True)
class _Held:
    """A customer record to replay: its id, reference, raw input and when it last failed."""

    id: int
    ref: str
    raw: Any
    failed_at: datetime | None


@dataclass
class _Plan:
    files: dict[int, list[int]] = field(default_factory=dict)  # imported file id → record ids
    customers: dict[tuple[str, str], list[_Held]] = field(default_factory=dict)  # (job, source) → records
    outcomes: list[RetryOutcome] = field(default_factory=list)  # records not replayed, or unreadable


def _plan(session: Session, cipher: FieldCipher, ids: Sequence[int]) -> _Plan:
    plan = _Plan()
    for record_id, (record, run) in sorted(load_records(session, ids, open_only=True).items()):
        subject = f"#{record_id} {record.source} {record.record_ref}"
        job = run.job if run else None
        if job not in (IMPORT_JOB, *CUSTOMER_JOBS):
            why = NOT_REPLAYED.get(job or "") or (
                f"records of {f'job {job!r}' if job else 'no recorded run'} are not replayed here; "
                "resolve it when done"
            )
            plan.outcomes.append(RetryOutcome(subject, [record_id], "not replayed", why))
            continue
        try:
            raw = raw_input(cipher, record)
        except ConnectorError as exc:
            plan.outcomes.append(RetryOutcome(subject, [record_id], "error", str(exc)))
            continue
        if run is not None and job in CUSTOMER_JOBS:
            held = _Held(record_id, record.record_ref, raw, run.started_at)
            plan.customers.setdefault((run.job, record.source), []).append(held)
            continue
        if isinstance(raw, dict) and raw.get(NOT_REPLAYED_KEY):
            why = "it waits for a person's decision, no retry's: do as its reason says, then resolve it"
            plan.outcomes.append(RetryOutcome(subject, [record_id], "not replayed", why))
            continue
        file_id = raw.get("file_id") if isinstance(raw, dict) else None
        if not isinstance(file_id, int):
            why = "it is not tied to an imported file: import a corrected file with `connector import PATH`"
            plan.outcomes.append(RetryOutcome(subject, [record_id], "error", why))
            continue
        plan.files.setdefault(file_id, []).append(record_id)
    return plan


def retry(
    container: Container,
    ids: Sequence[int],
    *,
    parsers: Callable[[], Sequence[DocumentParser]],
    mappings: Callable[[], MappingSet],
    moved: Sequence[Path] = (),
    dry_run: bool = False,
    accept_changes: bool = False,
) -> list[RetryOutcome]:
    """Replay the open records `ids` where they can be replayed; one outcome per file, source or record.

    `parsers` and `mappings` are asked for only when records need them. `moved` names files whose
    bytes are no longer where they were imported from (matched by content). With `dry_run` everything
    is done and rolled back: the outcomes say what a retry would do. With `accept_changes` a document
    of `ids` changed since its import is reversed and reposted, whatever the `changed_documents` policy
    (the file's other records are retried under the policy).
    """
    with unit_of_work(container.sessions) as session:
        plan = _plan(session, container.cipher, ids)
    outcomes = plan.outcomes
    missing = [str(path) for path in moved if not path.is_file()]
    if missing:
        raise ConnectorError(f"no such file: {', '.join(missing)}")
    at = {file_hash(path): path for path in moved}
    unused = dict(at)
    for file_id, record_ids in sorted(plan.files.items()):
        outcomes.append(
            _retry_file(container, file_id, record_ids, parsers, at, unused, dry_run, accept_changes)
        )
    outcomes += [
        RetryOutcome(str(path), [], "error", "its content is not that of a file whose records were retried")
        for path in unused.values()
    ]
    loaded: list[MappingSet] = []
    for (job, source), held in sorted(plan.customers.items()):
        outcomes.append(_retry_customers(container, job, source, held, mappings, loaded, dry_run))
    for outcome in outcomes:
        log.info(
            "quarantine retry of %s: %s, %d resolved, %d still open (run %s)",
            outcome.subject,
            outcome.status,
            len(outcome.resolved),
            len(outcome.still_open),
            outcome.run_id,
        )
    return outcomes


# --- retrying an imported file -------------------------------------------------------------------------


def _retry_file(
    container: Container,
    file_id: int,
    ids: list[int],
    parsers: Callable[[], Sequence[DocumentParser]],
    at: dict[str, Path],
    unused: dict[str, Path],
    dry_run: bool,
    accept_changes: bool,
) -> RetryOutcome:
    with unit_of_work(container.sessions) as session:
        row = session.get(ImportedFile, file_id)
        if row is None:
            return RetryOutcome(f"imported file #{file_id}", ids, "error", "the file is no longer recorded")
        name, format, digest, stored = row.name, row.format, row.content_hash, row.stored_path
    failed = RetryOutcome(f"{name} (imported file #{file_id})", ids, "error")
    path = at.get(digest) or (Path(stored) if stored else None)
    unused.pop(digest, None)
    numbers = " ".join(map(str, ids))
    corrected = (
        "or import a corrected file with `connector import PATH` and then close "
        f"{'this record' if len(ids) == 1 else 'these records'}: "
        f'`connector quarantine resolve {numbers} --note "imported corrected"`'
    )
    if path is None:
        failed.message = (
            f"where its bytes are kept was not recorded; name the file with --file PATH, {corrected}"
        )
        return failed
    if not path.is_file():
        failed.message = (
            f"its bytes were expected at {path}, but no file is there; put it back, name where it is now "
            f"with --file PATH, {corrected}"
        )
        return failed
    if digest not in at and file_hash(path) != digest:
        failed.message = (
            f"the file at {path} has changed since it was imported; name the original with --file PATH, "
            f"{corrected}"
        )
        return failed
    try:
        readers = parsers()
        choose_parser(path, readers, format)
    except ConnectorError as exc:
        failed.message = f"it cannot be read as {format} any more: {exc}"
        return failed
    with unit_of_work(container.sessions) as session:
        before = _snapshot(session, container.cipher, file_id)
    would: tuple[list[int], list[int]] = ([], [])

    def would_settle(session: Session, run_id: int) -> None:
        nonlocal would
        would = _settle_file(session, container.cipher, file_id, run_id, before)

    result = import_file(
        container,
        path,
        readers,
        format=format,
        again=True,
        rows=before.rows,
        dry_run=dry_run,
        stored_path=path,
        name=name,  # what it was called when it came: its archived copy is named by its hash
        accept_changes_at=[before.rows_of[i] for i in ids if i in before.rows_of] if accept_changes else (),
        before_rollback=would_settle if dry_run else None,
    )
    failed.counts = result.counts
    if result.status not in ("imported", "dry-run"):
        failed.message = f"the import failed ({result.reason}); nothing was resolved"
        return failed
    if dry_run:
        return RetryOutcome(failed.subject, ids, "dry-run", "", None, *would, result.counts)
    with unit_of_work(container.sessions) as session:
        run_id = session.get_one(ImportedFile, file_id).run_id  # the retry's run
        resolved, still_open = _settle_file(session, container.cipher, file_id, run_id, before)
    return RetryOutcome(failed.subject, ids, "retried", "", run_id, resolved, still_open, result.counts)


@dataclass(frozen=True)
class _Before:
    """The file's open records (id → run and attempts), just before its retry."""

    records: dict[int, tuple[int | None, int]]
    rows: frozenset[int | None]  # where they are in the file: the rows the retry tries
    rows_of: dict[int, int | None]  # each record's row


def _file_records(
    session: Session, cipher: FieldCipher, file_id: int
) -> list[tuple[QuarantinedRecord, dict[str, Any]]]:
    """The open records of an imported file, with their raw input (the file's id is inside it)."""
    mine: list[tuple[QuarantinedRecord, dict[str, Any]]] = []
    rows = session.scalars(
        select(QuarantinedRecord)
        .join(SyncRun, QuarantinedRecord.run_id == SyncRun.id)
        .where(QuarantinedRecord.status == "open", SyncRun.job == IMPORT_JOB)
        .order_by(QuarantinedRecord.id)
    )
    for record in rows:
        raw = raw_input(cipher, record)
        if isinstance(raw, dict) and raw.get("file_id") == file_id:
            mine.append((record, raw))
    return mine


def _snapshot(session: Session, cipher: FieldCipher, file_id: int) -> _Before:
    mine = _file_records(session, cipher, file_id)
    rows_of = {r.id: row if isinstance(row := raw.get("row"), int) else None for r, raw in mine}
    return _Before({r.id: (r.run_id, r.attempts) for r, _ in mine}, frozenset(rows_of.values()), rows_of)


def _settle_file(
    session: Session, cipher: FieldCipher, file_id: int, run_id: int | None, before: _Before
) -> tuple[list[int], list[int]]:
    """After the file's retry (run `run_id`): (went through, failed again).

    A record the retry quarantined again has a new run and one more attempt (or is new); a record
    unchanged since `before` went through and is resolved. A row quarantined again as another record
    (it failed another way, under another source) replaces its earlier record, which is resolved
    pointing to it and passes on its attempts.
    """
    mine = _file_records(session, cipher, file_id)
    again = [(r, raw) for r, raw in mine if before.records.get(r.id) != (r.run_id, r.attempts)]
    resolved: list[int] = []
    for record, raw in mine:
        if before.records.get(record.id) != (record.run_id, record.attempts):
            continue
        same = next((new for new, new_raw in again if _same_place(raw, new_raw)), None)
        if same is not None:
            same.attempts += record.attempts if same.id not in before.records else 0
            mark_resolved(record, RETRY_ACTOR, f"failed again on retry (run {run_id}) as #{same.id}")
        else:
            mark_resolved(record, RETRY_ACTOR, f"went through on retry (run {run_id})")
            resolved.append(record.id)
    session.flush()
    return resolved, [record.id for record, _ in again]


def _same_place(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The same row of the file (and the same document, where both name one: under its id or one it
    is known as, the id it was quarantined under before)."""
    old_id, new_id = old.get("external_id"), new.get("external_id")
    same_document = old_id is None or new_id is None or old_id in [new_id, *new.get("known_as", [])]
    return old.get("row") == new.get("row") and same_document


# --- retrying customer records -------------------------------------------------------------------------


def _retry_customers(
    container: Container,
    job: str,
    source: str,
    held: list[_Held],
    mappings: Callable[[], MappingSet],
    loaded: list[MappingSet],
    dry_run: bool,
) -> RetryOutcome:
    ids = [item.id for item in held]
    outcome = RetryOutcome(f"{source} ({len(ids)} record(s))", ids, "dry-run" if dry_run else "retried")
    try:
        if not loaded:
            loaded.append(mappings())
    except ConnectorError as exc:
        outcome.status, outcome.message = "error", f"no mapping set to map them with: {exc}"
        return outcome
    mapping_set = loaded[0]
    mapping = mapping_set.for_source(source, "inbound")
    if mapping is None:
        outcome.status = "error"
        outcome.message = f"no inbound mapping reads {source} in the mapping set in force; fix the mappings"
        return outcome
    with container.sessions() as session:
        records = {
            r.id: r for r in session.scalars(select(QuarantinedRecord).where(QuarantinedRecord.id.in_(ids)))
        }
        newer = _applied_since(session, container.cipher, mapping, source, held)
        for record_id, why in newer.items():
            mark_resolved(records[record_id], RETRY_ACTOR, f"not replayed: {why}")
            outcome.superseded.append(record_id)
        outcome.counts["superseded"] = len(newer)
        replay = [item for item in held if item.id not in newer]
        if replay:
            run = start_run(session, job, source, mapping_set.digest)
            try:
                batch = [(item.ref, item.raw) for item in replay]
                outcome.counts += apply_records(session, container, mapping_set, mapping, run, batch)
            except ConnectorError as exc:
                session.rollback()
                outcome.status, outcome.message = "error", str(exc)
                outcome.resolved, outcome.superseded = [], []
                return outcome
            for item in replay:
                if records[item.id].run_id == run.id:
                    outcome.still_open.append(item.id)
                else:
                    mark_resolved(records[item.id], RETRY_ACTOR, f"went through on retry (run {run.id})")
                    outcome.resolved.append(item.id)
            finish_run(run, +outcome.counts)
            outcome.run_id = None if dry_run else run.id
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return outcome


def _applied_since(
    session: Session, cipher: FieldCipher, mapping: MappingFile, source: str, held: list[_Held]
) -> dict[int, str]:
    """Records whose source record was applied after they last failed (a corrected copy came in), or
    deleted in its source since: replaying the old input would overwrite the newer one, or bring the
    deleted one back. Record id → which of them, and when.

    Where both the record and the version applied say when their source changed them (`modified_at`),
    those tell which is newer: the run a record failed in may have applied an older version of it
    after it began (an event and its update in one file)."""
    external: dict[str, list[tuple[_Held, datetime | None]]] = {}
    for item in held:
        values = map_record(mapping, item.raw).values
        external_id = values.get("external_id")
        if external_id is not None and item.failed_at is not None:
            external.setdefault(str(external_id), []).append((item, modified_at(values)))
    newer: dict[int, str] = {}
    for chunk in in_chunks(external):
        bound = session.execute(
            select(
                CustomerBinding.external_id,
                CustomerBinding.last_synced_at,
                CustomerBinding.deleted_at,
                CustomerBinding.record_enc,
            ).where(
                CustomerBinding.backend == source,
                CustomerBinding.external_id.in_(chunk),
            )
        )
        for external_id, synced, deleted, record_enc in bound:
            applied = modified_at(json.loads(cipher.decrypt(BINDING_RECORD, record_enc)))
            for item, changed in external[external_id]:
                assert item.failed_at is not None
                failed = aware(item.failed_at)
                if deleted is not None and aware(deleted) > failed:
                    newer[item.id] = f"the record was deleted in {source} on {aware(deleted):%Y-%m-%d %H:%M}"
                elif changed is not None and applied is not None:
                    if applied > changed:
                        newer[item.id] = (
                            f"a later version (changed at {applied.isoformat()}) was applied on "
                            f"{aware(synced):%Y-%m-%d %H:%M}"
                        )
                elif aware(synced) > failed:
                    newer[item.id] = f"a later version was applied on {aware(synced):%Y-%m-%d %H:%M}"
    return newer
