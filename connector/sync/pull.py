"""Pull customers from a CRM: changed records since the cursor, then deletions, one run per stream.

Pages of changes are mapped and applied in one transaction together with the cursor that covers
them, so a crash loses at most the pages in hand and the next run starts where the last commit left
off. Pages are fetched while earlier ones are stored; the pages waiting when a transaction starts go
into it together (up to `RECORDS_PER_TRANSACTION`), so a fast source pays for few commits and a slow
one has each page stored as soon as it arrives. A transaction commits behind (`CommitBehind`) while the
next pages are mapped. The run's start is the cursor's signpost.
Deletions mark the record's binding deleted (and the customer inactive when it was the last one); their
cursor moves when the whole listing of deletions is applied.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from connector import retry
from connector.batching import CommitBehind
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import BudgetExhaustedError, StoppingError
from connector.mapping.files import MappingSet
from connector.mapping.unheld import UnheldPaths
from connector.master.sync import apply_mapped, apply_records, inbound_mapping, map_batch, record_ref
from connector.ports import Changed, ContactSource, Deletion
from connector.sync import cursors
from connector.sync.credits import Spending, write_spent
from connector.sync.leases import lease
from connector.sync.models import SyncRun
from connector.sync.prefetch import prefetched_runs
from connector.sync.runs import failure_of, finish_run, record_counts, start_run

log = logging.getLogger(__name__)

# Larger transactions write each index page they touch once for more records (blind indexes and ids land
# on random pages): 10,000 records a commit pull 6 % faster than 2,000. A crash costs at most their refetch.
RECORDS_PER_TRANSACTION = 10_000
READ_AHEAD_PAGES = 50  # a transaction's worth of 200-record pages


@dataclass
class PullResult:
    source: str
    counts: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None  # why the run stopped early (budget spent), if it did


def pull_stream(
    container: Container,
    source: ContactSource,
    mappings: MappingSet,
    backend: str,
    stream: str,
    *,
    full: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wait: bool = True,
    spending: Spending | None = None,
) -> PullResult:
    """Changes then deletions of `backend.stream` since its cursor (from the start with `full`); one
    pull of a stream at a time (another process pulling it, the daemon or a person, is waited for;
    without `wait`, a `LeaseHeldError`). The API credits `spending` counts are written with each
    transaction: a process killed loses those of its calls since its last commit only."""
    with lease(container.sessions, pull_lease(backend, stream), wait=wait):
        return _pull(container, source, mappings, backend, stream, full, clock, spending)


def pull_lease(backend: str, stream: str) -> str:
    """The lease of a stream's pull: whatever writes its records from the CRM holds it."""
    return f"pull {backend}.{stream}"


