"""Loading a folder of mapping files and reporting every mistake with file, line, key and a hint."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from connector.mapping.model import FieldMap, MappingFile, closest


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
    files: dict[str, MappingFile]  # by file stem
    digest: str  # SHA-256 over the files' bytes: recorded with every sync run


def _line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """Best-effort line number of `loc` in the TOML text (tomllib keeps no positions)."""
    lines = text.splitlines()
    start = 0
    previous: str | int | None = None
    for part in loc:
        if isinstance(part, int):
            if previous == "fields":  # the n-th [[fields]] table; other indexes are inside a value
                headers = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[fields\]\]", line)]
                if part < len(headers):
                    start = headers[part]
            previous = part
            continue
        previous = part
        pattern = re.compile(rf"^\s*{re.escape(part)}\s*=|[\"']{re.escape(part)}[\"']")
        for number in range(start, len(lines)):
            if pattern.search(lines[number]):
                start = number
                break
    return start + 1 if loc else None


def _value_line(text: str, near: int | None, value: str) -> int | None:
    lines = text.splitlines()
    for number in range((near or 1) - 1, len(lines)):
        if f'"{value}"' in lines[number] or f"'{value}'" in lines[number]:
            return number + 1
    return near


def _model_for(loc: Sequence[str | int]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = MappingFile
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        model = FieldMap if part == "fields" and model is MappingFile else None
    return model


def _problems(path: Path, text: str, error: ValidationError) -> list[MappingProblem]:
    problems = []
    errors = error.errors(include_input=True)
    nested = any(len(item["loc"]) > 1 for item in errors)
    for item in errors:
        if item["type"] == "too_short" and tuple(item["loc"]) == ("fields",) and nested:
            continue  # pydantic's echo of fields that failed on their own, reported below
        loc = [
            part for part in item["loc"] if part not in ("function-after[_known_converter_and_options()]",)
        ]
        message = item["msg"].removeprefix("Value error, ")
        line = _line_of(text, loc)
        if item["type"] == "extra_forbidden":
            owner = _model_for(loc[:-1])
            if owner is not None:
                message = f"unknown key '{loc[-1]}' — {closest(str(loc[-1]), list(owner.model_fields))}"
        elif "unknown converter '" in message:
            line = _value_line(text, line, message.split("'")[1])
        key = ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in loc).replace(".[", "[")
        problems.append(MappingProblem(path, line, key or "(file)", message))
    return problems


def load_mapping_set(folder: Path) -> tuple[MappingSet | None, list[MappingProblem]]:
    """Every *.toml in `folder`, validated; the set only when there is no problem at all."""
    if not folder.is_dir():
        return None, [MappingProblem(folder, None, "(folder)", "the mappings folder does not exist")]
    files: dict[str, MappingFile] = {}
    problems: list[MappingProblem] = []
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.toml")):
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        text = raw.decode("utf-8", errors="replace")
        try:
            files[path.stem] = MappingFile.model_validate(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"at line (\d+)", str(exc))  # tomllib names the line only in its message
            problems.append(MappingProblem(path, int(at.group(1)) if at else None, "(syntax)", str(exc)))
        except ValidationError as exc:
            problems.extend(_problems(path, text, exc))
    if problems:
        return None, problems
    return MappingSet(files, digest.hexdigest()), []
