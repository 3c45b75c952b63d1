"""Import a file: recognise it, skip it if these bytes were imported before, stream its documents into
the ledger in batches (each its own transaction, committed behind while the next batch is read),
quarantine what cannot be read, record the file.

A file that cannot be read at all is recorded as failed with the reason (the inbox moves it to
`failed/`); a file with bad rows is imported with those rows quarantined. With `dry_run` everything
is done and then rolled back: the counts say what an import would do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector import retry
from connector.batching import CommitBehind, cyclic_gc_paused
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.documents import (
    Document,
    DocumentParser,
    ExplainsUnreadHead,
    Notice,
    Parsed,
    Problem,
    SniffsWholeFile,
    Statement,
    unkeepable,
)
from connector.errors import FileFormatError
from connector.imports import voucher_gaps
from connector.imports.batches import Batches
from connector.imports.book_forms import refuse_the_other_form
from connector.imports.known import KnownCustomers
from connector.imports.models import ImportedFile
from connector.imports.post import DocumentPoster
from connector.imports.recorded import SeenInFile
from connector.imports.row_quarantine import quarantine_input
from connector.imports.rules import Accounts
from connector.ledger.models import utcnow
from connector.sync.leases import IMPORTS, lease
from connector.sync.models import QuarantinedRecord, SyncRun
from connector.sync.runs import failure_of, finish_run, record_counts, start_run

HEAD_BYTES = 64 * 1024


@dataclass
class FileResult:
    name: str
    format: str | None
    status: str  # imported, skipped, failed, dry-run; stopped (the inbox's; `reason`: what stays)
    counts: Counter[str] = field(default_factory=Counter)
    reason: str = ""
    # Records of earlier imports of a file of this name still in quarantine: this one may correct them.
    quarantined_before: int = 0
    notes: list[str] = field(default_factory=list)  # of the file as a whole (`Notice`)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_name(path: Path) -> str:
    """The file's name as text. A name not in the file system's encoding (a GBK name out of a Windows
    zip) is read as GB18030, else shown with U+FFFD for what cannot be read: it is stored and printed."""
    raw = os.fsencode(path.name)
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")  # pragma: no cover - GB18030 reads nearly any bytes


FORMAT_HINT = "name one with --format"


def choose_parser(
    path: Path, parsers: Sequence[DocumentParser], format: str = "auto", *, format_hint: str = FORMAT_HINT
) -> DocumentParser:
    """The parser named `format`, or with `auto` the one whose sniff recognises the file; `format_hint`
    says how to name a format when none or several recognise it (the inbox has no --format).

    A file several recognise (two mappings whose `[detect] headers` it holds) is refused: read by
    whichever sorts first, it could post another column's amounts than the one its admin mapped."""
    name = file_name(path)
    if format != "auto":
        for parser in parsers:
            if parser.format == format:
                return parser
        known = ", ".join(sorted(parser.format for parser in parsers))
        raise FileFormatError(f"{name}: unknown format {format!r} (formats: {known})")
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    found = [parser for parser in parsers if parser.sniff(head, name)]
    if not found and head.startswith(b"PK\x03\x04"):  # a workbook whose header text lies past the head
        found = [
            parser
            for parser in parsers
            if isinstance(parser, SniffsWholeFile) and parser.sniff_path(str(path), name)
        ]
    if len(found) == 1:
        return found[0]
    if found:
        formats = ", ".join(sorted(parser.format for parser in found))
        raise FileFormatError(
            f"{name}: recognised by {len(found)} formats ({formats}), so read by none; {format_hint}, "
            "or make one mapping's [detect] headers more specific (a column only its exports have) "
            "or remove the other"
        )
    unread = [
        reason
        for parser in parsers
        if isinstance(parser, ExplainsUnreadHead) and (reason := parser.unread_head(head, name))
    ]
    if unread:  # the first: the mappings' detected encodings all say alike
        raise FileFormatError(unread[0])
    raise FileFormatError(f"{name}: not a format the connector knows; {format_hint}")


