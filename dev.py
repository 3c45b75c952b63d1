#!/usr/bin/env python3
"""The project's two entry points for a fresh machine with only python3.

    python3 dev.py demo   build the embedded-default ledger from sample data and verify it
    python3 dev.py test   ruff, mypy --strict and the whole pytest suite (SQLite and PostgreSQL)

Both create ./.venv and install the project into it (again only when pyproject.toml changed).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed-from"


def _run(*args: str | Path) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT)


def ensure_environment() -> None:
    """Create the virtual environment and install the project with its dev extras when needed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True, upgrade_deps=True).create(VENV)
    print("installing the project and its dev tools into .venv …", flush=True)
    code = _run(
        BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[dev]"
    )
    if code:
        sys.exit(f"pip install failed with exit code {code}")
    STAMP.write_text(wanted)


def demo(extra: list[str]) -> int:
    return _run(BIN / "connector", "demo", *extra)


def test(extra: list[str]) -> int:
    steps: list[tuple[str, list[str | Path]]] = [
        ("ruff", [BIN / "ruff", "check", "."]),
        ("ruff format", [BIN / "ruff", "format", "--check", "."]),
        ("mypy --strict", [BIN / "mypy"]),
        # One worker per core, each taking whole files (some tests build on the ones before them in
        # their file); `-n 0` among the arguments runs it in this process.
        ("pytest", [BIN / "pytest", "-n", "auto", "--dist", "loadfile", *extra]),
    ]
    failed = []
    for name, command in steps:
        print(f"== {name}", flush=True)
        if _run(*command):
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}", flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    ensure_environment()
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
