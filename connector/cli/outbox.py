"""`connector outbox …`: what each CRM record should show, what was pushed, and the refusals."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import func, select

from connector.cli.context import err, one_of, out, state
from connector.cli.output import DataTable, dumps, iso_time
from connector.db import unit_of_work
from connector.sync.models import OutboxItem
from connector.sync.push_send import DEAD_AFTER, retry_by_hand

outbox_app = typer.Typer(
    help="Pushes to the CRMs: pending, pushed, refused and dead records.", no_args_is_help=True
)
OUTBOX_STATUSES = ("pending", "pushed", "failed", "dead", "retired")
Target = Annotated[str | None, typer.Option(help="Only this target, e.g. zoho.Accounts.")]


@outbox_app.command("list")
def list_items(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            help="pending, pushed, failed (refused by the CRM, tried again later), dead (refused "
            f"{DEAD_AFTER} times, or held: CURRENCY_DIFFERS, UNMAPPABLE) or retired (its binding deleted)."
        ),
    ] = None,
    target: Target = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Records of the outbox with their last answer from the CRM (code, field, message)."""
    one_of(status, OUTBOX_STATUSES)
    with unit_of_work(state(ctx).container().sessions) as session:
        query = select(OutboxItem)
        if status:
            query = query.where(OutboxItem.status == status)
        if target:
            query = query.where(OutboxItem.target == target)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        query = query.order_by(OutboxItem.target, OutboxItem.external_id).limit(limit)
        rows = [
            {
                "target": i.target,
                "record": i.external_id,
                "status": i.status,
                "attempts": i.attempts,
                "code": i.last_code,
                "field": i.last_field,
                "message": i.last_message,
                "next_attempt_at": iso_time(i.next_attempt_at),
                "run": i.last_run_id,
            }
            for i in session.scalars(query)
        ]
    if as_json:
        out.print(dumps(rows))
        return
    columns = ("target", "record", "status", "attempts", "code", "field", "message", "next attempt")
    table = DataTable(*columns, whole=set(columns) - {"message"}, right={"attempts"})
    for row in rows:
        table.add_row(
            *(
                str(row[k] or "")
                for k in ("target", "record", "status", "attempts", "code", "field", "message")
            ),
            str(row["next_attempt_at"] or ""),
        )
    out.print(table)
    shown = f"{len(rows)} of {total}" if total > len(rows) else f"{total}"
    more = " (--limit for more)" if total > len(rows) else ""
    out.print(f"{shown} record(s){f' {status}' if status else ''}{more}")


@outbox_app.command("retry")
def retry(
    ctx: typer.Context,
    records: Annotated[
        list[str] | None, typer.Argument(help="Record ids (default: every refused one).")
    ] = None,
    target: Target = None,
) -> None:
    """Make refused and dead records due again; the next push sends them."""
    with unit_of_work(state(ctx).container().sessions) as session:
        if records:  # every record named must be there: a mistyped id is no "0 record(s)" done
            query = select(OutboxItem.external_id).where(OutboxItem.external_id.in_(records))
            if target:
                query = query.where(OutboxItem.target == target)
            if unknown := sorted(set(records) - set(session.scalars(query))):
                where = f" of {target}" if target else ""
                err.print(f"error: not in the outbox{where}: {', '.join(unknown)}; no record retried")
                raise typer.Exit(1)
        count = retry_by_hand(session, target, records or ())
    out.print(f"{count} record(s) will be sent with the next push")