def import_file(
    container: Container,
    path: Path,
    parsers: Sequence[DocumentParser],
    *,
    format: str = "auto",
    dry_run: bool = False,
    again: bool = False,
    rows: Collection[int | None] | None = None,
    stored_path: Path | None = None,
    digest: str | None = None,
    progress: Callable[[int], None] | None = None,
    name: str | None = None,
    accept_changes_at: Collection[int | None] = (),
    before_rollback: Callable[[Session, int], None] | None = None,
    format_hint: str = FORMAT_HINT,
) -> FileResult:
    """Import one file; `progress` is told how many items each batch read.

    A file whose bytes were imported before is skipped, unless `again` (a quarantine retry): then its
    documents already posted are unchanged and, with `rows` (those of its open quarantined records), only
    those rows are tried once more: a row posted before (whatever a later file made of its document since)
    or one a person resolved stays as it is. `stored_path` is where the bytes will be kept (the inbox's
    archive), by default `path` itself; `digest` is the file's `file_hash` when the caller has it already;
    `name` what the file is called in records and vouchers, by default its own name (a retry of an
    archived copy keeps the name it came with); `accept_changes_at` the rows whose documents, changed
    since their import, are reversed and reposted whatever the policy (a person accepted them);
    `before_rollback`, with `dry_run`, is called with the session and the run's id once everything is
    done, before it is undone (to see what it would have done); `format_hint` how to name the format of
    a file no parser recognises. Imports run one at a time (the `imports`
    lease): a receipt's two records pair only if the second is imported once the first is in.
    """
    name = name or file_name(path)
    if format != "auto" and format not in {parser.format for parser in parsers}:
        try:  # a format no parser has: the command's mistake, not the file's (nothing is recorded)
            choose_parser(path, parsers, format)
        except FileFormatError as exc:
            return FileResult(name, None, "failed", reason=str(exc))
    digest = digest or file_hash(path)
    with nullcontext() if dry_run else lease(container.sessions, IMPORTS) as held:
        # A `keys rotate` run since (another process): its key opens what it re-sealed, and seals what
        # this file writes; read again before each batch too (one `stat` of the key file unchanged).
        container.refresh_keys()
        with unit_of_work(container.sessions) as session:
            earlier = session.scalars(select(ImportedFile).where(ImportedFile.content_hash == digest)).first()
            if earlier is not None and earlier.status == "imported" and not again:
                when = earlier.finished_at.date().isoformat() if earlier.finished_at else "earlier"
                reason = f"the same content was imported as {earlier.name} ({when})"
                return FileResult(name, earlier.format, "skipped", reason=reason)
        try:
            parser = choose_parser(path, parsers, format, format_hint=format_hint)
            retried = earlier is not None and earlier.status == "imported"
            refuse_the_other_form(container, parser, parsers, retried=retried)
        except FileFormatError as exc:
            if not dry_run:  # a dry run writes nothing, not even that the file failed
                _record_failure(container, name, digest, format, str(exc))
            return FileResult(name, None, "failed", reason=str(exc))
        scope = _Scope(
            rows,
            frozenset(accept_changes_at),
            bool(getattr(parser, "kinds_follow_sides", False)),
            rows_name_their_place=not getattr(parser, "lines_name_no_account", False),
        )
        if dry_run:
            # Compared with what this file posted before (a retry's dry run): the rollback undoes the rest.
            known_as = earlier.id if earlier is not None else None
            return _dry_run(container, scope, path, name, parser, progress, known_as, before_rollback)
        with unit_of_work(container.sessions) as session:
            file_id, run_id = _register(session, name, stored_path or path, digest, parser.format, earlier)
        result = FileResult(name, parser.format, "imported", notes=scope.notes)
        known: KnownCustomers | None = None

        try:
            with CommitBehind(container.sessions) as commits:

                def import_batch(batch: list[Parsed]) -> None:
                    nonlocal known
                    container.refresh_keys()
                    # The file's counts are those of what is in the ledger.
                    with commits.counted(result.counts) as (session, counts):
                        run = session.get_one(SyncRun, run_id)
                        known = _known(container, session, known)
                        counts += _import_batch(container, scope, session, known, batch, file_id, run)
                        if held is not None:  # still ours: a receipt's two records pair one after the other
                            held.confirm(session)
                        record_counts(run, result.counts + counts)

                _each_batch(
                    parser, path, name, container.settings.imports.batch_size, import_batch, progress, scope
                )
            if scope.kinds_follow_sides and rows is None and scope.problems:
                scope.notes.append(voucher_gaps.UNCHECKED)  # a refused voucher's lines would read as gone
            elif scope.kinds_follow_sides and rows is None:
                gaps = voucher_gaps.hold_missing(container, run_id, name, file_id, scope.days, scope.seen)
                result.counts["missing_from_this_export"] += gaps
        except FileFormatError as exc:
            result.status, result.reason = "failed", str(exc)
        except BaseException as exc:  # a crash or Ctrl-C: recorded as failed (taken up again next time)
            result.status, result.reason = "failed", failure_of(exc)
            raise
        finally:
            with unit_of_work(container.sessions) as session:
                _finish(session, file_id, run_id, result)
        return result


