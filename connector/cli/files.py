"""`connector files list|show`: the imported files (name, content hash, when, by which run, what came
of their documents) and, for one, its documents and the entries it posted."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from connector.cli.context import ROW_NUMBER, out, state
from connector.cli.output import counts_text, dumps, iso_time, money_json, money_text
from connector.db import unit_of_work
from connector.imports.files import FileDocument, FileEntry, FileRecord, file_detail, list_files

files_app = typer.Typer(
    help="Imported files: each by its content hash, with its run and documents, and the entries it posted.",
    no_args_is_help=True,
)
HASH_SHOWN = 12  # characters of the content hash a listing shows (`files show` gives it whole)


def _file_json(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "sha256": record.sha256,
        "format": record.format,
        "status": record.status,
        "started_at": iso_time(record.started_at),
        "imported_at": iso_time(record.finished_at),
        "run": record.run_id,
        "documents": record.counts.get("documents", 0),
        "counts": record.counts,
        "error": record.error,
        "stored_path": record.stored_path,
    }


@files_app.command("list")
def list_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The imported files, newest first: id, name, content hash, when, status, documents and run."""
    with unit_of_work(state(ctx).container().sessions) as session:
        files, total = list_files(session, limit)
    if as_json:  # the total says whether --limit left files out
        out.print(dumps({"total": total, "files": [_file_json(record) for record in files]}))
        return
    for record in files:
        moment = record.finished_at or record.started_at
        run = f", run #{record.run_id}" if record.run_id is not None else ""
        out.print(
            f"#{record.id:<5} {record.name}  sha256 {record.sha256[:HASH_SHOWN]}  "
            f"{moment:%Y-%m-%d %H:%M}  {record.status} ({record.format}{run})"
        )
        out.print(f"       {counts_text(record.counts)}")
    more = f" (the newest {len(files)} shown; --limit for more)" if total > len(files) else ""
    out.print(f"{len(files)} of {total} imported file(s){more}" if more else f"{total} imported file(s)")


def _document_json(document: FileDocument) -> dict[str, Any]:
    return {
        "id": document.id,
        "row": document.row,
        "kind": document.kind,
        "source": document.source,
        "external_id": document.external_id,
        "number": document.number,
        "revision": document.revision,
        "outcome": document.status,
        "entry_id": document.entry_id,
        "customer": document.customer,
        "amount": money_json(document.amount),
        "document_date": document.document_date.isoformat(),
    }


def _entry_json(entry: FileEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "posting_date": entry.posting_date.isoformat(),
        "source": entry.source,
        "external_id": entry.external_id,
        "revision": entry.revision,
        "document_type": entry.document_type,
        "reverses": entry.reverses_id,
        "row": entry.row,
    }


@files_app.command("show")
def show(
    ctx: typer.Context,
    file: Annotated[int, typer.Argument(help="The file's number (files list).", **ROW_NUMBER)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One imported file: its whole content hash, run and counts, the documents last imported from it
    with what became of each and its entry, and every entry it posted (reversals and revisions too)."""
    with unit_of_work(state(ctx).container().sessions) as session:
        record, documents, entries = file_detail(session, file)
    if as_json:
        payload = _file_json(record) | {
            "documents_last_imported": [_document_json(d) for d in documents],
            "entries": [_entry_json(e) for e in entries],
        }
        out.print(dumps(payload))
        return
    run = f"run #{record.run_id}" if record.run_id is not None else "no run"
    out.print(f"file #{record.id} {record.name} ({record.format}): {record.status}, {run}")
    out.print(f"  sha256 {record.sha256}")
    imported = f", imported {record.finished_at:%Y-%m-%d %H:%M:%S}" if record.finished_at else ""
    out.print(f"  started {record.started_at:%Y-%m-%d %H:%M:%S}{imported}")
    if record.stored_path:
        out.print(f"  kept at {record.stored_path}")
    if record.error:
        out.print(f"  error: {record.error}")
    out.print(f"  {counts_text(record.counts)}")
    out.print(
        f"documents last imported from it ({len(documents)}; one imported again from a later file is "
        "listed under that file):"
    )
    for d in documents:
        row = f"row {d.row}" if d.row is not None else "—"
        entry = f"entry {d.entry_id}" if d.entry_id is not None else "no entry"
        whose = f" {d.customer}" if d.customer else ""
        out.print(
            f"  {row:<9} {d.kind} {d.source} {d.external_id} (revision {d.revision}){whose} "
            f"{money_text(d.amount)}: {d.status}, {entry}"
        )
    out.print(f"entries it posted ({len(entries)}):")
    for e in entries:
        what = f"reverses {e.reverses_id}" if e.reverses_id is not None else f"revision {e.revision}"
        row = f", row {e.row}" if e.row is not None else ""
        out.print(
            f"  entry {e.id} {e.posting_date} {e.document_type} {e.source} {e.external_id} ({what}{row})"
        )
