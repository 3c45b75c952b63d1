"""What every command shares: the global options and a lazily built container."""

from __future__ import annotations

import os
import signal
import threading
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console

from connector import retry
from connector.bootstrap import Container, build_container
from connector.config_check import problems_from_validation
from connector.db import holds_ledger
from connector.errors import ConfigError
from connector.settings import Settings, load_settings, resolve_config_file

# No emoji codes and no markup: a customer's "Acme:B:Trading", a reference "PO:A:123", a file "march
# [final].csv" or a memo "voided [/b]" is printed as the data says, in tables too.
out = Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)


@dataclass
class CliState:
    config_file: Path | None = None
    secrets_dir: Path | None = None
    _container: Container | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        try:
            return load_settings(self.config_file, self.secrets_dir)
        except ValidationError as exc:
            problems = problems_from_validation(exc, resolve_config_file(self.config_file))
            raise ConfigError("the configuration is invalid", [str(p) for p in problems]) from None
        except FileNotFoundError as exc:
            raise ConfigError(str(exc)) from None
        except tomllib.TOMLDecodeError as exc:
            where = resolve_config_file(self.config_file)
            raise ConfigError(f"{where}: not valid TOML ({exc})") from None
        except SettingsError as exc:  # e.g. a secrets directory that does not exist
            raise ConfigError(str(exc)) from None

    def container(self, *, migrate: bool = False) -> Container:
        """The container, built on first use. Only with `migrate` (the daemon, the demo) is the schema
        brought to head; any other command refuses a database whose schema is behind, and one that holds
        no ledger (a mistyped database.url, a relative SQLite path run from another folder, a database
        never set up), which it would else make on the spot and report on as an empty ledger."""
        if self._container is None:
            settings = self.settings()
            if not migrate and not holds_ledger(settings.database.url.get_secret_value()):
                raise ConfigError(
                    f"no ledger in {settings.database.display_url()} (database.url): check the setting "
                    "(a relative SQLite path is read from the current folder), or run `connector db upgrade` "
                    "to set up a new one"
                )
            self._container = build_container(settings, upgrade=migrate)
        return self._container

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


def report_problems(heading: str, problems: Sequence[object]) -> None:
    """A heading and one line per problem on stderr (never rich markup: problems quote user text)."""
    err.print(heading)
    for problem in problems:
        err.print(f"  - {problem}")


def state(ctx: typer.Context) -> CliState:
    found = ctx.find_root().obj
    assert isinstance(found, CliState)
    return found


# What an argument naming a stored row (an entry, an item, a record) may be: a database's ids are
# 64-bit, and a number past them is refused as a usage error, not a driver's overflow.
ROW_NUMBER: dict[str, int] = {"min": 1, "max": 2**63 - 1}


def one_of(value: str | None, allowed: Sequence[str], option: str = "--status") -> str | None:
    """`value` when it is one of `allowed` (or not given); else the command is refused, naming them."""
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=option)
    return value


def business_today(ctx: typer.Context) -> date:
    """Today where the business is (`ledger.timezone`), as figures and push read it."""
    return state(ctx).settings().ledger.business_day(datetime.now(UTC))


def decision_day(ctx: typer.Context, on: datetime | None) -> date:
    """`--on` of a decision that takes effect in the ledger now (a reversal, an application): the day
    given, else today; never after today, where the ledger would hold it at once and the figures only from
    that day, so the two would differ."""
    today = business_today(ctx)
    day = on.date() if on else today
    if day > today:
        raise typer.BadParameter(f"{day} is after today: the decision takes effect now", param_hint="--on")
    return day


def as_of_day(ctx: typer.Context, value: str | None) -> date:
    """`--as-of`: the day given (YYYY-MM-DD), else today, the business day (`ledger.timezone`)."""
    if value is None:
        return business_today(ctx)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--as-of") from None


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """A SIGTERM (a service manager, `timeout`, a scheduler ending the command) or a Ctrl-C stops the work
    as it stops the daemon's: between two transactions, what was done kept and recorded, the API credits
    spent written as the command closes. A second one ends the process at once.

    Ctrl-C is no KeyboardInterrupt here: raised inside an SQLite statement, it left the statement open in
    the exception's traceback, the transaction with it, and the database's write lock held while the
    command waited for that lock to record its run (30 s, then nothing recorded)."""
    if threading.current_thread() is not threading.main_thread():  # only there can a handler be set
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    told = False

    def asked_to_stop(*_: object) -> None:
        nonlocal told
        told = True
        retry.STOPPING.set()
        for sig in STOP_SIGNALS:  # the second signal, of either kind, ends the process on the spot
            signal.signal(sig, signal.SIG_DFL)
        os.write(2, b"stopping after the current transaction (again to end at once)\n")

    for sig in STOP_SIGNALS:
        signal.signal(sig, asked_to_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            # None: a handler set outside Python, none the process knows to put back
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if told:
            retry.STOPPING.clear()


def stopping(what: str) -> bool:
    """Whether the command was told to stop (`stopping_on_signals`) before `what` started: said, and
    `what` is left for the next run."""
    if not retry.STOPPING.is_set():
        return False
    err.print(f"{what}: not started, the command is stopping")
    return True
