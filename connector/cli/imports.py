"""`connector import …` and `connector reconcile …`: documents in, receipts that wait for a person."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from connector.cli.context import (
    ROW_NUMBER,
    decision_day,
    err,
    one_of,
    out,
    state,
    stopping,
    stopping_on_signals,
)
from connector.cli.output import counts_text, dumps, iso_time, money_json
from connector.cli.statement_report import reconciliation_json, reconciliation_text
from connector.db import unit_of_work
from connector.errors import ConnectorError, FileFormatError, StoppedWaitingError, StoppingError
from connector.imports import learning, reconcile
from connector.imports.models import ITEM_STATUSES
from connector.imports.pipeline import FileResult, choose_parser, import_file
from connector.imports.rules import Accounts
from connector.imports.statement_reconcile import reconcile_file
from connector.sync import quarantine
from connector.sync.quarantine import Entry

reconcile_app = typer.Typer(
    help="Receipts whose payer is not sure (list, apply, reject) and bank statements against the ledger.",
    no_args_is_help=True,
)


def import_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="Export or statement files.")
    ],
    format: Annotated[str, typer.Option("--format", help="A format name, or auto to recognise it.")] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Do everything, then roll it back.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list of the files' results.")] = False,
) -> None:
    """Import invoices, payments and bank statements: each document once, matched to its customer."""
    container = state(ctx).container()
    parsers = container.document_parsers()
    results: list[FileResult] = []
    would_quarantine: dict[str, list[Entry]] = {}  # a dry run's, by file
    stopped = False
    with stopping_on_signals():  # a Ctrl-C or SIGTERM: the file stops between two batches, kept so far
        for path in paths:
            if stopping(path.name):
                stopped = True
                break
            entries = would_quarantine.setdefault(path.name, [])

            def seen(session: Session, run_id: int, entries: list[Entry] = entries) -> None:
                entries.extend(quarantine.of_run(session, run_id))

            try:
                with rows_progress(path.name) as progress:
                    result = import_file(
                        container,
                        path,
                        parsers,
                        format=format,
                        dry_run=dry_run,
                        progress=progress,
                        before_rollback=seen if dry_run else None,
                    )
            except StoppedWaitingError as exc:  # waiting for another process's import: not begun
                err.print(f"{path.name}: stopped early — nothing of it was imported: {exc}")
                stopped = True
                break
            except StoppingError:
                kept = "a dry run: nothing kept" if dry_run else "its batches imported so far stay"
                err.print(f"{path.name}: stopped early — {kept}; import it again to go on")
                stopped = True
                break
            results.append(result)
            if not as_json:
                out.print(describe(result) + would_quarantine_text(entries))
    if as_json:
        listed = [
            result_json(result) | ({"would_quarantine": [_would(e) for e in entries]} if dry_run else {})
            for result, entries in ((r, would_quarantine.get(r.name, [])) for r in results)
        ]
        out.print(dumps(listed))
    if stopped:
        raise typer.Exit(3)
    if any(result.status == "failed" for result in results):
        raise typer.Exit(1)


@contextmanager
def rows_progress(name: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal's stderr counting the rows read of file `name`; told each batch."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task(name, total=None)
        yield lambda rows: progress.advance(task, rows)


def describe(result: FileResult) -> str:
    """`march.csv: imported (camt053): 12 documents — 10 receipts posted, 2 quarantined`."""
    head = f"{result.name}: {result.status}" + (f" ({result.format})" if result.format else "")
    if result.reason:
        head += f": {result.reason}"
    notes = "".join(f"\n  note: {note}" for note in result.notes)
    if not result.counts:
        return head + notes
    described = f"{head}: {counts_text(result.counts)}"
    if result.quarantined_before:
        described += (
            f"\n  {result.quarantined_before:,} record(s) of earlier imports of {result.name} still in "
            "quarantine: `connector quarantine list`; resolve those this file corrects"
        )
    return described + notes


SHOWN_QUARANTINED = 20  # a dry run's text lists this many of the rows it would quarantine (--json all)


def would_quarantine_text(entries: list[Entry]) -> str:
    """The rows a dry run would quarantine, as `quarantine list` names them (place and reason, never the
    raw row): the first SHOWN_QUARANTINED, and how many more."""
    lines = [f"\n  would quarantine {e.ref}: {e.reason}" for e in entries[:SHOWN_QUARANTINED]]
    if len(entries) > SHOWN_QUARANTINED:
        lines.append(f"\n  … and {len(entries) - SHOWN_QUARANTINED} more (--json lists them all)")
    return "".join(lines)


def _would(entry: Entry) -> dict[str, str]:
    return {"ref": entry.ref, "reason": entry.reason}


# Every counter an import can produce: each file's `--json` counts have them all, zeros included, so
# that a script reads `counts["quarantined"]` of any file (a skipped or failed one too).
IMPORT_COUNTS = (
    "documents",
    "invoices_posted",
    "credit_notes_posted",
    "payments_posted",
    "refunds_posted",
    "receipts_posted",
    "receipts_unapplied",
    "receipts_linked",
    "receipts_unlinked",
    "receipts_reapplied",
    "receipts_rejected_again",
    "statements",
    "quarantined",
    "unchanged",
    "superseded",
    "reversed",
    "withdrawn_before_import",
    "kept_reversed",
    "corrections_kept",
    "ignored_zero_amount",
    "ignored_outgoing",
    "reversed_now_zero",
    "kept_notes_reversed",
    "reposted",
    "restored",
    "missing_from_this_export",
    "not_retried",
)


def result_json(result: FileResult) -> dict[str, object]:
    """A file's result for `--json`: its name, format, status (imported, skipped, failed, dry-run),
    reason, counts (every one of IMPORT_COUNTS, zeros included) and notes of the file as a whole."""
    return {
        "file": result.name,
        "format": result.format,
        "status": result.status,
        "reason": result.reason or None,
        "counts": dict(sorted((dict.fromkeys(IMPORT_COUNTS, 0) | dict(result.counts)).items())),
        "quarantined_before": result.quarantined_before,
        "notes": result.notes,
    }


@reconcile_app.command("list")
def list_queue(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, applied, rejected or superseded.")] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Receipts in unapplied receipts: who paid them (name, bank account, references, as the file said),
    their file and row, and their ranked candidates (tier, score, why); decided ones with the decision's
    note."""
    one_of(status, ITEM_STATUSES)
    container = state(ctx).container()
    with unit_of_work(container.sessions) as session:
        items = reconcile.queue(session, container.cipher, status)
    if as_json:
        rows = [
            {
                "id": i.id,
                "document": f"{i.source} {i.external_id}",
                "amount": money_json(i.amount),
                "date": i.document_date.isoformat(),
                "status": i.status,
                "payer": i.payer.as_json(),
                "file": i.file,
                "row": i.row,
                "candidates": i.candidates,
                "why": i.why,
                "customer": i.customer,
                "entry_id": i.entry_id,
                "resolved_by": i.resolved_by,
                "resolved_at": iso_time(i.resolved_at),
                "note": i.note,
            }
            for i in items
        ]
        out.print(dumps(rows))
        return
    for i in items:
        out.print(f"#{i.id} {i.source} {i.external_id} {i.amount} on {i.document_date}: {i.why}")
        where = f" ({i.file}{f' row {i.row}' if i.row is not None else ''})" if i.file else ""
        out.print(f"    {i.payer.describe()}{where}")
        for c in i.candidates:
            out.print(f"    {c['account_no']}  tier {c['tier']}  score {c['score']}  {c['why']}")
    out.print(f"{len(items)} item(s) {status}")


