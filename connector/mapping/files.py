"""Loading a folder of mapping files and reporting every mistake with file, line, key and a hint."""

from __future__ import annotations

import hashlib
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from connector.mapping.model import DocumentMapping, MappingFile, VoucherMapping, closest
from connector.master.policy import CustomerPolicy
from connector.master.records import MASTER_FIELDS

Parsed = MappingFile | CustomerPolicy | DocumentMapping | VoucherMapping

KINDS: dict[str, type[MappingFile] | type[CustomerPolicy] | type[DocumentMapping] | type[VoucherMapping]] = {
    "inbound": MappingFile,
    "outbound": MappingFile,
    "customer_master": CustomerPolicy,
    "document": DocumentMapping,
    "voucher": VoucherMapping,
}


@dataclass(frozen=True)
class MappingProblem:
    file: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.key}: {self.message}"


@dataclass(frozen=True)
class MappingSet:
    files: dict[str, MappingFile]  # inbound and outbound maps by file stem
    digest: str  # SHA-256 over the files' names and bytes: recorded with every sync run
    policy: CustomerPolicy = field(default_factory=CustomerPolicy)
    texts: dict[str, str] = field(default_factory=dict, repr=False)  # file name → text, to keep a copy
    documents: dict[str, DocumentMapping] = field(default_factory=dict)  # export maps by file stem
    vouchers: dict[str, VoucherMapping] = field(default_factory=dict)  # voucher export maps by file stem

    def for_source(self, source: str, kind: str = "inbound") -> MappingFile | None:
        return next((f for f in self.files.values() if (f.kind, f.source) == (kind, source)), None)

    def unmapped(self, system: str, module: str) -> bool:
        """No inbound or outbound map serves `module` of `system`: a sync would never touch it."""
        source = f"{system}.{module}"
        return self.for_source(source, "inbound") is None and self.for_source(source, "outbound") is None

    def module_hint(self, system: str, module: str) -> str:
        """The mapped module of `system` an unmapped name most likely means; module names are
        case-sensitive (`Contacts`, not `contacts`)."""
        prefix = f"{system}."
        mapped = sorted(
            {f.source.removeprefix(prefix) for f in self.files.values() if f.source.startswith(prefix)}
        )
        same = [m for m in mapped if m.lower() == module.lower()]
        if same:
            return f"did you mean '{same[0]}'?"
        return closest(module, mapped) if mapped else f"no mapping has a source starting '{prefix}'"

    def document_format(self, source: str) -> DocumentMapping | None:
        """The export mapping for a format name (`zoho_books.payments`) or file stem."""
        found = self.documents.get(source)
        return found or next((d for d in self.documents.values() if d.source == source), None)


_TABLE_HEADER = re.compile(r"^\s*\[\[?[^\[\]=]+\]\]?\s*(?:#.*)?$")


def _line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """Best-effort line number of `loc` in the TOML text (tomllib keeps no positions). A key is looked
    for in its table only: one the table lacks (a required key left out) is at the table's header."""
    lines = text.splitlines()
    start = 0
    previous: str | int | None = None
    for part in loc:
        if isinstance(part, int):
            if isinstance(previous, str):  # the n-th [[previous]] table; other indexes are inside a value
                header = re.compile(rf"^\s*\[\[\s*(?:[\w.]+\.)?{re.escape(previous)}\s*\]\]")
                headers = [i for i, line in enumerate(lines) if header.match(line)]
                if part < len(headers):
                    start = headers[part]
            previous = part
            continue
        previous = part
        # A key starts its line or follows `{` or `,` in an inline table; a quoted one is followed by `=`.
        key = re.compile(rf"(?:^|[{{,])\s*{re.escape(part)}\s*=|[\"']{re.escape(part)}[\"']\s*=")
        table = re.compile(rf"^\s*\[+[\w.]*\b{re.escape(part)}\s*\]")
        end = next((n for n in range(start + 1, len(lines)) if _TABLE_HEADER.match(lines[n])), len(lines))
        found = next((n for n in range(start, end) if key.search(lines[n])), None)
        if found is None:
            found = next((n for n in range(start, len(lines)) if table.search(lines[n])), None)
        start = start if found is None else found
    return start + 1 if loc else None


def line_of(text: str, key: str) -> int | None:
    """The line of `key` (`source`, `fields[2].target`) in a mapping file's TOML text."""
    return _line_of(text, _split_key(key))


