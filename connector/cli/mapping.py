"""`connector mapping check|preview`: validate mapping files; see what they make of real records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from connector.bootstrap import export_parsers
from connector.cli.context import err, out, report_problems, state
from connector.cli.output import DataTable, dumps, money_json
from connector.documents import Document, Notice, Problem
from connector.errors import ConfigError, ConnectorError
from connector.mapping.apply import MappedRecord, map_record, read_source
from connector.mapping.files import MappingSet, load_mapping_set
from connector.mapping.model import DocumentMapping, MappingFile, VoucherMapping
from connector.mapping.samples import SampleFile
from connector.mapping.unheld import UnheldPaths
from connector.mapping_checks import check_mappings
from connector.sync.push import priced

mapping_app = typer.Typer(help="Admin-editable mapping files.", no_args_is_help=True)


def _valid_set(ctx: typer.Context, folder: Path | None) -> tuple[Path, MappingSet]:
    directory = folder or state(ctx).settings().mappings.dir
    mappings, problems = load_mapping_set(directory)
    if mappings is None:
        report_problems(f"{len(problems)} mapping problem(s):", problems)
        raise typer.Exit(1)
    return directory, mappings


@mapping_app.command("check")
def check(
    ctx: typer.Context,
    folder: Annotated[Path | None, typer.Argument(help="Mappings folder (default: mappings.dir).")] = None,
) -> None:
    """Validate every mapping file, and the export sources against the documents the ledger imported
    under them (as runs do, and `check-config`); exit 1 listing each problem with file, line, key and a
    hint.

    Warnings (the set is valid): export mappings that recognise the same files, which imports refuse."""
    directory = folder or state(ctx).settings().mappings.dir
    checked = check_mappings(directory, _database_url(ctx, folder))
    if checked.mappings is None:
        report_problems(f"{len(checked.problems)} mapping problem(s):", checked.problems)
        raise typer.Exit(1)
    mappings = checked.mappings
    out.print(f"{len(mappings.texts)} mapping file(s) OK in {directory} (set {mappings.digest[:12]})")
    if checked.unchecked is not None:
        err.print(
            f"note: the export sources were not compared with the imported documents: {checked.unchecked}"
        )
    if checked.warnings:
        report_problems(f"{len(checked.warnings)} warning(s):", checked.warnings)


def _database_url(ctx: typer.Context, folder: Path | None) -> str | None:
    """The ledger the sources are compared with; none for a folder named without a configuration."""
    try:
        return state(ctx).settings().database.url.get_secret_value()
    except ConfigError:
        if folder is None:
            raise
        return None


def find_mapping(mappings: MappingSet, name: str) -> MappingFile:
    """A mapping by file name (`zoho_contacts`) or by the source it serves (`zoho.Contacts`)."""
    found = (
        mappings.files.get(name.removesuffix(".toml"))
        or mappings.for_source(name)
        or mappings.for_source(name, "outbound")
    )
    if found is None:
        known = ", ".join(f"{stem} ({file.source})" for stem, file in sorted(mappings.files.items()))
        raise ConnectorError(f"no mapping named {name!r}; known: {known}")
    return found


def find_export(mappings: MappingSet, name: str) -> DocumentMapping | VoucherMapping | None:
    """An export mapping by file name (`export_zoho_books_payments`) or format (`zoho_books.payments`)."""
    exports: dict[str, DocumentMapping | VoucherMapping] = {**mappings.documents, **mappings.vouchers}
    stem = name.removesuffix(".toml")
    return exports.get(stem) or next((m for m in exports.values() if m.source == name), None)


def _preview_export(
    mappings: MappingSet, export: DocumentMapping | VoucherMapping, sample: Path, limit: int, as_json: bool
) -> None:
    """The first `limit` documents and unreadable rows the export mapping makes of `sample`, counted over
    the whole file, and the notes of the file as a whole an import would give (columns read as empty)."""
    parser = next(p for p in export_parsers(mappings) if p.format == export.source)
    notes: list[str] = []

    def parsed() -> Iterator[Document | Problem]:
        for item in parser.parse(str(sample), sample.name):
            if isinstance(item, Notice):
                notes.append(item.text)
            elif isinstance(item, Document | Problem):
                yield item

    items: list[Document | Problem] = []
    total = failing = 0
    for item in parsed():  # every row counted, the first `limit` shown
        total += 1
        failing += isinstance(item, Problem)
        if len(items) < limit:
            items.append(item)
    if as_json:
        rows = [
            {"row": item.origin.row, "error": item.reason}
            if isinstance(item, Problem)
            else {"row": item.origin.row, "document": _document_json(item)}
            for item in items
        ]
        counts = {"total": total, "failing": failing}
        out.print(dumps({"mapping": export.source, "items": rows, **counts, "notes": notes}))
        return
    table = DataTable(
        *("row", "kind", "id", "date", "amount", "party", "number", "references / why not"),
        whole={"row", "kind", "id", "date", "amount", "number"},
        right={"row", "amount"},
        title=Text(f"{sample.name} through {export.source}"),
        title_justify="left",
    )
    for item in items:
        if isinstance(item, Problem):
            table.add_row(
                Text(_shown(item.origin.row)),
                Text("✗", style="red"),
                *[Text("")] * 5,
                Text(item.reason, style="red"),
            )
            continue
        party = item.party.name or item.party.account_no or item.party.external_id
        paid = [f"{a.invoice_number} {a.amount}" for a in item.allocations]
        table.add_row(
            *(
                Text(_shown(v))
                for v in (
                    item.origin.row,
                    item.kind,
                    item.external_id,
                    item.date,
                    item.amount,
                    party,
                    item.number,
                )
            ),
            Text("; ".join([*item.references, *paid])),
        )
    out.print(table)
    out.print(
        f"{total} item(s) of {sample.name}: {total - failing} document(s), {failing} unreadable"
        + _shown_of(len(items), total)
    )
    for note in notes:
        out.print(Text(f"note: {note}"))  # Text, not markup: it names the mapping's columns


def _document_json(document: Document) -> dict[str, Any]:
    return {
        "kind": document.kind,
        "external_id": document.external_id,
        "date": document.date.isoformat(),
        "amount": money_json(document.amount),
        "party": {
            "name": document.party.name,
            "account_no": document.party.account_no,
            "external_id": document.party.external_id,
            "bank_account": document.party.bank_account,
        },
        "number": document.number,
        "due_date": document.due_date.isoformat() if document.due_date else None,
        "references": list(document.references),
        "allocations": [
            {"invoice": a.invoice_number, "amount": money_json(a.amount)} for a in document.allocations
        ],
    }


def _shown_of(shown: int, total: int) -> str:
    """' (first 10 of 13 shown)' when the listing leaves items out."""
    return f" (first {shown} of {total} shown)" if shown < total else ""


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


@mapping_app.command("preview")
def preview(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="Mapping file name (zoho_contacts) or source (zoho.Contacts).")
    ],
    sample: Annotated[
        Path | None,
        typer.Option(help="Records to map: .json, .jsonl or .csv (an export mapping's also .xlsx)."),
    ] = None,
    live: Annotated[bool, typer.Option("--live", help="Fetch current records from the backend.")] = False,
    limit: Annotated[
        int, typer.Option(min=1, help="How many records to show (a sample file is counted whole).")
    ] = 10,
    folder: Annotated[Path | None, typer.Option(help="Mappings folder (default: mappings.dir).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Source values beside mapped values, and the records that would fail and why; for an export
    mapping (documents, vouchers), the documents its sample file gives and the rows it cannot read.
    Nothing is written."""
    if (sample is None) == (not live):
        raise typer.BadParameter("give exactly one of --sample FILE or --live")
    _, mappings = _valid_set(ctx, folder)
    export = find_export(mappings, source)
    if export is not None:
        if sample is None:
            raise typer.BadParameter("an export mapping previews a file: give --sample FILE")
        _preview_export(mappings, export, sample, limit, as_json)
        return
    mapping = find_mapping(mappings, source)
    if live and mapping.kind == "outbound":  # the CRM's records are what it writes, not what it reads
        raise typer.BadParameter(
            "an outbound mapping maps the connector's figures, not the CRM's records: give --sample FILE, "
            "e.g. the output of `connector customers figures ACCOUNT --json`"
        )
    notes: list[str] = []  # of the file as a whole: its encoding guessed, paths no record holds
    if sample is not None:
        read = SampleFile.read(sample, mapping.encoding)
        notes += read.notes
        records: Iterable[tuple[str, Any]] = read.records()
    else:
        backend, _, stream = mapping.source.partition(".")
        records = state(ctx).container().record_source(backend).sample(stream, limit, mapping.source_fields())
    results: list[tuple[str, Any, MappedRecord]] = []
    total = failing = 0
    unheld = UnheldPaths(mapping)
    if mapping.kind == "inbound":  # an outbound map's sources are figures, checked when it is loaded
        records = unheld.watching(records)
    for ref, raw in records:  # every record counted, the first `limit` shown
        mapped = map_record(mapping, _as_pushed(mapping, raw))
        total += 1
        failing += not mapped.ok
        if len(results) < limit:
            results.append((ref, raw, mapped))
    if as_json:
        payload = [
            {
                "record": ref,
                "fields": [
                    {
                        "target": field.target,
                        "source": field.source,
                        "value": read_source(raw, field.source),
                        "mapped": mapped.values.get(field.target),
                        "error": mapped.errors.get(field.target),
                    }
                    for field in mapping.fields
                ],
            }
            for ref, raw, mapped in results
        ]
        counts = {"total": total, "failing": failing}
        notes += [note] if (note := unheld.note()) else []
        out.print(dumps({"mapping": mapping.source, "records": payload, **counts, "notes": notes}))
    else:
        for ref, raw, mapped in results:
            title = Text(ref) + (Text("") if mapped.ok else Text("  would fail", style="red"))
            table = DataTable(
                *("target", "source", "source value", "mapped"),
                whole={"target", "source"},
                title=title,
                title_justify="left",
            )
            for field in mapping.fields:  # Text, not markup: values are the source's own text
                error = mapped.errors.get(field.target)
                result = (
                    Text(f"✗ {error}", style="red")
                    if error
                    else Text(_shown(mapped.values.get(field.target)))
                )
                value = read_source(raw, field.source)
                table.add_row(Text(field.target), Text(_shown(field.source)), Text(_shown(value)), result)
            out.print(table)
        out.print(
            f"{total} record(s) through {mapping.source}: {total - failing} map cleanly, {failing} would fail"
            + _shown_of(len(results), total)
        )
        notes += [note] if (note := unheld.note()) else []
        for note in notes:
            out.print(Text(f"note: {note}"))  # Text, not markup: it names the mapping's paths


def _as_pushed(mapping: MappingFile, raw: Any) -> Any:
    """What a push gives an outbound map: the figures' amounts in their currency (`push.priced`)."""
    return priced(raw) if mapping.kind == "outbound" and isinstance(raw, Mapping) else raw
