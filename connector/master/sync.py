"""Customers from a source: map each record, quarantine the ones that fail, apply the rest to the master.

A source's records are bound under the mapping's source name (`zoho.Contacts`, `webhook.customers`), so
a binding says which stream of which backend its record lives in — the push writes back to it there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session

from connector import retry
from connector.batching import CommitBehind
from connector.bootstrap import Container
from connector.db import serialize, unit_of_work
from connector.errors import ConnectorError, StoppingError
from connector.mapping.apply import map_record, reader
from connector.mapping.files import MappingSet
from connector.mapping.model import MappingFile
from connector.master.identity import IDENTITY_LOCK
from connector.sync.models import SyncRun
from connector.sync.quarantine import resolve_applied
from connector.sync.runs import failure_of, finish_run, quarantine, record_counts, start_run

BATCH = 500
STOPPED = "stopped_by_shutdown"  # a count of 1: the sync was told to stop before its last batch (as a pull's)


def inbound_mapping(mappings: MappingSet, name_or_source: str) -> MappingFile:
    """The inbound mapping named `name_or_source` (file name) or reading that source (`zoho.Contacts`)."""
    mapping = mappings.files.get(name_or_source) or mappings.for_source(name_or_source, "inbound")
    if mapping is None or mapping.kind != "inbound":
        inbound = ", ".join(sorted(name for name, file in mappings.files.items() if file.kind == "inbound"))
        raise ConnectorError(f"no inbound mapping for {name_or_source!r} (inbound mappings: {inbound})")
    return mapping


def sync_customers(
    container: Container,
    mappings: MappingSet,
    mapping_name: str,
    records: Iterable[tuple[str, Any]],
    job: str,
) -> Counter[str]:
    """Apply records from a file or a one-off feed, in batches of their own transactions, as one run.
    Told to stop (`retry.STOPPING`), it stops between two batches: those applied stay, the run records
    why it stopped, and the counts say `STOPPED`."""
    mapping = inbound_mapping(mappings, mapping_name)
    counts: Counter[str] = Counter()
    with unit_of_work(container.sessions) as session:
        run_id = start_run(session, job, mapping.source, mappings.digest).id
    error: str | None = None
    try:
        with CommitBehind(container.sessions) as commits:
            for batch in _chunks(records, BATCH):
                retry.stop_point(f"{job} of {mapping.source}")
                mapped = map_batch(mapping, batch)  # while the batch before commits
                with commits.counted(counts) as (session, batch_counts):
                    run = session.get_one(SyncRun, run_id)
                    batch_counts += apply_mapped(session, container, mappings, mapping, run, mapped)
                    record_counts(run, counts + batch_counts)  # a sync killed part-way: what it committed
    except StoppingError as exc:
        error = str(exc)
        counts[STOPPED] += 1
    except BaseException as exc:  # a crash or Ctrl-C too: the run did not go through
        error = failure_of(exc)
        raise
    finally:
        with unit_of_work(container.sessions) as session:
            finish_run(session.get_one(SyncRun, run_id), counts, error)
    return counts


def _chunks(items: Iterable[tuple[str, Any]], size: int) -> Iterator[list[tuple[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass(frozen=True)
class MappedBatch:
    """A batch of (reference, raw record) pairs through the inbound mapping: the records it mapped with
    their values, and those it refused with the reasons."""

    mapped: list[tuple[str, Any, dict[str, Any]]]
    refused: list[tuple[str, Any, str]]


def map_batch(mapping: MappingFile, batch: list[tuple[str, Any]]) -> MappedBatch:
    """Map each record (pure: a caller may map the next batch while the last one commits)."""
    mapped: list[tuple[str, Any, dict[str, Any]]] = []
    refused: list[tuple[str, Any, str]] = []
    for ref, raw in batch:
        result = map_record(mapping, raw)
        if result.ok:
            mapped.append((ref, raw, result.values))
        else:
            refused.append((ref, raw, "; ".join(f"{target}: {why}" for target, why in result.errors.items())))
    return MappedBatch(mapped, refused)


def apply_records(
    session: Session,
    container: Container,
    mappings: MappingSet,
    mapping: MappingFile,
    run: SyncRun,
    batch: list[tuple[str, Any]],
) -> Counter[str]:
    """Map and apply (reference, raw record) pairs in the caller's transaction; failures are quarantined."""
    return apply_mapped(session, container, mappings, mapping, run, map_batch(mapping, batch))


def apply_mapped(
    session: Session,
    container: Container,
    mappings: MappingSet,
    mapping: MappingFile,
    run: SyncRun,
    batch: MappedBatch,
) -> Counter[str]:
    """Apply a mapped batch in the caller's transaction: the refused records and those the master
    refuses are quarantined."""
    counts: Counter[str] = Counter()
    same = _same_record(mapping)
    for ref, raw, reasons in batch.refused:
        quarantine(session, container.cipher, run, mapping.source, ref, raw, reasons, same(raw))
        counts["quarantined"] += 1
    serialize(session, IDENTITY_LOCK)  # another intake's records are matched against, never beside, these
    master = container.master(session, mappings.policy)
    results = master.apply_many(mapping.source, [values for _, _, values in batch.mapped], mappings.digest)
    went_through: list[str] = []
    for (ref, raw, values), applied in zip(batch.mapped, results, strict=True):
        if applied.outcome == "failed":
            quarantine(session, container.cipher, run, mapping.source, ref, raw, applied.reason, same(raw))
            counts["quarantined"] += 1
        else:
            counts[applied.outcome] += 1
            if ref == record_ref(mapping.source, values.get("external_id")):  # an API record, not a file row
                went_through.append(ref)
    counts["quarantine_resolved"] += resolve_applied(session, mapping.source, went_through, run)
    return counts


def _same_record(mapping: MappingFile) -> Callable[[Any], Callable[[Any], bool]]:
    """For a failed record's raw input, whether a record held under its reference is that record: the
    same input again, or the same source id (as the mapping reads it) in a corrected copy. A file row's
    reference is its place (`contacts.csv row 3`): next month's file of that name holds other records
    there, each kept beside the others."""
    id_field = next((field for field in mapping.fields if field.target == "external_id"), None)
    read_id = reader(id_field.source if id_field is not None else None)

    def same(raw: Any) -> Callable[[Any], bool]:
        own = read_id(raw)
        return lambda held: held == raw or (own not in (None, "") and read_id(held) == own)

    return same


def record_ref(source: str, external_id: Any) -> str:
    """How a record fetched from a CRM's API is referred to in quarantine: by its source and id."""
    return f"{source} {external_id}"
