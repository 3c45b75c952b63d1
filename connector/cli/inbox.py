"""`connector inbox`: import the files dropped into the inbox folder, once or watching it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.context import err, out, state
from connector.cli.imports import describe, result_json, rows_progress
from connector.errors import LeaseHeldError
from connector.imports.inbox import process_inbox, still_settling


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
            moved = str(done.moved_to.relative_to(inbox)) if done.moved_to else None
            if as_json:
                line = {**result_json(done.result), "moved_to": moved}  # None: left in the inbox
                out.print(json.dumps(line, ensure_ascii=False))
            else:
                where = f" → {moved}" if moved else " (left in the inbox)"
                out.print(describe(done.result) + where)
            failed = failed or done.result.status == "failed"
        settling = still_settling(inbox, settle_seconds)
        if settling and not as_json and not watch:
            out.print(
                f"{settling} file(s) still being written (taken once unchanged for {settle_seconds:g} s)"
            )
        if not watch:
            break
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            break
    if failed and not watch:
        raise typer.Exit(1)