def _value_line(text: str, near: int | None, value: str) -> int | None:
    lines = text.splitlines()
    for number in range((near or 1) - 1, len(lines)):
        if f'"{value}"' in lines[number] or f"'{value}'" in lines[number]:
            return number + 1
    return near


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `tuple[X, ...]`, `X | None` or `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, tuple, list, dict):
        for argument in typing.get_args(annotation):
            found = _inner_model(argument)
            if found is not None:
                return found
    return None


def _model_for(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        declared = model.model_fields.get(part)
        model = _inner_model(declared.annotation) if declared is not None else None
    return model


def _split_key(key: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in re.findall(r"[A-Za-z_]\w*|\d+", key)]


def _key(loc: Sequence[str | int]) -> str:
    return ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in loc).replace(".[", "[")


def _problems(path: Path, text: str, root: type[BaseModel], error: ValidationError) -> list[MappingProblem]:
    problems = []
    errors = error.errors(include_input=True)
    for item in errors:
        echoed = item["loc"]
        if item["type"] == "too_short" and any(
            len(other["loc"]) > len(echoed) and other["loc"][: len(echoed)] == echoed for other in errors
        ):
            continue  # pydantic's echo of list items that failed on their own, reported on their own
        loc: list[str | int] = [part for part in item["loc"] if not str(part).startswith("function-")]
        message = item["msg"].removeprefix("Value error, ")
        line = _line_of(text, loc)
        if item["type"] == "extra_forbidden":
            owner = _model_for(root, loc[:-1])
            if owner is not None:
                message = f"unknown key '{loc[-1]}' — {closest(str(loc[-1]), list(owner.model_fields))}"
        elif "unknown converter '" in message:
            line = _value_line(text, line, message.split("'")[1])
        problems.append(MappingProblem(path, line, _key(loc) or "(file)", message))
    return problems


def _parse(path: Path, text: str) -> tuple[Parsed | None, list[MappingProblem]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))  # tomllib names the line only in its message
        return None, [MappingProblem(path, int(at.group(1)) if at else None, "(syntax)", str(exc))]
    kind = data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        message = (
            f"unknown kind '{kind}' — {closest(kind, list(KINDS))}"
            if isinstance(kind, str)
            else f"a mapping file needs kind = one of {', '.join(KINDS)}"
        )
        return None, [MappingProblem(path, _line_of(text, ["kind"]) if kind else 1, "kind", message)]
    problems = []
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        parsed, problems = None, _problems(path, text, model, exc)
    for key, message in model.cross_check(data):  # on the raw data, so it runs beside the errors above
        loc = _split_key(key)
        line = _line_of(text, loc)
        if "unknown figure '" in message:
            line = _value_line(text, line, message.split("'")[1])
        problems.append(MappingProblem(path, line, key, message))
    return (None, problems) if problems else (parsed, [])


def parse_mapping_texts(
    folder: Path, texts: Mapping[str, str]
) -> tuple[MappingSet | None, list[MappingProblem]]:
    """Validate named mapping texts (file name → TOML); the set only when there is no problem at all."""
    maps: dict[str, MappingFile] = {}
    policies: dict[str, CustomerPolicy] = {}
    documents: dict[str, DocumentMapping | VoucherMapping] = {}
    problems: list[MappingProblem] = []
    digest = hashlib.sha256()
    for name in sorted(texts):
        text = texts[name]
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        path = folder / name
        parsed, found = _parse(path, text)
        problems.extend(found)
        if isinstance(parsed, MappingFile):
            same = (parsed.kind, parsed.source)
            other = next((stem for stem, file in maps.items() if (file.kind, file.source) == same), None)
            if other is not None:
                message = f"{parsed.kind} '{parsed.source}' is also mapped by {other}.toml"
                problems.append(MappingProblem(path, _line_of(text, ["source"]), "source", message))
            maps[Path(name).stem] = parsed
        elif isinstance(parsed, CustomerPolicy):
            policies[name] = parsed
        elif isinstance(parsed, DocumentMapping | VoucherMapping):
            other = next((stem for stem, file in documents.items() if file.source == parsed.source), None)
            if other is not None:
                message = f"document format '{parsed.source}' is also mapped by {other}.toml"
                problems.append(MappingProblem(path, _line_of(text, ["source"]), "source", message))
            documents[Path(name).stem] = parsed
    if len(policies) > 1:
        names = ", ".join(sorted(policies))
        problems.append(
            MappingProblem(folder, None, "kind", f"one customer_master file at most, found {names}")
        )
    policy = next(iter(policies.values()), CustomerPolicy())
    problems += _misspelt_targets(folder, texts, policy) + _misspelt_group_by(folder, texts)
    if problems:
        return None, problems
    exports = {stem: d for stem, d in documents.items() if isinstance(d, DocumentMapping)}
    vouchers = {stem: d for stem, d in documents.items() if isinstance(d, VoucherMapping)}
    return MappingSet(maps, digest.hexdigest(), policy, dict(texts), exports, vouchers), []


def _readable(texts: Mapping[str, str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each file's name, text and raw data, by name; those that are no TOML are reported as such."""
    for name, text in sorted(texts.items()):
        try:
            yield name, text, tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue


def _misspelt_targets(folder: Path, texts: Mapping[str, str], policy: CustomerPolicy) -> list[MappingProblem]:
    """Inbound targets that nothing reads but that are a letter or two from a field read (`e_mail`,
    `nmae`): a typo would drop the field silently. Any other target (`industry`, `phone2`, `company_id`:
    a field of its own) is kept with the record, for rules to come. Read from each file's raw data, so
    that a file with other mistakes too has them all reported at once."""
    read = sorted(set(MASTER_FIELDS) | policy.fields_read())
    found = []
    for name, text, data in _readable(texts):
        fields = data.get("fields")
        if data.get("kind") != "inbound" or not isinstance(fields, list):
            continue
        for index, mapped in enumerate(fields):
            target = mapped.get("target") if isinstance(mapped, dict) else None
            near = _misspelling_of(target, read) if isinstance(target, str) else None
            if near is not None:
                message = f"target '{target}' is read by nothing — did you mean '{near}'?"
                line = _line_of(text, ["fields", index, "target"])
                found.append(MappingProblem(folder / name, line, f"fields[{index}].target", message))
    return found


def _misspelt_group_by(folder: Path, texts: Mapping[str, str]) -> list[MappingProblem]:
    """A document mapping's `group_by` that is no target and no column its fields read, but a letter or
    two from a target (`externalid`): an import would refuse every file for the column it lacks."""
    found = []
    for name, text, data in _readable(texts):
        group, fields = data.get("group_by"), data.get("fields")
        if data.get("kind") != "document" or not isinstance(group, str) or not isinstance(fields, list):
            continue
        mapped = [f for f in fields if isinstance(f, dict)]
        targets = [target for f in mapped if isinstance(target := f.get("target"), str)]
        columns = {f.get("source") for f in mapped}
        near = None if group in columns else _misspelling_of(group, targets)
        if near is not None:
            message = (
                f"group_by '{group}' is neither a target of this mapping nor a column its fields read — "
                f"did you mean '{near}'?"
            )
            found.append(MappingProblem(folder / name, _line_of(text, ["group_by"]), "group_by", message))
    return found


def _misspelling_of(target: str, read: Sequence[str]) -> str | None:
    """The read field `target` is a typo of: at most two edits from it, and no name built on it."""
    if target in read:
        return None
    for known in read:
        built_on = target.startswith(known) or known.startswith(target)
        if not built_on and abs(len(target) - len(known)) <= 2 and _edits(target, known) <= 2:
            return known
    return None


def _edits(a: str, b: str) -> int:
    """Levenshtein distance, an adjacent swap counting one edit (`nmae` is one from `name`)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def load_mapping_set(folder: Path) -> tuple[MappingSet | None, list[MappingProblem]]:
    """Every *.toml in `folder`, validated; the set only when there is no problem at all."""
    if not folder.is_dir():
        return None, [MappingProblem(folder, None, "(folder)", "the mappings folder does not exist")]
    texts: dict[str, str] = {}
    unreadable: list[MappingProblem] = []
    for path in sorted(folder.glob("*.toml")):
        if path.name.startswith("."):
            continue  # an editor's lock or swap file, not a mapping
        try:
            raw = path.read_bytes()
        except OSError as exc:  # a folder named *.toml, a dangling link, no permission
            unreadable.append(MappingProblem(path, None, "(file)", f"cannot be read: {exc.strerror or exc}"))
            continue
        try:
            texts[path.name] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # a GB18030 file read as UTF-8 would send mangled text
            line = raw[: exc.start].count(b"\n") + 1
            unreadable.append(MappingProblem(path, line, "(file)", "not UTF-8 text: save the file as UTF-8"))
    mappings, problems = parse_mapping_texts(folder, texts)
    if unreadable:
        return None, unreadable + problems
    return mappings, problems
