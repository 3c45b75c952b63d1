"""The command line as a fixture: `cli("ledger", "verify")` runs `connector` in-process and captures it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from connector.cli import context, main
from tests.conftest import REPO


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    def run(*args: str, columns: int = 220) -> Result:
        """`columns`: the terminal's width (80 is what a pipe gets)."""
        monkeypatch.setattr(sys, "argv", ["connector", *args])
        monkeypatch.setenv("COLUMNS", str(columns))
        for console in (context.out, context.err):
            # Read COLUMNS at each print, as with none set when the console was made (pytest-xdist's
            # workers start with COLUMNS=80, which a console made then keeps).
            monkeypatch.setattr(console, "_width", None)
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
    # The command's log handler writes to this test's captured stderr, closed after it: a later test
    # logging through it would write its "Logging error" into its own output.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "connector"]:
        root.removeHandler(handler)


def table_column(printed: str, index: int) -> str:
    """Column `index` of the first table printed after `printed`'s start: its rows' cells joined, without
    the spaces folding a cell onto more lines put in."""
    cells = [line.split("│")[1:-1] for line in printed.splitlines() if line.startswith("│")]
    return "".join(row[index] for row in cells).replace(" ", "")


def waiting_for_a_lease(cwd: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`connector *args` started in `cwd` as another process, once it says it waits for a lease (the
    caller holds it), with what it said so far; or once it ended without waiting."""
    waiting = subprocess.Popen(
        [sys.executable, "-m", "connector", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert waiting.stdout is not None
    said = ""
    while "waiting for it to finish" not in said and waiting.poll() is None:
        said += waiting.stdout.readline()
    return waiting, said


def stopped_while_waiting(cwd: Path, *args: str) -> Result:
    """`connector *args` run in `cwd` as another process, sent SIGTERM once it says it waits for a lease
    (the caller holds it): its exit code and what it said (stdout and stderr together, in `out`)."""
    waiting, said = waiting_for_a_lease(cwd, *args)
    waiting.send_signal(signal.SIGTERM)
    rest, _ = waiting.communicate(timeout=20)
    return Result(waiting.returncode, said + rest, "")


def rows_in_workspace_table(workspace: Path, table: str) -> int:
    """How many rows `table` of the workspace's SQLite ledger holds (0: no ledger yet)."""
    engine = create_engine(f"sqlite:///{workspace / 'connector.db'}")
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    except OperationalError:  # no ledger yet
        return 0
    finally:
        engine.dispose()