def _pull(
    container: Container,
    source: ContactSource,
    mappings: MappingSet,
    backend: str,
    stream: str,
    full: bool,
    clock: Callable[[], datetime],
    spending: Spending | None,
) -> PullResult:
    mapping = inbound_mapping(mappings, f"{backend}.{stream}")
    result = PullResult(mapping.source)
    unheld = UnheldPaths(mapping)
    signpost = clock()
    with unit_of_work(container.sessions) as session:
        run_id = start_run(session, "pull", mapping.source, mappings.digest).id
        row = cursors.cursor_row(session, backend, stream)
        position = cursors.Position(None) if full else cursors.changes_position(row)
        gone_position = cursors.deletions_position(row)
    error: str | None = None
    try:
        with CommitBehind(container.sessions) as commits:
            # Deletions first: when a record was deleted and another made for the same person since the
            # last run (a re-created contact), the new one finds the customer free of the old binding,
            # not held by it; a deleted record is in no changes listing. Deletions come in no documented
            # order (the sandbox, like Zoho's examples, lists the newest first): the cursor moves once
            # every page is applied (the source reads again what an entry leaving the listing meanwhile
            # hid). A run stopped before applies again what it applied (a deletion applied twice changes
            # nothing) and loses none.
            reached = gone_position
            for gone in source.deletions(stream, gone_position.at):
                fresh = [
                    d for d in gone if d.id not in gone_position.seen or d.deleted_at != gone_position.at
                ]
                reached = reached.advanced(((d.id, d.deleted_at) for d in gone), signpost)
                retry.stop_point(f"{stream} pull")
                with _transaction(commits, spending, result.counts) as (session, counts):
                    counts += _apply_deletions(container, session, mappings, mapping.source, fresh)
                    record_counts(session.get_one(SyncRun, run_id), +(result.counts + counts))
            if reached != gone_position:
                with _transaction(commits, spending, result.counts) as (session, _):
                    cursors.save_deletions_position(cursors.cursor_row(session, backend, stream), reached)
            listed_from = position
            pages = source.changes(stream, mapping.source_fields(), position.at, position.seen)
            for run_of_pages in prefetched_runs(pages, READ_AHEAD_PAGES, RECORDS_PER_TRANSACTION, len):
                changed = [record for page in run_of_pages for record in page]
                unheld.see(c.raw for c in changed)
                position = position.advanced(((c.id, c.modified_at) for c in changed), signpost)
                mapped = map_batch(mapping, [(record_ref(mapping.source, c.id), c.raw) for c in changed])
                retry.stop_point(f"{stream} pull")
                with _transaction(commits, spending, result.counts) as (session, counts):
                    run = session.get_one(SyncRun, run_id)
                    counts += apply_mapped(session, container, mappings, mapping, run, mapped)
                    counts["read"] += len(changed)
                    record_counts(run, +(result.counts + counts))  # a pull killed part-way: what it committed
                    cursors.save_changes_position(cursors.cursor_row(session, backend, stream), position)
            if position == listed_from and position != (passed := position.passed()):
                # Listed from its instant again and nothing there but what was processed: past it now
                with _transaction(commits, spending, result.counts) as (session, _):
                    cursors.save_changes_position(cursors.cursor_row(session, backend, stream), passed)
    except BudgetExhaustedError as exc:
        result.stopped = str(exc)  # what was stored is kept with its cursor; the next cycle goes on
        result.counts["stopped_on_budget"] += 1
    except StoppingError as exc:  # the daemon stops between two transactions: the same
        result.stopped = str(exc)
        result.counts["stopped_by_shutdown"] += 1
    except BaseException as exc:  # a crash or Ctrl-C too: the run did not go through
        error = failure_of(exc)
        raise
    finally:
        with unit_of_work(container.sessions) as session:
            finish_run(session.get_one(SyncRun, run_id), +result.counts, error or result.stopped)
            if spending is not None:
                write_spent(session, spending)
    if (note := unheld.note()) is not None:  # once a run, over every record it read
        log.warning("pull: %s", note)
    return result


@contextmanager
def _transaction(
    commits: CommitBehind, spending: Spending | None, committed: Counter[str]
) -> Iterator[tuple[Session, Counter[str]]]:
    """The next transaction of a pull, written with the API credits spent so far, and what it counts:
    added to `committed` once its commit is done (a run's counts are those of what is stored)."""
    with commits.counted(committed) as (session, counts):
        yield session, counts
        if spending is not None:
            write_spent(session, spending)


def _apply_deletions(
    container: Container,
    session: Session,
    mappings: MappingSet,
    binding_source: str,
    gone: Iterable[Deletion],
) -> Counter[str]:
    master = container.master(session, mappings.policy)
    counts: Counter[str] = Counter()
    for deletion in gone:
        applied = master.delete(binding_source, deletion.id, deletion.deleted_at)
        counts["deleted" if applied.outcome == "updated" else "deletion_unknown_or_repeated"] += 1
    return counts


def pull_ids(
    container: Container,
    source: ContactSource,
    mappings: MappingSet,
    backend: str,
    stream: str,
    ids: list[str],
) -> Counter[str]:
    """Fetch and apply the records with these ids now (a CRM notification named them); the cursor stays."""
    mapping = inbound_mapping(mappings, f"{backend}.{stream}")
    found: list[Changed] = source.by_ids(stream, mapping.source_fields(), ids)
    with unit_of_work(container.sessions) as session:
        run = start_run(session, "notification", mapping.source, mappings.digest)
        batch = [(record_ref(mapping.source, c.id), c.raw) for c in found]
        counts = apply_records(session, container, mappings, mapping, run, batch)
        counts["read"] = len(found)
        counts["not_found"] = len(set(ids) - {c.id for c in found})
        finish_run(run, +counts)
    return counts
