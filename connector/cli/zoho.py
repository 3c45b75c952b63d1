"""`connector zoho …`: authorize the connector, pull customers, push figures, inspect the sync state."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from sqlalchemy import func, select

from adapters.zoho.auth import PROVIDER
from connector.bootstrap import Container
from connector.cli.context import err, out, state, stopping, stopping_on_signals
from connector.cli.customers import mappings_for_run
from connector.cli.output import DataTable, dumps, iso_time
from connector.db import unit_of_work
from connector.mapping.files import MappingSet
from connector.sync import cursors
from connector.sync.models import OutboxItem, SyncCursor
from connector.sync.pull import PullResult, pull_stream
from connector.sync.push import push_target

zoho_app = typer.Typer(
    help="Zoho CRM: authorize, pull customers, push figures, status.", no_args_is_help=True
)
HOUR = timedelta(hours=1)
Modules = Annotated[
    list[str] | None, typer.Option("--module", help="Only this module (repeatable); default: zoho.modules.")
]


def summary(counts: Counter[str]) -> str:
    return ", ".join(f"{count} {what}" for what, count in sorted(counts.items()) if count) or "nothing to do"


@zoho_app.command("authorize")
def authorize(
    ctx: typer.Context,
    code: Annotated[
        str, typer.Option(help="Grant code from the Zoho API console (Self Client → Generate Code).")
    ],
    redirect_uri: Annotated[
        str | None, typer.Option(help="Only for codes from a server-based client.")
    ] = None,
) -> None:
    """Exchange a grant code for a refresh token and store it encrypted (the code works once, for minutes)."""
    container = state(ctx).container()
    refresh_token, first = container.zoho.tokens.exchange_code(code, redirect_uri)
    container.credentials.save_refresh_token(PROVIDER, refresh_token)
    where = first.api_domain or "the data centre's API host"
    out.print(f"authorized: refresh token stored encrypted; API at {where}")


def modules_with_mapping(
    container: Container, mappings: MappingSet, chosen: list[str] | None, kind: str
) -> list[str]:
    """The modules to sync with a `kind` mapping. One named with --module that has none is an error
    (a misspelt or wrongly cased name would otherwise do nothing and succeed); one from zoho.modules
    is skipped with a word."""
    wanted = chosen or list(container.settings.zoho.modules)
    found = [m for m in wanted if mappings.for_source(f"zoho.{m}", kind) is not None]
    missing = [m for m in wanted if m not in found]
    for module in missing:
        hint = f" — {mappings.module_hint('zoho', module)}" if mappings.unmapped("zoho", module) else ""
        skipped = "" if chosen else "; skipped"
        err.print(f"zoho.{module}: no {kind} mapping in the mapping set{skipped}{hint}")
    if chosen and missing:
        raise typer.Exit(1)
    return found


@zoho_app.command("pull")
def pull(
    ctx: typer.Context,
    module: Modules = None,
    full: Annotated[bool, typer.Option("--full", help="Read everything again, not only changes.")] = False,
) -> None:
    """Changed and deleted records since the last pull, through the inbound mappings, into the master."""
    container = state(ctx).container()
    mappings = mappings_for_run(container)
    results: list[PullResult] = []
    with stopping_on_signals():
        for stream in modules_with_mapping(container, mappings, module, "inbound"):
            if stopping(f"zoho.{stream}"):
                raise typer.Exit(3)
            zoho = container.zoho  # its credits written with each transaction, as the daemon's are
            result = pull_stream(
                container, zoho.records, mappings, "zoho", stream, full=full, spending=zoho.meter
            )
            results.append(result)
            out.print(f"{result.source}: {summary(result.counts)}")
            if result.stopped:
                err.print(f"{result.source}: stopped early — {result.stopped}")
                break
    if any(r.stopped for r in results):
        raise typer.Exit(3)


@zoho_app.command("push")
def push(
    ctx: typer.Context,
    module: Modules = None,
    retry_now: Annotated[
        bool, typer.Option("--retry-now", help="Also resend refused records still waiting for their retry.")
    ] = False,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Also send the records pushed before their current figures again, correcting a CRM "
            "user's edit of a pushed field (only changed records are sent otherwise).",
        ),
    ] = False,
    as_of: Annotated[
        datetime | None, typer.Option(help="Compute figures as of this date (default today).")
    ] = None,
) -> None:
    """Figures through the outbound mappings to the bound CRM records; only changed records are sent."""
    container = state(ctx).container()
    mappings = mappings_for_run(container)
    stopped = False
    with stopping_on_signals():
        for stream in modules_with_mapping(container, mappings, module, "outbound"):
            if stopping(f"zoho.{stream}"):
                raise typer.Exit(3)
            outcome = push_target(
                container,
                container.zoho.sink,
                mappings,
                f"zoho.{stream}",
                as_of=as_of.date() if as_of else None,
                include_waiting=retry_now,
                resend=resend,
            )
            out.print(f"zoho.{stream}: {summary(outcome.counts)}")
            if outcome.stopped:
                err.print(f"zoho.{stream}: stopped early — {outcome.stopped}")
                stopped = True
                break
    if stopped:
        raise typer.Exit(3)


@zoho_app.command("status")
def status(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Cursors per module, the outbox, the API credits spent in the last 24 hours, and how old the fields
    read for the push are."""
    container = state(ctx).container()
    with unit_of_work(container.sessions) as session:
        rows = session.scalars(select(SyncCursor).where(SyncCursor.backend == "zoho")).all()
        streams = [
            {
                "module": row.stream,
                "changes_up_to": iso_time(cursors.changes_position(row).at),
                "deletions_up_to": iso_time(cursors.deletions_position(row).at),
            }
            for row in rows
        ]
        outbox = {
            f"{target} {status}": count
            for target, status, count in session.execute(
                select(OutboxItem.target, OutboxItem.status, func.count())
                .where(OutboxItem.target.like("zoho.%"))
                .group_by(OutboxItem.target, OutboxItem.status)
            )
        }
    payload: dict[str, Any] = {"streams": streams, "outbox": outbox}
    if container.settings.zoho.enabled:
        meter = container.zoho.meter
        payload["credits"] = {"budget": meter.budget, "remaining": meter.remaining()}
        now = datetime.now(UTC)
        payload["fields"] = [
            {"module": module, "read_at": iso_time(at), "age_hours": round((now - at) / HOUR, 1)}
            for module, at in container.zoho.sink.fields.read_at().items()
        ]
    if as_json:
        out.print(dumps(payload))
        return
    headings = ("module", "changes read up to", "deletions read up to")
    table = DataTable(*headings, whole=headings)
    for stream in streams:
        table.add_row(
            stream["module"], stream["changes_up_to"] or "never", stream["deletions_up_to"] or "none seen yet"
        )
    out.print(table)
    for key, count in sorted(outbox.items()):
        out.print(f"outbox {key}: {count}")
    if "credits" in payload:
        out.print(f"API credits: {payload['credits']['remaining']} of {payload['credits']['budget']} left")
        kept = container.settings.zoho.field_metadata_hours
        for read in payload["fields"]:
            out.print(
                f"fields of {read['module']}: read {read['age_hours']} h ago ({read['read_at']}); read again "
                f"once {kept:g} h old, or at once when a write is refused for a field"
            )
