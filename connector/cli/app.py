"""Top-level commands: check-config, db, demo, run (the daemon), and the command groups."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

import connector.cli.zoho_admin  # noqa: F401  (registers zoho setup, watch, channels, notifications)
from connector import __version__
from connector.cli.context import CliState, err, out, report_problems, state
from connector.cli.customers import customers_app
from connector.cli.figures import figures
from connector.cli.files import files_app
from connector.cli.imports import import_command, reconcile_app
from connector.cli.inbox import inbox_command
from connector.cli.keys import keys_app
from connector.cli.ledger import ledger_app
from connector.cli.mapping import mapping_app
from connector.cli.outbox import outbox_app
from connector.cli.quarantine import quarantine_app
from connector.cli.runs import runs_command
from connector.cli.sandbox import sandbox_app
from connector.cli.status import status_command
from connector.cli.zoho import zoho_app
from connector.config_check import check_config, schema_note
from connector.db import (
    current_revision,
    database_error_text,
    known_revision,
    make_engine,
    session_factory,
    unit_of_work,
    upgrade_database,
)
from connector.errors import ConfigError, ConnectorError, StoppingError
from connector.settings import Settings
from connector.sync.models import MappingSetVersion

app = typer.Typer(
    name="connector",
    help="CRM ↔ ledger connector: customers from CRMs, documents from exports, a double-entry ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(
    help="Database schema (Alembic migrations shipped with the package).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(keys_app, name="keys")
app.add_typer(mapping_app, name="mapping")
app.add_typer(customers_app, name="customers")
customers_app.command("figures")(figures)
app.add_typer(zoho_app, name="zoho")
app.add_typer(outbox_app, name="outbox")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(reconcile_app, name="reconcile")
app.add_typer(files_app, name="files")
app.command("import")(import_command)
app.command("inbox")(inbox_command)
app.command("status")(status_command)
app.command("runs")(runs_command)


def _version(value: bool) -> None:
    if value:
        out.print(f"connector {__version__}")
        raise typer.Exit


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML settings file (default: $CONNECTOR_CONFIG).")
    ] = None,
    secrets_dir: Annotated[
        Path | None,
        typer.Option(help="Directory of secret files, e.g. database__url (default: $CONNECTOR_SECRETS_DIR)."),
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    ctx.obj = CliState(config, secrets_dir)
    ctx.call_on_close(ctx.obj.close)


@app.command("check-config")
def check_config_command(ctx: typer.Context) -> None:
    """Validate the settings and report every problem with its key, origin and a hint."""
    cli = state(ctx)
    settings, found = check_config(cli.config_file, cli.secrets_dir)
    problems = [problem for problem in found if not problem.warning]
    warnings = [problem for problem in found if problem.warning]
    note = schema_note(settings) if settings is not None else None
    if settings is not None and not problems:
        out.print(f"configuration OK (database {settings.database.display_url()})")
        if note:
            out.print(note, markup=False)
        if warnings:
            report_problems(f"{len(warnings)} warning(s):", warnings)
        return
    if note:
        err.print(note, markup=False)
    report_problems(f"{len(problems)} configuration problem(s):", problems)
    if warnings:
        report_problems(f"{len(warnings)} warning(s):", warnings)
    if settings is not None and any(problem.key == "mappings" for problem in problems):
        err.print(_mapping_set_in_force(settings))
    raise typer.Exit(1)


def _mapping_set_in_force(settings: Settings) -> str:
    """What runs use while the mapping files fail: the last set that validated, read without migrating."""
    engine = make_engine(settings.database.url.get_secret_value())
    try:
        if current_revision(engine) is None:
            return "no database yet: nothing can run until the mapping files validate"
        with unit_of_work(session_factory(engine)) as session:
            last = session.scalars(
                select(MappingSetVersion).order_by(MappingSetVersion.last_valid_at.desc())
            ).first()
    except SQLAlchemyError as exc:
        return f"cannot tell which mapping set is in force: database unreachable ({type(exc).__name__})"
    finally:
        engine.dispose()
    if last is None:
        return "no valid mapping set was ever recorded: nothing can run until the files validate"
    return (
        f"the last valid mapping set {last.digest[:12]} (valid {last.last_valid_at:%Y-%m-%d %H:%M}) "
        "stays in force until the files are fixed"
    )


@contextmanager
def _engine(ctx: typer.Context) -> Iterator[tuple[Engine, str]]:
    database = state(ctx).settings().database
    engine = make_engine(database.url.get_secret_value())
    try:
        yield engine, database.display_url()
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the database schema to the newest revision."""
    with _engine(ctx) as (engine, url):
        upgrade_database(engine)
        out.print(f"database {url} is at revision {current_revision(engine)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the schema revision the database is at; exit 1 when this connector does not know it."""
    with _engine(ctx) as (engine, url):
        out.print(f"database {url} is at revision {current_revision(engine) or '(none: empty database)'}")
        known_revision(engine)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Build a sample ledger on the configured (default: embedded SQLite) database and verify it."""
    from connector.demo import run_demo

    container = state(ctx).container(migrate=True)
    if not run_demo(container, out):
        raise typer.Exit(1)


@app.command()
def run(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default: \\[daemon] host).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: \\[daemon] port).")
    ] = None,
) -> None:
    """The daemon: the Zoho pull and push, notifications, channel renewal and the import inbox on their
    \\[daemon] intervals, and the web app for Zoho's callbacks and /health, until Ctrl-C or SIGTERM."""
    from connector.daemon import run_daemon

    container = state(ctx).container(migrate=True)
    settings = container.settings.daemon
    run_daemon(container, host=host or settings.host, port=port or settings.port)


INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL: a role without the grant (PG 15+ schema public, say)


def main() -> None:
    """Console entry point: a connector error becomes one clear message and exit code 1; a command told
    to stop that did not say so itself, exit code 3."""
    try:
        app()
    except ConfigError as exc:
        report_problems(f"error: {exc}", exc.problems)
        sys.exit(1)
    except StoppingError as exc:  # a Ctrl-C or SIGTERM (`stopping_on_signals`) while a lease is waited for
        err.print(f"stopped: {exc}")
        sys.exit(3)
    except ConnectorError as exc:
        err.print(f"error: {exc}")
        sys.exit(1)
    except OperationalError as exc:  # unreachable, refused, locked, out of space: not a bug to trace
        err.print(f"error: the database cannot be used: {database_error_text(exc)}")
        sys.exit(1)
    except ProgrammingError as exc:
        if exc.statement is None:  # while connecting, as an OperationalError: an unknown URL option (?foo=)
            err.print(f"error: the database cannot be used: {database_error_text(exc)}")
            sys.exit(1)
        if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        err.print(
            f"error: the database refuses: {database_error_text(exc)} (grant the connector's role USAGE "
            "and CREATE on its schema, or run `connector db upgrade` as the schema's owner)"
        )
        sys.exit(1)
    except OSError as exc:  # a file or folder the connector may not read or write: the environment's
        err.print(f"error: {exc}")
        sys.exit(1)
