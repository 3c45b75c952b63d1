"""`connector quarantine …`: records that could not be processed — list, show, retry, resolve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from connector.cli.context import ROW_NUMBER, err, one_of, out, state
from connector.cli.customers import mappings_for_run
from connector.cli.output import dumps, iso_time
from connector.db import unit_of_work
from connector.sync import quarantine, quarantine_retry
from connector.sync.quarantine import Entry
from connector.sync.quarantine_retry import RetryOutcome
from connector.sync.runs import RUN_JOBS

quarantine_app = typer.Typer(
    help="Records that could not be processed: see why, retry them, or resolve them with a note.",
    no_args_is_help=True,
)
Source = Annotated[str | None, typer.Option(help="Only records of this source, e.g. zoho.Contacts.")]
Job = Annotated[str | None, typer.Option(help=f"Only records of runs of this job: {', '.join(RUN_JOBS)}.")]
Limit = Annotated[int, typer.Option(min=1, help="At most this many records.")]


def _row(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "source": entry.source,
        "ref": entry.ref,
        "attempts": entry.attempts,
        "status": entry.status,
        "created_at": iso_time(entry.created_at),
        "run": entry.run_id,
        "job": entry.job,
        "reason": entry.reason,
        "resolved_at": iso_time(entry.resolved_at),
        "resolved_by": entry.resolved_by,
        "resolution": entry.resolution,
    }


@quarantine_app.command("list")
def list_records(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "open",
    source: Source = None,
    job: Job = None,
    limit: Limit = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Quarantined records, oldest first, with why they failed (never their raw input: see `show`)."""
    one_of(job, RUN_JOBS, "--job")
    with unit_of_work(state(ctx).container().sessions) as session:
        entries = quarantine.list_records(session, status=status, source=source, job=job, limit=limit)
        total = quarantine.count_records(session, status=status, source=source, job=job)
    if as_json:  # the total says whether --limit left records out
        out.print(dumps({"total": total, "records": [_row(entry) for entry in entries]}))
        return
    for e in entries:
        created = f"{e.created_at:%Y-%m-%d %H:%M}"
        line = f"#{e.id:<5} {e.source:<22} {e.ref:<28} {e.attempts:>2}x  {created}  {e.reason}"
        if e.status == "resolved":
            line += f"  [resolved by {e.resolved_by}: {e.resolution}]"
        out.print(line)
    shown = f"{len(entries)} of {total}" if total > len(entries) else f"{total}"
    more = f" (the oldest {len(entries)} shown; --limit for more)" if total > len(entries) else ""
    out.print(f"{shown} record(s) {'in quarantine' if status == 'all' else status}{more}")


