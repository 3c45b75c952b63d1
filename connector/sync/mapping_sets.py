"""Which mapping set is in force: the folder's when it validates, otherwise the last one that did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.imports.models import ImportedDocument
from connector.ledger.models import utcnow
from connector.mapping.files import MappingProblem, MappingSet, line_of, load_mapping_set, parse_mapping_texts
from connector.sync.models import ExportSource, MappingSetVersion


@dataclass(frozen=True)
class MappingsInForce:
    mappings: MappingSet | None  # what runs use: the folder's set, or the last valid one, or none
    problems: list[MappingProblem]  # what is wrong with the folder's files right now
    from_folder: bool
    valid_since: datetime | None = None  # when the set in force was last seen valid

    def describe(self) -> str:
        if self.mappings is None:
            return "no valid mapping set: fix the files (`connector mapping check`)"
        where = "the mappings folder" if self.from_folder else "the last valid set (the folder's files fail)"
        return f"mapping set {self.mappings.digest[:12]} from {where}"


def _exports(mappings: MappingSet) -> dict[str, str]:
    """Each export mapping's source by file stem."""
    return {
        stem: mapping.source for stem, mapping in [*mappings.documents.items(), *mappings.vouchers.items()]
    }


def remember(session: Session, mappings: MappingSet) -> None:
    """Record the set as valid now, and the source of each of its export files, in one statement each:
    replicas starting together (or threads of one process) seeing the same new set at once all succeed."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    statement = insert(MappingSetVersion).values(
        digest=mappings.digest, files_json=json.dumps(mappings.texts), first_valid_at=now, last_valid_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[MappingSetVersion.digest],
            set_={"last_valid_at": statement.excluded.last_valid_at},
        )
    )
    sources = [
        {"stem": stem, "source": source, "first_valid_at": now} for stem, source in _exports(mappings).items()
    ]
    if sources:
        session.execute(insert(ExportSource).values(sources).on_conflict_do_nothing())


def moved_sources(session: Session, folder: Path, mappings: MappingSet) -> list[MappingProblem]:
    """Export files naming another source than the one their documents were imported under: the source
    is half of each document's idempotency key (source, external id), so every document would post
    again. A source another file of the set now serves keeps its documents' keys."""
    current = _exports(mappings)
    served = set(current.values())
    problems = []
    earlier = session.execute(
        select(ExportSource.stem, ExportSource.source).where(ExportSource.stem.in_(current))
    )
    for stem, source in sorted(earlier.all()):
        if source in served:
            continue
        imported = session.scalar(
            select(func.count()).select_from(ImportedDocument).where(ImportedDocument.source == source)
        )
        if not imported:
            continue
        name = next(name for name in mappings.texts if Path(name).stem == stem)
        message = (
            f"{imported} document(s) were imported under source '{source}', which this file served: under "
            f"'{current[stem]}' each would be imported again as a new document. Keep source = \"{source}\" "
            "(the source is part of each document's id, not a label)"
        )
        problems.append(
            MappingProblem(folder / name, line_of(mappings.texts[name], "source"), "source", message)
        )
    return problems


def mappings_in_force(session: Session, folder: Path) -> MappingsInForce:
    """The folder's set when it validates (and remembered as valid); otherwise the last valid set."""
    current, problems = load_mapping_set(folder)
    if current is not None:
        problems = moved_sources(session, folder, current)
        if not problems:
            remember(session, current)
            return MappingsInForce(current, [], True)
    last = session.scalars(select(MappingSetVersion).order_by(MappingSetVersion.last_valid_at.desc())).first()
    if last is None:
        return MappingsInForce(None, problems, False)
    kept, _ = parse_mapping_texts(folder, json.loads(last.files_json))
    return MappingsInForce(kept, problems, False, last.last_valid_at)
