"""Applying a mapping file to one record: pure, no I/O; every failing field is reported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.mapping.converters import REGISTRY, ConversionError
from connector.mapping.model import MappingFile

MISSING = object()


@dataclass(frozen=True)
class MappedRecord:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)  # target → reason

    @property
    def ok(self) -> bool:
        return not self.errors


def read_source(record: Mapping[str, Any] | Sequence[Any], path: str | int | None) -> Any:
    """The value at `path`: a column index, a column name, or a dotted path into nested JSON."""
    if path is None:
        return None
    if isinstance(path, int):
        if (
            isinstance(record, Sequence)
            and not isinstance(record, str)
            and -len(record) <= path < len(record)
        ):
            return record[path]
        return None
    if isinstance(record, Mapping):
        if path in record:  # a column whose name contains dots wins over the dotted reading
            return record[path]
        current: Any = record
        for part in path.split("."):
            if isinstance(current, Mapping) and part in current:
                current = current[part]
            else:
                return None
        return current
    return None


def map_record(mapping: MappingFile, record: Mapping[str, Any] | Sequence[Any]) -> MappedRecord:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field_map in mapping.fields:
        value = read_source(record, field_map.source)
        try:
            for step in field_map.convert:
                function = REGISTRY[step.name].function
                if step.name == "template":  # fills in from the fields mapped before it
                    value = function(value, **{**values, **step.options})
                else:
                    value = function(value, **step.options)
        except ConversionError as exc:
            errors[field_map.target] = f"{field_map.source!s}: {exc}"
            continue
        values[field_map.target] = value
    return MappedRecord(values, errors)