@reconcile_app.command("apply")
def apply_item(
    ctx: typer.Context,
    item: Annotated[int, typer.Argument(help="The item's number (reconcile list).", **ROW_NUMBER)],
    customer: Annotated[
        str | None, typer.Option("--customer", help="Account number; default: the best candidate.")
    ] = None,
    on: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="The application's date (default today; never before the receipt's), e.g. the last day "
            "of the month being closed.",
        ),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who decided (kept with the decision).")] = "cli",
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Apply it without remembering the payer's bank account for the customer."
        ),
    ] = False,
) -> None:
    """Apply a waiting receipt to a customer: its open receivable first, the rest as its credit.

    The payer's bank account becomes known for the customer (unless --once), so its next receipts find
    the customer by themselves (matching tier 2); `customers show` lists it with this decision."""
    day = decision_day(ctx, on)
    container = state(ctx).container()
    accounts = Accounts.of(container.settings.ledger.chart)
    try:
        with unit_of_work(container.sessions) as session:
            account_no = reconcile.apply(session, item, customer, accounts, actor, day)
            applied = reconcile.application(session, item)
            lesson = None if once else learning.learn_payer_account(session, container.cipher, item, actor)
    except ConnectorError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    dated = applied.dated
    moved = f" (not {day}: never before the receipt)" if dated != day else ""
    out.print(f"item #{item}: applied to {account_no}" + (f", dated {dated}{moved}" if on else ""))
    received, theirs = applied.received, applied.theirs
    if received != theirs:
        out.print(
            f"note: the receipt is in {received} and {account_no}'s figures in {theirs}: this credit is in "
            f"its {received} balance (ledger balance), not in the {theirs} figures pushed to the CRM"
        )
    if lesson is not None:
        said = lesson_text(lesson, account_no, container.settings.imports.matching.auto_post_tiers)
        if said:
            out.print(said)


