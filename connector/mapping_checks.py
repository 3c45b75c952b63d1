"""What `connector mapping check` and `connector check-config` both say of a mappings folder: every
mistake of its files, the export sources renamed after documents were imported under them (read from
the ledger; runs refuse such a set and keep the last valid one), and the warnings of a valid set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from connector.db import database_error_text, make_engine, reading, session_factory, sqlite_file
from connector.mapping.detection import detection_overlaps
from connector.mapping.files import MappingProblem, MappingSet, load_mapping_set
from connector.sync.mapping_sets import moved_sources
from connector.sync.models import ExportSource


@dataclass(frozen=True)
class MappingCheck:
    mappings: MappingSet | None  # the folder's set when nothing is wrong with it
    problems: list[MappingProblem]  # why runs refuse the folder's set (and keep the last valid one)
    warnings: list[MappingProblem] = field(default_factory=list)  # the set runs; imports refuse some files
    unchecked: str | None = None  # why the set was not compared with the ledger's imported documents


def check_mappings(folder: Path, database_url: str | None) -> MappingCheck:
    """The folder's set as the runtime takes it (`mappings_in_force`): valid on its own, and no export
    file naming another source than its documents were imported under in the ledger at `database_url`
    (read only; none given, a SQLite file not made yet or a ledger without imports: nothing to compare)."""
    mappings, problems = load_mapping_set(folder)
    if mappings is None:
        return MappingCheck(None, problems)
    moved, unchecked = _moved_sources(folder, mappings, database_url)
    if moved:
        return MappingCheck(None, moved, unchecked=unchecked)
    return MappingCheck(mappings, [], detection_overlaps(folder, mappings), unchecked)


def _moved_sources(
    folder: Path, mappings: MappingSet, database_url: str | None
) -> tuple[list[MappingProblem], str | None]:
    if database_url is None:
        return [], None
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not ((file := sqlite_file(url)) and file.is_file()):
        return [], None
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with reading(session_factory(engine)) as session:
            if not inspect(session.connection()).has_table(ExportSource.__tablename__):
                return [], None
            return moved_sources(session, folder, mappings), None
    except DBAPIError as exc:
        return [], f"the database cannot be used: {database_error_text(exc)}"
    finally:
        engine.dispose()
