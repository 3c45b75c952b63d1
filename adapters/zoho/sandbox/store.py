"""In-memory records of one module, kept sorted three ways so a page is a bisect and a slice, never a scan.

Indexes hold `(key, id)` tuples: `(id, id)`, `(created, id)` and `(modified, id)`, with times in whole
epoch seconds. A page cursor is one such tuple, so paging by any sort order resumes in O(log n).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from adapters.zoho.sandbox.fields import ModuleDef
from adapters.zoho.sandbox.render import RenderCache

SortBy = Literal["id", "Created_Time", "Modified_Time"]


def whole_number(text: str) -> int | None:
    """`text` as Zoho reads an id or a count: ASCII digits only ("²" is a digit to Python, not to Zoho)."""
    return int(text) if text.isascii() and text.isdigit() else None


Key = tuple[int, int]


@dataclass(slots=True)
class Record:
    """A live record: its values as the API renders them (Decimal for money) and its times as seconds."""

    id: int
    created: int
    modified: int
    values: dict[str, Any]

    def key(self, sort_by: SortBy) -> Key:
        if sort_by == "Modified_Time":
            return (self.modified, self.id)
        if sort_by == "Created_Time":
            return (self.created, self.id)
        return (self.id, self.id)


@dataclass(slots=True)
class Deleted:
    """A recycle-bin (or permanently deleted) entry as `GET /{module}/deleted` lists it."""

    id: int
    display_name: str | None
    created_by: dict[str, Any] | None
    deleted_by: dict[str, Any] | None
    deleted_at: int
    purged_at: int | None = None


def _index_key(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("id")
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, list):
        return None
    return value


class ModuleStore:
    """Records of one module plus its deleted-record log; callers hold the sandbox lock."""

    def __init__(self, module: ModuleDef) -> None:
        self.module = module
        self.records: dict[int, Record] = {}
        self._by_id: list[Key] = []
        self._by_created: list[Key] = []
        self._by_modified: list[Key] = []
        self.deleted: list[Deleted] = []
        self.cache = RenderCache()
        self._value_index: dict[str, dict[Any, set[int]]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def load(self, records: list[Record]) -> None:
        """Bulk insert (seeding): one sort per index instead of one insertion per record."""
        for record in records:
            self.records[record.id] = record
        self._by_id = sorted((r.id, r.id) for r in self.records.values())
        self._by_created = sorted((r.created, r.id) for r in self.records.values())
        self._by_modified = sorted((r.modified, r.id) for r in self.records.values())
        self._value_index.clear()
        self.cache.clear()

    def get(self, record_id: int) -> Record | None:
        return self.records.get(record_id)

    def insert(self, record: Record) -> None:
        self.records[record.id] = record
        insort(self._by_id, (record.id, record.id))
        insort(self._by_created, (record.created, record.id))
        insort(self._by_modified, (record.modified, record.id))
        self._index_add(record)

    def update(self, record: Record, changes: dict[str, Any], modified: int) -> None:
        """Apply already-checked values and move the record in the Modified_Time index."""
        self._index_remove(record)
        record.values.update(changes)
        if modified != record.modified:
            self._remove_key(self._by_modified, (record.modified, record.id))
            record.modified = modified
            insort(self._by_modified, (record.modified, record.id))
        self._index_add(record)
        self.cache.forget(record.id)

    def delete(self, record_id: int, entry: Deleted) -> Record | None:
        record = self.records.pop(record_id, None)
        if record is None:
            return None
        self._remove_key(self._by_id, (record.id, record.id))
        self._remove_key(self._by_created, (record.created, record.id))
        self._remove_key(self._by_modified, (record.modified, record.id))
        self._index_remove(record)
        self.cache.forget(record.id)
        self.deleted.append(entry)
        return record

    def latest_modified(self) -> int | None:
        return self._by_modified[-1][0] if self._by_modified else None

    def walk(
        self, sort_by: SortBy, descending: bool, since: int | None, after: Key | None, skip: int = 0
    ) -> Iterator[Record]:
        """Records in sort order, strictly after the cursor, modified at or after `since`, skipping `skip`.

        Sorting by Modified_Time with `since` starts at a bisect; other orders filter while walking,
        which is still linear in what is returned plus what is passed over, never in the whole module.
        """
        index = self._index(sort_by)
        lo, hi = 0, len(index)
        filtering = since is not None and sort_by != "Modified_Time"
        if since is not None and not filtering:
            lo = bisect_left(index, (since, -1))
        if after is not None:
            if descending:
                hi = min(hi, bisect_left(index, after))
            else:
                lo = max(lo, bisect_right(index, after))
        records = self.records
        if not filtering:
            if descending:
                hi -= skip
            else:
                lo += skip
            positions = range(hi - 1, lo - 1, -1) if descending else range(lo, hi)
            for position in positions:
                yield records[index[position][1]]
            return
        threshold = since if since is not None else 0
        positions = range(hi - 1, lo - 1, -1) if descending else range(lo, hi)
        for position in positions:
            record = records[index[position][1]]
            if record.modified < threshold:
                continue
            if skip:
                skip -= 1
                continue
            yield record

    def find_by(self, api_name: str, value: Any) -> list[int]:
        """Ids whose field equals `value` (text ignoring case, lookups by id): the duplicate check."""
        index = self._value_index.get(api_name)
        if index is None:
            index = {}
            for record in self.records.values():
                key = _index_key(record.values.get(api_name))
                if key is not None and key != "":
                    index.setdefault(key, set()).add(record.id)
            self._value_index[api_name] = index
        key = _index_key(value)
        return sorted(index.get(key, ())) if key is not None and key != "" else []

    def _index(self, sort_by: SortBy) -> list[Key]:
        if sort_by == "Modified_Time":
            return self._by_modified
        if sort_by == "Created_Time":
            return self._by_created
        return self._by_id

    @staticmethod
    def _remove_key(index: list[Key], key: Key) -> None:
        position = bisect_left(index, key)
        if position < len(index) and index[position] == key:
            del index[position]

    def _index_add(self, record: Record) -> None:
        for api_name, index in self._value_index.items():
            key = _index_key(record.values.get(api_name))
            if key is not None and key != "":
                index.setdefault(key, set()).add(record.id)

    def _index_remove(self, record: Record) -> None:
        for api_name, index in self._value_index.items():
            key = _index_key(record.values.get(api_name))
            ids = index.get(key) if key is not None else None
            if ids is not None:
                ids.discard(record.id)
                if not ids:
                    del index[key]
