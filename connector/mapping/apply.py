"""Applying a mapping file to one record: pure, no I/O; every failing field is reported.

`compile_mapping` turns a validated mapping file into plain callables once: per field a reader for its
source path and its converters with their options applied (`converters.bind`). `CompiledMapping.map`
then does no lookups, option building or validation per record. `map_record` keeps the one-call
interface and compiles each mapping file once.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from connector.mapping.converters import REGISTRY, Bound, ConversionError, bind
from connector.mapping.model import FieldMap, MappingFile, Step

MISSING = object()

Record = Mapping[str, Any] | Sequence[Any]
Reader = Callable[[Any], Any]  # record → the value at a field's source path
Filler = Callable[[Any, dict[str, Any]], Any]  # (value, fields mapped so far) → value, for templates


@dataclass(frozen=True)
class MappedRecord:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)  # target → reason

    @property
    def ok(self) -> bool:
        return not self.errors


def read_source(record: Mapping[str, Any] | Sequence[Any], path: str | int | None) -> Any:
    """The value at `path`: a column index (of a row, or of a CSV row read by its header), a column
    name, or a dotted path into nested JSON."""
    if path is None:
        return None
    if isinstance(path, int):
        if isinstance(record, Mapping):  # a CSV row read by its header: its columns in file order
            record = list(record.values())
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


# --- readers: read_source for one path, with plain dicts and lists read directly -----------------------


def _read_nothing(record: Any) -> None:
    return None


def _index_reader(index: int) -> Reader:
    def read(record: Any) -> Any:
        if type(record) is list or type(record) is tuple:
            return record[index] if -len(record) <= index < len(record) else None
        return read_source(record, index)

    return read


def _key_reader(key: str) -> Reader:
    def read(record: Any) -> Any:
        if type(record) is dict:
            return record.get(key)  # a missing key is None, as read_source's one-part walk finds
        return read_source(record, key)

    return read


def _path_reader(path: str) -> Reader:
    parts = tuple(path.split("."))

    def read(record: Any) -> Any:
        if type(record) is not dict:
            return read_source(record, path)
        if path in record:  # a column whose name contains dots wins over the dotted reading
            return record[path]
        current: Any = record
        for part in parts:
            if type(current) is dict or isinstance(current, Mapping):
                if part not in current:
                    return None
                current = current[part]
            else:
                return None
        return current

    return read


def reader(path: str | int | None) -> Reader:
    """`read_source(·, path)` as a function of the record alone."""
    if path is None:
        return _read_nothing
    if isinstance(path, int):
        return _index_reader(path)
    return _path_reader(path) if "." in path else _key_reader(path)


# --- steps -------------------------------------------------------------------------------------------


# Targets that make ids (of documents, vouchers, customers): a template writing them keeps the text
# earlier imports gave them, where a field without a value was written None.
ID_TARGETS = frozenset(
    {
        "external_id",
        "number",
        "voucher_number",
        "voucher_word",
        "period",
        "party_external_id",
        "party_account_no",
    }
)


def _template_filler(step: Step, target: str) -> Filler:
    # The step's own options win over field names, `empty` too when the step leaves it to its default.
    empty = "None" if target in ID_TARGETS else ""
    function, options = REGISTRY[step.name].function, {"empty": empty, **step.options}

    def fill(value: Any, values: dict[str, Any]) -> Any:
        return function(value, **{**values, **options})

    return fill


def _ignoring_fields(bound: Bound) -> Filler:
    return lambda value, _values: bound(value)


class CompiledField(NamedTuple):  # a tuple, so the per-record loop unpacks it in one go
    target: str
    reason_prefix: str  # "source: " in front of a converter's reason
    read: Reader
    convert: Callable[..., Any]  # the steps as one call (a Bound, or a Filler when `fills`)
    fills: bool  # a template step fills in from the fields mapped before it
    steps: tuple[Callable[..., Any], ...]  # each a Bound, or each a Filler when `fills`


def compile_field(field_map: FieldMap) -> CompiledField:
    fills = any(step.name == "template" for step in field_map.convert)
    steps: list[Callable[..., Any]] = []
    for step in field_map.convert:
        if step.name == "template":
            steps.append(_template_filler(step, field_map.target))
        else:
            bound = bind(step.name, step.options)
            steps.append(_ignoring_fields(bound) if fills else bound)
    prefix = f"{field_map.source!s}: "
    convert = _chain_filling(tuple(steps)) if fills else _chain(tuple(steps))
    return CompiledField(field_map.target, prefix, reader(field_map.source), convert, fills, tuple(steps))


def _chain(steps: tuple[Bound, ...]) -> Bound:
    """The steps as one call: a field's usual single step is itself, with no loop around it."""
    if len(steps) == 1:
        return steps[0]

    def convert(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return convert


def _chain_filling(steps: tuple[Filler, ...]) -> Filler:
    def convert(value: Any, values: dict[str, Any]) -> Any:
        for fill in steps:
            value = fill(value, values)
        return value

    return convert


@dataclass(frozen=True)
class CompiledMapping:
    fields: tuple[CompiledField, ...]

    def map(self, record: Record) -> MappedRecord:
        """Exactly what applying the mapping file step by step gives: values, and errors by target."""
        return MappedRecord(*map_fields(self.fields, record))


def map_fields(fields: tuple[CompiledField, ...], record: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, errors by target) of compiled fields over one record: the hot path, no result object."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for target, reason_prefix, read, convert, fills, _ in fields:
        try:
            value = convert(read(record), values) if fills else convert(read(record))
        except ConversionError as exc:
            errors[target] = f"{reason_prefix}{exc}"
            continue
        values[target] = value
    return values, errors


def compile_mapping(mapping: MappingFile) -> CompiledMapping:
    """The mapping file as plain callables; its options were validated when it was loaded."""
    return CompiledMapping(tuple(compile_field(field_map) for field_map in mapping.fields))


# Compiled forms by mapping file: keyed on identity (options may hold unhashable tables) and dropped when
# the file is (a compiled form holds no reference to its file). Mapping files are frozen: never stale.
_COMPILED: dict[int, tuple[weakref.ref[MappingFile], CompiledMapping]] = {}


def compiled(mapping: MappingFile) -> CompiledMapping:
    """The mapping file's compiled form, compiled on first use."""
    key = id(mapping)
    entry = _COMPILED.get(key)
    if entry is not None and entry[0]() is mapping:
        return entry[1]
    result = compile_mapping(mapping)
    _COMPILED[key] = (weakref.ref(mapping, lambda _: _COMPILED.pop(key, None)), result)
    return result


def map_record(mapping: MappingFile, record: Record) -> MappedRecord:
    return compiled(mapping).map(record)
