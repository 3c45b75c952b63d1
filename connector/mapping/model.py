"""Mapping files: TOML validated by pydantic models that forbid unknown keys.

kind = "inbound"            # inbound: source records → canonical fields; outbound: ledger figures → CRM
source = "zoho.Contacts"    # which adapter stream (inbound) or CRM module (outbound) it serves

[[fields]]
target = "name"
source = "Account_Name.name"          # dotted path into JSON, or a column name / index for CSV
convert = ["strip", "collapse_spaces", "required"]

[[fields]]
target = "phone"
source = "Phone"
convert = [{ name = "phone", region = "CN" }]
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.mapping.converters import REGISTRY


def closest(word: str, choices: list[str]) -> str:
    """' — did you mean 'x'?' for the nearest choice, or the list of valid ones."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{found[0]}'?" if found else f"valid: {', '.join(sorted(choices))}"


class Step(BaseModel):
    """One converter in a chain, with its options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _known_converter_and_options(self) -> Step:
        converter = REGISTRY.get(self.name)
        if converter is None:
            raise ValueError(f"unknown converter '{self.name}' — {closest(self.name, list(REGISTRY))}")
        for option in self.options:
            if option not in converter.options:
                allowed = ", ".join(converter.options) or "none"
                raise ValueError(f"converter '{self.name}' has no option '{option}' (options: {allowed})")
        missing = [option for option in converter.required_options if option not in self.options]
        if missing:
            raise ValueError(f"converter '{self.name}' needs option(s) {', '.join(missing)}")
        return self


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(min_length=1)
    source: str | int | None = None
    convert: tuple[Step, ...] = ()

    @field_validator("convert", mode="before")
    @classmethod
    def _names_are_steps(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"name": step} if isinstance(step, str) else step for step in value]
        return value


class MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["inbound", "outbound"]
    source: str = Field(min_length=1)
    description: str = ""
    fields: tuple[FieldMap, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _targets_once(self) -> MappingFile:
        seen: set[str] = set()
        for index, field in enumerate(self.fields):
            if field.target in seen:
                raise ValueError(f"fields[{index}]: target '{field.target}' is mapped twice")
            seen.add(field.target)
        return self
