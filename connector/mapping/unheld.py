"""Source paths an inbound mapping reads that no record of a batch holds: a typo in a `source`.

A record may lack a path (a webhook leaving out an empty field) and read as empty; a path that every
record of a batch lacks is more likely named otherwise in the records (`data.typ` for `data.type`), and
its values would be lost without a word. `UnheldPaths` watches the records as they go by and says which
paths none held, with the nearest path the records do hold. It refuses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from connector.mapping.model import FieldMap, MappingFile, nearest

HINT_RECORDS = 200  # records whose own paths are gathered for the did-you-mean hint


def holds(record: Any, path: str | int) -> bool:
    """Whether `record` has something (an empty value too) at `path`, as `apply.read_source` walks it."""
    if isinstance(path, int):
        if isinstance(record, Mapping | Sequence) and not isinstance(record, str):
            return -len(record) <= path < len(record)
        return False
    if not isinstance(record, Mapping):
        return False
    if path in record:  # a column whose name contains dots
        return True
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True


def leaf_paths(record: Any, prefix: str = "") -> Iterator[str]:
    """The dotted path of every value in `record`'s nested objects that is no object itself (lists are
    not walked into)."""
    if isinstance(record, Mapping):
        for key, value in record.items():
            if isinstance(key, str):
                if isinstance(value, Mapping):
                    yield from leaf_paths(value, f"{prefix}{key}.")
                else:
                    yield f"{prefix}{key}"


class UnheldPaths:
    """The fields of an inbound mapping whose source path no record seen so far holds."""

    def __init__(self, mapping: MappingFile) -> None:
        self.source = mapping.source
        self.records = 0
        self._unheld: list[FieldMap] = [field for field in mapping.fields if field.source is not None]
        self._read = {str(field.source) for field in mapping.fields}
        self._paths: set[str] = set()  # the records' own leaf paths, for the hint

    def see(self, records: Iterable[Any]) -> None:
        for record in records:
            self.records += 1
            if self._unheld:
                self._unheld = [f for f in self._unheld if f.source is None or not holds(record, f.source)]
                if self._unheld and self.records <= HINT_RECORDS:
                    self._paths.update(leaf_paths(record))

    def watching(self, records: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """(reference, record) pairs passed on as they are, each seen on its way."""
        for ref, raw in records:
            self.see((raw,))
            yield ref, raw

    @property
    def unheld(self) -> list[FieldMap]:
        return list(self._unheld) if self.records else []

    def note(self) -> str | None:
        """What to tell a person of the paths no record held, or None when each was held by one."""
        if not self.unheld:
            return None
        named = "; ".join(f"{field.source!r} ({field.target}){self._hint(field)}" for field in self.unheld)
        return (
            f"source paths the mapping {self.source} reads are in none of the {self.records} record(s), so "
            f"read as empty: {named}; if the records name them otherwise, rename their `source`"
        )

    def _hint(self, field: FieldMap) -> str:
        """' — did you mean 'data.type'?' for the path the records hold beside the deepest part of the
        field's path they do hold (`data`), that no other field reads, most like what it names there."""
        if not isinstance(field.source, str):
            return ""
        parts = field.source.split(".")
        for depth in range(len(parts) - 1, -1, -1):
            prefix = "".join(f"{part}." for part in parts[:depth])
            if depth > 0 and not any(path.startswith(prefix) for path in self._paths):
                continue  # no record holds `prefix` either: look one part up
            beside = [
                path.removeprefix(prefix)
                for path in self._paths
                if path.startswith(prefix) and path not in self._read
            ]
            found = nearest(".".join(parts[depth:]), sorted(beside))
            return f" — did you mean '{prefix}{found}'?" if found is not None else ""
        return ""
