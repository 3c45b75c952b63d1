"""`connector status`: what ops look at, read from the database (the daemon's `/status` shows the same,
with its jobs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.text import Text

from connector.cli.context import out, state
from connector.cli.output import DataTable, dumps
from connector.imports.inbox import PROCESSING
from connector.sync.status import Snapshot, container_snapshot


def status_command(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The latest run of each job and source and its last success, what waits for a person
    (quarantine, reconciliation queue, notifications), the outbox, notification channels and API
    credits."""
    taken = container_snapshot(state(ctx).container())
    if as_json:
        out.print(dumps(taken.as_json()))
        return
    show(taken)


def show(taken: Snapshot) -> None:
    # Never cut: at 80 columns (cron mail, a pipe) a cell folds onto more lines rather than lose its end.
    runs = DataTable(
        "job",
        "source",
        "status",
        "finished",
        "last success",
        "error",
        whole=("job", "source", "status", "finished", "last success"),
        title="latest runs",
    )
    for run in taken.runs:
        runs.add_row(  # as plain text: a file's name or an error may hold [brackets]
            Text(run.job),
            Text(run.source),
            run.status,
            "unknown" if run.end_unknown else _when(run.finished_at) or f"started {_when(run.started_at)}",
            _when(run.last_success_at) or "never",
            Text(run.error or ""),
        )
    out.print(runs)
    for source, count in taken.quarantine_open.items():
        out.print(f"quarantine {source}: {count:,} open")
    out.print(f"reconciliation queue: {taken.reconciliation.get('open', 0):,} open")
    out.print(f"notifications not yet processed: {taken.notifications_pending:,}")
    for name in taken.failed_files:
        out.print(f"unreadable file waiting in failed/: {name}")
    if taken.inbox_waiting:
        out.print(f"files in the inbox not taken yet: {taken.inbox_waiting:,}")
    if taken.recordless_holding_money:
        out.print(
            f"customers holding money whose records were all deleted at their source: "
            f"{taken.recordless_holding_money:,} (merged away in the CRM? each one's history says how to "
            "merge it here: `connector customers list --status inactive`)"
        )
    for name in taken.processing_files:
        out.print(f"file taken from the inbox, not imported to the end yet: {PROCESSING}/{name}")
    for name in taken.symbolic_links:
        out.print(f"symbolic link in the inbox, not followed (move the file itself in): {name}")
    for (target, status), count in taken.outbox.items():
        out.print(f"outbox {target} {status}: {count:,}")
    for channel in taken.channels:
        expires = _when(channel.expires_at)
        out.print(f"channel {channel.backend} {channel.module}: expires {expires}")
    for credit in taken.credits:
        left = f"{credit.remaining:,} of {credit.budget:,} left"
        out.print(f"API credits {credit.provider}: {left}")


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S %z}".strip()
