"""Which mapping set is in force: the folder's when it validates, otherwise the last one that did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.ledger.models import utcnow
from connector.mapping.files import MappingProblem, MappingSet, load_mapping_set, parse_mapping_texts
from connector.sync.models import MappingSetVersion


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


def remember(session: Session, mappings: MappingSet) -> None:
    """Record the set as valid now, in one statement: replicas starting together (or threads of one
    process) seeing the same new set at once both succeed."""
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


def mappings_in_force(session: Session, folder: Path) -> MappingsInForce:
    """The folder's set when it validates (and remembered as valid); otherwise the last valid set."""
    current, problems = load_mapping_set(folder)
    if current is not None:
        remember(session, current)
        return MappingsInForce(current, [], True)
    last = session.scalars(select(MappingSetVersion).order_by(MappingSetVersion.last_valid_at.desc())).first()
    if last is None:
        return MappingsInForce(None, problems, False)
    kept, _ = parse_mapping_texts(folder, json.loads(last.files_json))
    return MappingsInForce(kept, problems, False, last.last_valid_at)