def lesson_text(lesson: learning.Lesson, account_no: str, auto_post_tiers: int) -> str | None:
    """What applying a receipt taught, in a line (the account as `reconcile list` shows it); None when
    the payer named no account."""
    if lesson.outcome == learning.NO_ACCOUNT:
        return None
    payer = f"payer account {lesson.account}"
    if lesson.outcome == learning.SHARED:
        return (
            f"{payer} is known for {', '.join(lesson.others)} too: not learned for {account_no} (an account "
            "paying for several customers names none of them); its receipts wait for a person"
        )
    then = (
        "its next receipts post by themselves"
        if auto_post_tiers >= 2
        else f"its next receipts name it as their candidate (auto_post_tiers = {auto_post_tiers})"
    )
    if lesson.outcome == learning.KNOWN:
        return f"{payer} was known as {account_no}'s already: {then}"
    return f"{payer} now known as {account_no}'s: {then}"


@reconcile_app.command("reject")
def reject_item(
    ctx: typer.Context,
    item: Annotated[int, typer.Argument(help="The item's number (reconcile list).", **ROW_NUMBER)],
    note: Annotated[str, typer.Option("--note", help="Why it is no customer's receipt.")],
    actor: Annotated[str, typer.Option(help="Who decided.")] = "cli",
) -> None:
    """Record that a waiting receipt is no customer's (a refund, interest, a transfer)."""
    try:
        with unit_of_work(state(ctx).container().sessions) as session:
            reconcile.reject(session, item, note, actor)
    except ConnectorError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    out.print(f"item #{item}: rejected")


# --- reconcile statement: the periodic bank reconciliation (对账) ------------------------------------


@reconcile_app.command("statement")
def statement_command(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, metavar="FILE", help="A bank statement file.")
    ],
    format: Annotated[str, typer.Option("--format", help="A format name, or auto to recognise it.")] = "auto",
    window_days: Annotated[
        int,
        typer.Option(
            "--window-days", min=0, help="How far apart a line and a ledger entry of the same amount may be."
        ),
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Compare a bank statement with its bank account in the ledger over its period (对账).

    Per statement in FILE: matched lines, lines missing from the ledger, entries missing from the bank.

    The balances: the statement's movement against the ledger's, the difference explained by those lists.

    Exit status: 0 when every statement reconciles, 1 when one does not, 2 when FILE is no statement.
    """
    container = state(ctx).container()
    accounts = Accounts.of(container.settings.ledger.chart)
    try:
        parser = choose_parser(path, container.document_parsers(), format)
        with unit_of_work(container.sessions) as session:
            result = reconcile_file(session, path, parser, accounts, window_days, lambda: container.cipher)
    except FileFormatError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    if as_json:
        out.print(dumps(reconciliation_json(result)))
    else:
        for text in reconciliation_text(result):
            out.print(text)
    if not result.reconciles:
        raise typer.Exit(1)