def _dry_run(
    container: Container,
    scope: _Scope,
    path: Path,
    name: str,
    parser: DocumentParser,
    progress: Callable[[int], None] | None,
    file_id: int | None,
    before_rollback: Callable[[Session, int], None] | None,
) -> FileResult:
    result = FileResult(name, parser.format, "dry-run", notes=scope.notes)
    session = container.sessions()
    try:
        run = start_run(session, "import", parser.format, "")
        known = _known(container, session, None)

        def import_batch(batch: list[Parsed]) -> None:
            result.counts += _import_batch(container, scope, session, known, batch, file_id, run)

        _each_batch(parser, path, name, container.settings.imports.batch_size, import_batch, progress, scope)
        if scope.kinds_follow_sides and scope.rows is None and not scope.problems:
            missing = voucher_gaps.missing_from(session, parser.format, file_id, scope.days, scope.seen)
            result.counts["missing_from_this_export"] += len(missing)
        if before_rollback is not None:
            session.flush()
            before_rollback(session, run.id)
    except FileFormatError as exc:
        result.status, result.reason = "failed", str(exc)
    finally:
        session.rollback()
        session.close()
    return result


def _each_batch(
    parser: DocumentParser,
    path: Path,
    name: str,
    size: int,
    handle: Callable[[list[Parsed]], None],
    progress: Callable[[int], None] | None,
    scope: _Scope,
) -> None:
    """`handle` the file's items `size` at a time (`Batches`), as they are parsed, then what was put off
    to its end (`_Scope.deferred`), also when the file turns unreadable part-way: what was read is
    decided. Reading and posting a batch make hundreds of thousands of short-lived objects without
    cycles: the cyclic collector is paused meanwhile (it would cost a quarter of the import, finding
    nothing)."""
    batches = Batches(parser.parse(str(path), name), size, name)
    try:
        while True:
            with cyclic_gc_paused():
                batch = batches.next()
                if not batch:
                    break
                handle(batch)
            if progress is not None:
                progress(len(batch))
            # The daemon is stopping: what is committed stays, the rest is the next start's (the file is
            # imported again, its posted rows unchanged).
            retry.stop_point(f"{name}: import")
    except FileFormatError:  # what was read before the file broke is decided too
        _decide_deferred(scope, handle)
        raise
    _decide_deferred(scope, handle)


def _decide_deferred(scope: _Scope, handle: Callable[[list[Parsed]], None]) -> None:
    if last := scope.last_batch():
        handle(last)


def _known(container: Container, session: Session, known: KnownCustomers | None) -> KnownCustomers:
    """What the matcher knows, read once per file and asked through each batch's session."""
    if known is None:
        return KnownCustomers(session, container.cipher, container.settings.ledger.chart.receivable.code)
    known.session = session
    return known


@dataclass
class _Scope:
    """What of the file is imported: every row, or a retry's (`rows`), and the rows whose changed
    documents a person accepted."""

    rows: Collection[int | None] | None
    accept_changes_at: frozenset[int | None]
    kinds_follow_sides: bool = False  # the parser's documents: see `DocumentPoster`
    rows_name_their_place: bool = True  # a bad row is found again by its text (`quarantine_input`)
    seen: SeenInFile = field(default_factory=SeenInFile)  # what its earlier batches met
    notes: list[str] = field(default_factory=list)  # the file's notices, each once
    days: tuple[date, date] | None = None  # its documents' first and last dates
    problems: int = 0  # its items refused before they were documents (a voucher that does not balance)
    # Documents that look like one of an earlier file (`lookalikes`), and refunds beyond the credit so
    # far, decided once the whole file is read (the earlier one, or the receipt giving that credit, may
    # still come further down); None: the file's end is reached.
    deferred: list[Document] | None = field(default_factory=list)

    def last_batch(self) -> list[Parsed]:
        """The deferred documents, decided now (holds from here on are final); refunds last, out of the
        credit all the others give."""
        deferred, self.deferred = self.deferred or [], None
        deferred.sort(key=lambda document: document.kind == "refund")  # stable: the others in file order
        return list(deferred)


