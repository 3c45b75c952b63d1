"""`connector zoho setup|watch|notifications`: the org's custom fields, notification channels and inbox.

Registered on the `zoho` group when this module is imported (connector.cli.app does).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from adapters.zoho.fields_setup import FieldPlan, create_fields, outbound_modules, plan_module
from connector.cli.context import err, one_of, out, report_problems, state, stopping_on_signals
from connector.cli.customers import mappings_for_run
from connector.cli.output import DataTable, dumps, iso_time
from connector.cli.zoho import modules_with_mapping, zoho_app
from connector.sync.channels import list_channels, renew_channels, stop_channels, watch_modules
from connector.sync.notifications import list_notifications, process_notifications

if TYPE_CHECKING:
    from connector.bootstrap import Container

Modules = Annotated[
    list[str] | None, typer.Option("--module", help="Only this module (repeatable); default: zoho.modules.")
]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items()) if n) or "nothing"


# --- setup ------------------------------------------------------------------------------------------


@zoho_app.command("setup")
def setup(
    ctx: typer.Context,
    apply: Annotated[bool, typer.Option("--apply", help="Create the missing fields.")] = False,
) -> None:
    """Check that every field the push writes exists with a suitable type; --apply creates missing ones.

    Exit 0 when every field is there, 1 when some are missing (without --apply), could not be created,
    or exist with a type that cannot hold the values (those are never changed: fix them in Zoho); 3 when
    told to stop (Ctrl-C, SIGTERM) between two creations, naming the fields created and those left.
    """
    container = state(ctx).container()
    modules = outbound_modules(mappings_for_run(container))
    if not modules:
        err.print("no outbound mapping for a zoho.<Module>: nothing to check")
        return
    plans = {module: plan_module(container.zoho.api, module, mapping) for module, mapping in modules.items()}
    missing = [want for plan in plans.values() for want in plan.missing]
    problems = [problem for plan in plans.values() for problem in plan.problems]
    _print_plans(plans)
    failed, left = 0, []
    if missing and apply:
        with stopping_on_signals():  # between two calls: the fields Zoho made are said to be made
            answered = create_fields(container.zoho.api, missing)
        for created in answered:
            where = f"{created.wanted.module}.{created.wanted.api_name}"
            if created.error is None:
                out.print(f"created {where} ({created.wanted.need.describe()})")
            else:
                failed += 1
                err.print(f"could not create {where}: {created.error}")
        tried = {created.wanted for created in answered}
        left = [f"{want.module}.{want.api_name}" for want in missing if want not in tried]
        if left:
            err.print(
                f"stopped: {len(answered) - failed} field(s) created, {len(left)} left: {', '.join(left)}; "
                "run `connector zoho setup --apply` again"
            )
    elif missing:
        out.print(f"{len(missing)} field(s) missing; `connector zoho setup --apply` creates them")
    if problems:
        report_problems(f"{len(problems)} field(s) need an admin (left unchanged):", problems)
    if left:
        raise typer.Exit(3)
    if problems or failed or (missing and not apply):
        raise typer.Exit(1)


def _print_plans(plans: dict[str, FieldPlan]) -> None:
    for module, plan in plans.items():
        wanted = len(plan.present) + len(plan.missing) + len(plan.problems)
        out.print(f"{module}: {len(plan.present)} of {wanted} field(s) in place, {len(plan.missing)} missing")
    rows = [want for plan in plans.values() for want in plan.missing]
    if rows:
        table = DataTable(
            *("module", "label", "api name", "type"),
            whole={"module", "api name"},
            title="fields to create",
            title_justify="left",
        )
        for want in rows:
            table.add_row(
                Text(want.module), Text(want.label), Text(want.api_name), Text(want.need.describe())
            )
        out.print(table)


# --- notification channels --------------------------------------------------------------------------


@zoho_app.command("watch")
def watch(
    ctx: typer.Context,
    module: Modules = None,
    stop: Annotated[bool, typer.Option("--stop", help="Unsubscribe the channels.")] = False,
    renew: Annotated[
        bool, typer.Option("--renew", help="Only renew channels that expire within --margin-hours.")
    ] = False,
    margin_hours: Annotated[float, typer.Option(min=0, help="With --renew.")] = 24.0,
) -> None:
    """Subscribe zoho.callback_url to changes of each module (a channel per module, one week, renewed).

    Told to stop (Ctrl-C, SIGTERM), it finishes the module it subscribes (the channel recorded), stops
    and exits 3 naming the modules left."""
    if stop and renew:
        raise typer.BadParameter("give --stop or --renew, not both")
    with stopping_on_signals():  # a channel changed in Zoho is recorded here before the command ends
        _watch(state(ctx).container(), module, stop, renew, margin_hours)


def _watch(
    container: Container, module: list[str] | None, stop: bool, renew: bool, margin_hours: float
) -> None:
    if stop:
        stopped = stop_channels(container)
        out.print(f"stopped {len(stopped)} channel(s)" + (f": {', '.join(stopped)}" if stopped else ""))
        return
    if renew:
        renewed = renew_channels(container, timedelta(hours=margin_hours))
        for view in renewed:
            if view.error is None:
                until = f"{view.expires_at:%Y-%m-%d %H:%M %Z}"
                out.print(f"channel {view.channel_id} ({view.module}) renewed until {until}")
            else:
                err.print(f"channel {view.channel_id} ({view.module}) not renewed: {view.error}")
        if not renewed:
            out.print(f"no channel expires within {margin_hours:g} hour(s)")
        if any(view.error for view in renewed):
            raise typer.Exit(1)
        return
    modules = modules_with_mapping(container, mappings_for_run(container), module, "inbound")
    if not modules:
        err.print("no module with an inbound mapping to watch")
        raise typer.Exit(1)
    views = watch_modules(container, modules)
    for view in views:
        out.print(
            f"channel {view.channel_id}: {', '.join(view.events)} → {view.notify_url} "
            f"until {view.expires_at:%Y-%m-%d %H:%M %Z}"
        )
    watched = {view.module for view in views}
    left = [f"zoho.{m}" for m in modules if m not in watched]
    if left:
        err.print(f"stopped: {', '.join(left)} not watched yet; run `connector zoho watch` again")
        raise typer.Exit(3)


@zoho_app.command("channels")
def channels(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The notification channels this connector holds (tokens are never shown)."""
    views = list_channels(state(ctx).container())
    payload = [
        {
            "channel_id": v.channel_id,
            "module": v.module,
            "events": list(v.events),
            "notify_url": v.notify_url,
            "expires_at": v.expires_at.isoformat(),
            "renewed_at": v.renewed_at.isoformat() if v.renewed_at else None,
        }
        for v in views
    ]
    if as_json:
        out.print(dumps(payload))
        return
    table = DataTable(
        "channel", "events", "notify url", "expires", whole={"channel", "notify url", "expires"}
    )
    for v in views:
        table.add_row(
            v.channel_id, Text(", ".join(v.events)), Text(v.notify_url), f"{v.expires_at:%Y-%m-%d %H:%M %Z}"
        )
    out.print(table)


