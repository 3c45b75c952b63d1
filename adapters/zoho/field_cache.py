"""The CRM fields' metadata the push reads, kept for a while: each `GET /settings/fields` costs an API
credit of the org's daily allowance, and admins rarely change a field.

A module's fields are read from Zoho when none are kept for the org, when those kept are older than
`max_age` (0: every time), or when asked for them `fresh` — a write was refused for a field, so an admin
may have changed it. What was read is kept (`FieldStore`: the database in the connector, memory in
tests) with when it was read, for every replica and restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from adapters.zoho.client import ZohoApi
from adapters.zoho.fields_setup import ExistingField, read_fields

FORM = 1  # the form of the fields kept: another is read from Zoho again


class FieldStore(Protocol):
    """Where the fields read are kept, per org and module, with when they were read."""

    def load(self, org: str, module: str) -> tuple[str, datetime] | None: ...

    def save(self, org: str, module: str, fields_json: str, fetched_at: datetime) -> None: ...

    def read_at(self, org: str) -> dict[str, datetime]:
        """When each module's fields kept for `org` were read."""
        ...


class MemoryFieldStore:
    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], tuple[str, datetime]] = {}

    def load(self, org: str, module: str) -> tuple[str, datetime] | None:
        return self.kept.get((org, module))

    def save(self, org: str, module: str, fields_json: str, fetched_at: datetime) -> None:
        self.kept[(org, module)] = (fields_json, fetched_at)

    def read_at(self, org: str) -> dict[str, datetime]:
        return {module: at for (o, module), (_, at) in sorted(self.kept.items()) if o == org}


class FieldMetadata:
    """The fields of the org's modules: those kept while young enough, else read from Zoho and kept."""

    def __init__(
        self,
        api: ZohoApi,
        store: FieldStore,
        org: str,
        max_age: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.store = store
        self.org = org
        self.max_age = max_age
        self.clock = clock

    def fields(self, module: str, *, fresh: bool = False) -> list[ExistingField]:
        """The module's fields; `fresh` reads them from Zoho whatever is kept."""
        now = self.clock()
        if not fresh and self.max_age > timedelta(0):
            kept = self.store.load(self.org, module)
            if kept is not None and now - kept[1] < self.max_age:
                found = _decoded(kept[0])
                if found is not None:
                    return found
        read = read_fields(self.api, module)
        self.store.save(self.org, module, _encoded(read), now)
        return read

    def read_at(self) -> dict[str, datetime]:
        """When each module's fields were last read from Zoho (as kept)."""
        return self.store.read_at(self.org)


def _encoded(fields: list[ExistingField]) -> str:
    return json.dumps({"form": FORM, "fields": [asdict(f) for f in fields]}, ensure_ascii=False)


def _decoded(text: str) -> list[ExistingField] | None:
    """The fields kept, or None when they are not in the form this connector writes."""
    try:
        kept: Any = json.loads(text)
        if not isinstance(kept, dict) or kept.get("form") != FORM:
            return None
        return [ExistingField(**{**item, "picklist": tuple(item["picklist"])}) for item in kept["fields"]]
    except (ValueError, TypeError, KeyError):
        return None