@quarantine_app.command("show")
def show(
    ctx: typer.Context,
    record: Annotated[int, typer.Argument(help="The record's number (quarantine list).", **ROW_NUMBER)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One record: its raw input (decrypted), the run that last tried it, attempts, reason, resolution."""
    container = state(ctx).container()
    with unit_of_work(container.sessions) as session:
        detail = quarantine.show_record(session, container.cipher, record)
    if as_json:
        out.print(dumps({**_row(detail.entry), "raw": detail.raw}))
        return
    e = detail.entry
    run = f"#{e.run_id} ({e.job})" if e.run_id is not None else "-"
    for label, value in (
        ("record", f"#{e.id} {e.source} {e.ref}"),
        ("status", e.status),
        ("run", run),
        ("attempts", str(e.attempts)),
        ("created", f"{e.created_at:%Y-%m-%d %H:%M}"),
        ("reason", e.reason),
    ):
        out.print(f"{label:>10}: {value}")
    if e.status == "resolved":
        out.print(f"{'resolved':>10}: {e.resolved_at:%Y-%m-%d %H:%M} by {e.resolved_by}")
        out.print(f"{'note':>10}: {e.resolution}")
    out.print("raw input:")
    out.print(dumps(detail.raw))


@quarantine_app.command("retry")
def retry(
    ctx: typer.Context,
    records: Annotated[
        list[int] | None, typer.Argument(help="Record numbers (quarantine list).", **ROW_NUMBER)
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every open record (narrowed by the filters).")
    ] = False,
    source: Source = None,
    job: Job = None,
    limit: Limit = 1000,
    files: Annotated[
        list[Path] | None,
        typer.Option("--file", exists=True, dir_okay=False, help="Where an imported file is now, if moved."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Do everything, then roll it back.")] = False,
    accept_changes: Annotated[
        bool,
        typer.Option(
            "--accept-changes",
            help="Repost documents that changed since their import (reversing the old), whatever the "
            "policy; post those held as maybe exported again (they are other documents).",
        ),
    ] = False,
) -> None:
    """Replay records: an imported file is imported again, a customer record mapped again; records that
    go through are resolved by "retry", those that fail again count another attempt."""
    one_of(job, RUN_JOBS, "--job")
    if bool(records) == every:
        err.print("error: give record numbers, or --all")
        raise typer.Exit(1)
    if records and (source or job):
        err.print("error: --source and --job go with --all")
        raise typer.Exit(1)
    container = state(ctx).container()
    ids = list(records or [])
    if every:
        with unit_of_work(container.sessions) as session:
            entries = quarantine.list_records(session, status="open", source=source, job=job, limit=limit)
        ids = [entry.id for entry in entries]
        if not ids:
            out.print("no open records to retry")
            return
        if len(ids) == limit:
            err.print(f"retrying the oldest {limit} open records; run again for the rest")
    outcomes = quarantine_retry.retry(
        container,
        ids,
        parsers=container.document_parsers,
        mappings=lambda: mappings_for_run(container),
        moved=files or (),
        dry_run=dry_run,
        accept_changes=accept_changes,
    )
    for outcome in outcomes:
        if outcome.status == "error":
            err.print(f"error: {outcome.subject}: {outcome.message}")
        else:
            out.print(describe(outcome))
    if any(outcome.status == "error" for outcome in outcomes):
        raise typer.Exit(1)


def describe(outcome: RetryOutcome) -> str:
    """`march.csv (imported file #3): 1 went through (resolved), 1 failed again (run 7) — …counts`."""
    if outcome.status == "not replayed":
        return f"{outcome.subject}: not retried: {outcome.message}"
    counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(outcome.counts.items()) if v)
    if outcome.status == "dry-run" and not outcome.resolved and not outcome.still_open:
        return f"{outcome.subject}: dry run: " + (counts or "nothing to do")
    if outcome.status == "dry-run":
        head = f"{len(outcome.resolved)} would go through, {len(outcome.still_open)} would fail again"
        return f"{outcome.subject}: dry run: {head}" + (f" — {counts}" if counts else "")
    head = (
        f"{len(outcome.resolved)} went through (resolved), {len(outcome.still_open)} failed again "
        f"(run {outcome.run_id})"
    )
    others = sorted(set(outcome.resolved + outcome.still_open) - set(outcome.ids))
    also = (
        f"; the file's other open records were tried too: {', '.join(f'#{i}' for i in others)}"
        if others
        else ""
    )
    return f"{outcome.subject}: {head}" + (f" — {counts}" if counts else "") + also


@quarantine_app.command("resolve")
def resolve(
    ctx: typer.Context,
    records: Annotated[list[int], typer.Argument(help="Record numbers (quarantine list).", **ROW_NUMBER)],
    note: Annotated[str, typer.Option("--note", help="Why the record needs nothing more.")],
    actor: Annotated[str, typer.Option(help="Who decided (kept with the decision).")] = "cli",
) -> None:
    """Close records by hand with a note: fixed at the source, a duplicate, not ours to import…"""
    with unit_of_work(state(ctx).container().sessions) as session:
        resolved = quarantine.resolve_records(session, records, note, actor)
    for entry in resolved:
        out.print(f"#{entry.id} {entry.source} {entry.ref}: resolved by {entry.resolved_by}")