# --- the inbox --------------------------------------------------------------------------------------


@zoho_app.command("notifications")
def notifications(
    ctx: typer.Context,
    process: Annotated[bool, typer.Option("--process", help="Apply the pending ones first.")] = False,
    status: Annotated[
        str | None, typer.Option(help="Only these: pending, processed, failed, skipped.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Notifications received from Zoho (newest first); --process applies the pending ones now.

    Told to stop (Ctrl-C, SIGTERM), --process stops between two notifications: those processed stay, the
    others stay pending, and the command exits 3 saying how many."""
    one_of(status, ("pending", "processed", "failed", "skipped"))
    container = state(ctx).container()
    stopped = None
    if process:
        with stopping_on_signals():
            result = process_notifications(container, mappings_for_run(container))
        summary = f"notifications: {_counts(dict(result.outcomes))}; records: {_counts(dict(result.applied))}"
        (err if as_json else out).print(summary)  # with --json, stdout holds the JSON alone
        stopped = result.stopped
    views = list_notifications(container, status, limit)
    payload: list[dict[str, Any]] = [
        {
            "id": v.id,
            "module": v.module,
            "operation": v.operation,
            "ids": v.ids,
            "received_at": iso_time(v.received_at),
            "status": v.status,
            "attempts": v.attempts,
            "counts": v.counts,
            "error": v.error,
        }
        for v in views
    ]
    if as_json:
        out.print(dumps(payload))
    else:
        table = DataTable(
            "#",
            "received",
            "module",
            "operation",
            "records",
            "status",
            "result",
            whole=("#", "received", "module", "operation", "records", "status"),
            right=("#", "records"),
        )
        for v in views:
            table.add_row(
                str(v.id),
                f"{v.received_at:%Y-%m-%d %H:%M:%S}",
                v.module,
                v.operation,
                str(len(v.ids)),
                v.status,
                Text(v.error or (_counts(v.counts) if v.status == "processed" else "")),
            )
        out.print(table)
    if stopped:
        err.print(f"stopped early — {stopped}")
        raise typer.Exit(3)