def _import_batch(
    container: Container,
    scope: _Scope,
    session: Session,
    known: KnownCustomers,
    batch: list[Parsed],
    file_id: int | None,
    run: SyncRun,
) -> Counter[str]:
    counts: Counter[str] = Counter()
    rows = scope.rows
    if rows is not None:  # a retry: only the rows that failed (and what it says of the whole file)
        tried = [item for item in batch if isinstance(item, Notice) or item.origin.row in rows]
        counts["not_retried"] += len(batch) - len(tried)
        batch = tried
    documents: list[Document] = []
    for item in batch:
        if isinstance(item, Statement):
            counts["statements"] += 1
            continue
        if isinstance(item, Notice):
            if item.text not in scope.notes:
                scope.notes.append(item.text)
            continue
        if isinstance(item, Problem):
            problem = item.reason
            scope.problems += 1
        elif (refused := unkeepable(item)) is not None:
            problem = refused
        else:
            documents.append(item)
            first, last = scope.days or (item.date, item.date)
            scope.days = (min(first, item.date), max(last, item.date))
            continue
        if isinstance(item, Document):
            scope.seen.quarantined.add(SeenInFile.key(item))
        quarantine_input(
            session,
            container.cipher,
            run,
            run.source,
            item.origin,
            problem,
            file_id,
            found_by_text=scope.rows_name_their_place,
        )
        counts["quarantined"] += 1
    counts["documents"] += len(documents) if scope.deferred is not None else 0  # deferred: counted before
    if documents:
        poster = DocumentPoster(
            session,
            container.cipher,
            Accounts.of(container.settings.ledger.chart),
            container.settings.imports,
            known,
            file_id,
            run,
            scope.accept_changes_at,
            scope.seen,
            scope.kinds_follow_sides,
            retrying=rows is not None,
            defer=scope.deferred,
        )
        counts += poster.post(documents)
    return counts


def _register(
    session: Session, name: str, stored: Path, digest: str, format: str, earlier: ImportedFile | None
) -> tuple[int, int]:
    run = start_run(session, "import", format, "")
    if earlier is not None:  # taken up again (a retry, or a failed or interrupted attempt)
        earlier = session.get_one(ImportedFile, earlier.id)  # read in another session
    else:
        earlier = ImportedFile(content_hash=digest, name=name, format=format)
        session.add(earlier)
    earlier.name, earlier.format, earlier.status, earlier.run_id = name, format, "importing", run.id
    earlier.error, earlier.started_at, earlier.finished_at = None, utcnow(), None
    earlier.stored_path = str(stored.resolve())
    session.flush()
    return earlier.id, run.id


def _record_failure(container: Container, name: str, digest: str, format: str, reason: str) -> None:
    with unit_of_work(container.sessions) as session:
        row = session.scalars(select(ImportedFile).where(ImportedFile.content_hash == digest)).first()
        if row is None:
            row = ImportedFile(content_hash=digest, name=name, format=format)
            session.add(row)
        row.status, row.error, row.finished_at = "failed", reason, utcnow()


def _finish(session: Session, file_id: int, run_id: int, result: FileResult) -> None:
    result.quarantined_before = (
        session.scalar(
            select(func.count()).where(
                QuarantinedRecord.status == "open",
                QuarantinedRecord.record_ref.startswith(f"{result.name}:", autoescape=True),
                QuarantinedRecord.run_id != run_id,
            )
        )
        or 0
    )
    row = session.get_one(ImportedFile, file_id)
    row.status, row.error, row.finished_at = result.status, result.reason or None, utcnow()
    row.counts_json = json.dumps(dict(sorted(result.counts.items())))
    finish_run(session.get_one(SyncRun, run_id), result.counts, result.reason or None)
