"""CRM field metadata kept in the database per org and module, with when it was read: every replica and
restart uses one read until it is too old (the adapter decides; see `adapters.zoho.field_cache`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.db import aware, unit_of_work
from connector.sync.models import CrmFieldMetadata


class DatabaseFieldStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def load(self, org: str, module: str) -> tuple[str, datetime] | None:
        with unit_of_work(self.sessions) as session:
            row = session.get(CrmFieldMetadata, (org, module))
            return None if row is None else (row.fields_json, aware(row.fetched_at))

    def save(self, org: str, module: str, fields_json: str, fetched_at: datetime) -> None:
        with unit_of_work(self.sessions) as session:
            row = session.get(CrmFieldMetadata, (org, module), with_for_update=True)
            if row is None:
                row = CrmFieldMetadata(org=org, module=module)
                session.add(row)
            row.fields_json, row.fetched_at = fields_json, fetched_at

    def read_at(self, org: str) -> dict[str, datetime]:
        with unit_of_work(self.sessions) as session:
            return {
                module: aware(at)
                for module, at in session.execute(
                    select(CrmFieldMetadata.module, CrmFieldMetadata.fetched_at)
                    .where(CrmFieldMetadata.org == org)
                    .order_by(CrmFieldMetadata.module)
                )
            }
