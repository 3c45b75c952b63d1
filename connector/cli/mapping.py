"""`connector mapping check`: validate mapping files and list every mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector.cli.context import out, report_problems, state
from connector.mapping.files import load_mapping_set

mapping_app = typer.Typer(help="Admin-editable mapping files.", no_args_is_help=True)


@mapping_app.command("check")
def check(
    ctx: typer.Context,
    folder: Annotated[Path | None, typer.Argument(help="Mappings folder (default: mappings.dir).")] = None,
) -> None:
    """Validate every mapping file; exit 1 listing each problem with file, line, key and a hint."""
    directory = folder or state(ctx).settings().mappings.dir
    mappings, problems = load_mapping_set(directory)
    if mappings is not None:
        out.print(f"{len(mappings.files)} mapping file(s) OK in {directory} (set {mappings.digest[:12]})")
        return
    report_problems(f"{len(problems)} mapping problem(s):", problems)
    raise typer.Exit(1)
