"""Customers from a source: map each record, quarantine the ones that fail, apply the rest to the master.

One run per call, recorded with the mapping set it used; the records are applied in batches, each in
its own transaction, so a failure loses at most the batch being written (and the run says so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import ConnectorError
from connector.mapping.apply import map_record
from connector.mapping.files import MappingSet
from connector.sync.models import SyncRun
from connector.sync.runs import finish_run, quarantine, start_run

BATCH = 500


def backend_of(source: str) -> str:
    """The binding backend of a mapping's source: `zoho.Contacts` → `zoho`."""
    return source.split(".", 1)[0]


def sync_customers(
    container: Container,
    mappings: MappingSet,
    mapping_name: str,
    records: Iterable[tuple[str, Any]],
    job: str,
) -> Counter[str]:
    mapping = mappings.files.get(mapping_name)
    if mapping is None or mapping.kind != "inbound":
        inbound = ", ".join(sorted(name for name, file in mappings.files.items() if file.kind == "inbound"))
        raise ConnectorError(f"no inbound mapping named {mapping_name!r} (inbound mappings: {inbound})")
    backend = backend_of(mapping.source)
    counts: Counter[str] = Counter()
    with unit_of_work(container.sessions) as session:
        run_id = start_run(session, job, mapping.source, mappings.digest).id
    batch: list[tuple[str, Any]] = []
    error: str | None = None
    try:
        for item in records:
            batch.append(item)
            if len(batch) >= BATCH:
                counts += _apply_batch(container, mappings, mapping_name, backend, run_id, batch)
                batch = []
        if batch:
            counts += _apply_batch(container, mappings, mapping_name, backend, run_id, batch)
    except ConnectorError as exc:
        error = str(exc)
        raise
    finally:
        with unit_of_work(container.sessions) as session:
            finish_run(session.get_one(SyncRun, run_id), counts, error)
    return counts


def _apply_batch(
    container: Container,
    mappings: MappingSet,
    mapping_name: str,
    backend: str,
    run_id: int,
    batch: list[tuple[str, Any]],
) -> Counter[str]:
    mapping = mappings.files[mapping_name]
    counts: Counter[str] = Counter()
    with unit_of_work(container.sessions) as session:
        run = session.get_one(SyncRun, run_id)
        master = container.master(session, mappings.policy)
        good: list[tuple[str, Any, dict[str, Any]]] = []
        for ref, raw in batch:
            mapped = map_record(mapping, raw)
            if mapped.ok:
                good.append((ref, raw, mapped.values))
            else:
                reasons = "; ".join(f"{target}: {why}" for target, why in mapped.errors.items())
                quarantine(session, container.cipher, run, mapping.source, ref, raw, reasons)
                counts["quarantined"] += 1
        results = master.apply_many(backend, [values for _, _, values in good], mappings.digest)
        for (ref, raw, _), applied in zip(good, results, strict=True):
            if applied.outcome == "failed":
                quarantine(session, container.cipher, run, mapping.source, ref, raw, applied.reason)
                counts["quarantined"] += 1
            else:
                counts[applied.outcome] += 1
    return counts
