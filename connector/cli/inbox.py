"""`connector inbox`: import the files dropped into the inbox folder, once or watching it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from connector import retry
from connector.cli.context import err, out, state, stopping_on_signals
from connector.cli.imports import describe, result_json, rows_progress
from connector.errors import LeaseHeldError
from connector.imports.inbox import PROCESSING, InboxFile, process_inbox, still_settling, waiting_files


def inbox_command(
    ctx: typer.Context,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--folder", file_okay=False, help="The inbox (default: the settings' \\[imports] inbox)."
        ),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Keep watching until interrupted.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file, a line each (also with --watch).")
    ] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between passes with --watch.")] = 10.0,
    settle: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Seconds a file must stay unchanged before it is taken (default: the settings')."
        ),
    ] = None,
) -> None:
    """Import every file waiting in the inbox: processed files move to archive/ (named by their
    content hash), unreadable ones to failed/ with the reason beside them."""
    container = state(ctx).container()
    inbox = folder or container.settings.imports.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    parsers = container.document_parsers()
    settle_seconds = container.settings.imports.inbox_settle_seconds if settle is None else settle
    failed = False
    with stopping_on_signals():  # a Ctrl-C or SIGTERM: the file being imported stops between two batches
        while True:
            try:
                passed = process_inbox(
                    container, parsers, inbox, settle_seconds=settle_seconds, progress=rows_progress
                )
            except LeaseHeldError as exc:
                if not watch:
                    raise
                err.print(f"{exc}: the next pass waits")  # stdout is the files' (JSON) lines
                passed = []
            for done in passed:
                if done.result.status == "stopped":
                    err.print(f"{done.result.name}: stopped early — {done.result.reason}")
                    continue
                moved = str(done.moved_to.relative_to(inbox)) if done.moved_to else None
                if as_json:
                    line = {**result_json(done.result), "moved_to": moved}  # None: left in the inbox
                    out.print(json.dumps(line, ensure_ascii=False))
                else:
                    where = f" → {moved}" if moved else " (left in the inbox)"
                    if done.gone:  # another pass took it meanwhile, and archives it
                        where = " (gone from processing/: another pass archives it)"
                    out.print(describe(done.result) + where)
                failed = failed or done.result.status == "failed"
            if retry.STOPPING.is_set():
                stopped_early(inbox, passed, settle_seconds)
                break
            settling = still_settling(inbox, settle_seconds)
            if settling and not as_json and not watch:
                out.print(
                    f"{settling} file(s) still being written (taken once unchanged for {settle_seconds:g} s)"
                )
            if not watch or retry.STOPPING.wait(interval):  # told to stop between two passes: nothing cut
                break
    if failed and not watch:
        raise typer.Exit(1)


def stopped_early(inbox: Path, passed: list[InboxFile], settle_seconds: float) -> None:
    """Told to stop during a pass: exit 3 saying what it did and what it left, when it left a file (one
    cut short or not begun) for the next pass."""
    left = len(waiting_files(inbox, settle_seconds=settle_seconds))
    left += len(waiting_files(inbox / PROCESSING, settle_seconds=settle_seconds))
    if not left and all(done.result.status != "stopped" for done in passed):
        return
    done = sum(1 for done in passed if done.result.status != "stopped")
    err.print(f"inbox: stopped — {done} file(s) done; {left} left in the inbox for the next pass")
    raise typer.Exit(3)
