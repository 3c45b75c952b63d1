"""`connector runs`: the run history, newest first: each pull, push, import, notification and sync
run with its counts (a push's refusals by the CRM's code and field) and its error."""

from __future__ import annotations

from typing import Annotated

import typer

from connector.cli.context import one_of, out, state
from connector.cli.output import dumps
from connector.db import unit_of_work
from connector.sync.runs import RUN_JOBS, run_history


def runs_command(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help=f"Only this job: {', '.join(RUN_JOBS)}.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Only this source, e.g. zoho.Contacts or camt053.")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only runs that failed.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The run history, newest first, with each run's counts and error."""
    one_of(job, RUN_JOBS, "--job")
    with unit_of_work(state(ctx).container().sessions) as session:
        runs = run_history(session, job=job, source=source, failed=failed, limit=limit)
    if as_json:
        out.print(dumps([run.as_json() for run in runs]))
        return
    for run in runs:
        started = run.started_at.isoformat(timespec="seconds")
        if run.end_unknown:
            took = ", end unknown (stopped under an older version, which kept no progress)"
        elif run.finished_at is None:
            took = ""
        else:
            took = f" in {(run.finished_at - run.started_at).total_seconds():.1f} s"
        out.print(f"#{run.id} {run.job} {run.source}: {run.status}, started {started}{took}")
        counts = ", ".join(f"{key} {value:,}" for key, value in run.counts.items() if value)
        if counts:
            out.print(f"    {counts}")
        if run.error:
            out.print(f"    error: {run.error}")
    out.print(f"{len(runs)} run(s)")
