"""`connector import …` and `connector reconcile …`: documents in, receipts that wait for a person."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from connector.cli.context import err, out, state
from connector.cli.output import dumps
from connector.db import unit_of_work
from connector.errors import ConnectorError
from connector.imports import reconcile
from connector.imports.pipeline import FileResult, import_file
from connector.imports.rules import Accounts

reconcile_app = typer.Typer(
    help="Receipts whose payer is not sure: list them, apply them to a customer, or reject them.",
    no_args_is_help=True,
)


def import_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="Export or statement files.")
    ],
    format: Annotated[str, typer.Option("--format", help="A format name, or auto to recognise it.")] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Do everything, then roll it back.")] = False,
) -> None:
    """Import invoices, payments and bank statements: each document once, matched to its customer."""
    container = state(ctx).container()
    parsers = container.document_parsers()
    failed = False
    for path in paths:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task(path.name, total=None)
            result = import_file(
                container,
                path,
                parsers,
                format=format,
                dry_run=dry_run,
                progress=lambda n, task=task: progress.advance(task, n),  # type: ignore[misc]
            )
        out.print(describe(result), markup=False)
        failed = failed or result.status == "failed"
    if failed:
        raise typer.Exit(1)


def describe(result: FileResult) -> str:
    """`march.csv: imported (camt053): 12 documents — 10 receipts posted, 2 quarantined`."""
    head = f"{result.name}: {result.status}" + (f" ({result.format})" if result.format else "")
    if result.reason:
        head += f": {result.reason}"
    counts = {k: v for k, v in sorted(result.counts.items()) if v and k != "documents"}
    if not result.counts and not counts:
        return head
    detail = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())
    return f"{head}: {result.counts['documents']:,} documents" + (f" — {detail}" if detail else "")


@reconcile_app.command("list")
def list_queue(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, applied or rejected.")] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Receipts in unapplied receipts with their ranked candidates (tier, score, why)."""
    with unit_of_work(state(ctx).container().sessions) as session:
        items = reconcile.queue(session, status)
    if as_json:
        rows = [
            {
                "id": i.id,
                "document": f"{i.source} {i.external_id}",
                "amount": str(i.amount),
                "date": i.document_date.isoformat(),
                "status": i.status,
                "candidates": i.candidates,
                "why": i.why,
            }
            for i in items
        ]
        out.print(dumps(rows), markup=False)
        return
    for i in items:
        out.print(
            f"#{i.id} {i.source} {i.external_id} {i.amount} on {i.document_date}: {i.why}", markup=False
        )
        for c in i.candidates:
            out.print(
                f"    {c['account_no']}  tier {c['tier']}  score {c['score']}  {c['why']}", markup=False
            )
    out.print(f"{len(items)} item(s) {status}", markup=False)


@reconcile_app.command("apply")
def apply_item(
    ctx: typer.Context,
    item: Annotated[int, typer.Argument(help="The item's number (reconcile list).")],
    customer: Annotated[
        str | None, typer.Option("--customer", help="Account number; default: the best candidate.")
    ] = None,
    actor: Annotated[str, typer.Option(help="Who decided (kept with the decision).")] = "cli",
) -> None:
    """Apply a waiting receipt to a customer: its open receivable first, the rest as its credit."""
    container = state(ctx).container()
    accounts = Accounts.of(container.settings.ledger.chart)
    try:
        with unit_of_work(container.sessions) as session:
            account_no = reconcile.apply(session, item, customer, accounts, actor, datetime.now(UTC).date())
    except ConnectorError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"item #{item}: applied to {account_no}", markup=False)


@reconcile_app.command("reject")
def reject_item(
    ctx: typer.Context,
    item: Annotated[int, typer.Argument(help="The item's number (reconcile list).")],
    note: Annotated[str, typer.Option("--note", help="Why it is no customer's receipt.")],
    actor: Annotated[str, typer.Option(help="Who decided.")] = "cli",
) -> None:
    """Record that a waiting receipt is no customer's (a refund, interest, a transfer)."""
    try:
        with unit_of_work(state(ctx).container().sessions) as session:
            reconcile.reject(session, item, note, actor)
    except ConnectorError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"item #{item}: rejected", markup=False)
