"""Mapping files: TOML validated by pydantic models that forbid unknown keys.

kind = "inbound"            # inbound: source records → canonical fields; outbound: ledger figures → CRM
source = "zoho.Contacts"    # which adapter stream (inbound) or CRM module (outbound) it serves
                            # (kind = "customer_master" files are connector.master.policy's)

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
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.mapping.converters import REGISTRY

# What an outbound map can send to the CRM: the customer's master data and its ledger figures.
FIGURES: dict[str, str] = {
    "account_number": "the customer's account number (immutable)",
    "customer_type": "class code, e.g. KA / SME / IND",
    "region": "region code",
    "value_tier": "high / medium / low (or the policy's own tiers)",
    "currency": "ISO 4217 code of the customer's figures",
    "balance": "receivable minus unapplied credit",
    "receivable": "open receivable on the AR control account",
    "unapplied_credit": "receipts not yet applied to invoices",
    "overdue": "receivable past its due date",
    "aging_current": "not yet due",
    "aging_1_30": "1–30 days past due",
    "aging_31_60": "31–60 days past due",
    "aging_61_90": "61–90 days past due",
    "aging_90_plus": "more than 90 days past due",
    "credit_limit": "credit limit",
    "available_credit": "credit limit minus balance",
    "credit_score": "0–100, documented formula",
    "credit_status": "OK / WATCH / HOLD / BLOCKED",
    "payment_terms_days": "payment terms in days",
    "last_payment_date": "date of the last receipt",
    "last_payment_amount": "amount of the last receipt",
    "paid_trailing_12m": "receipts over the trailing twelve months",
    "as_of": "when the figures were computed",
}


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
        pattern = self.options.get("pattern")
        if self.name == "regex" and isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"converter 'regex': invalid pattern {pattern!r}: {exc}") from None
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

    def source_fields(self) -> tuple[str, ...]:
        """The top-level source fields the mapping reads, in file order: what to ask an API for."""
        names = (str(field.source).split(".", 1)[0] for field in self.fields if field.source is not None)
        return tuple(dict.fromkeys(names))

    @staticmethod
    def cross_check(data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Checks across fields on the raw file data, as (key, message): they run even when other keys
        fail validation, so a file's every mistake is reported at once."""
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        fields = data.get("fields")
        for index, field in enumerate(fields if isinstance(fields, list) else []):
            if not isinstance(field, Mapping):
                continue
            target = field.get("target")
            if isinstance(target, str) and target in seen:
                found.append((f"fields[{index}].target", f"target '{target}' is mapped twice"))
            seen.add(str(target))
            source = field.get("source")
            if data.get("kind") == "outbound" and source not in FIGURES:
                message = f"unknown figure '{source}' — {closest(str(source), list(FIGURES))}"
                found.append((f"fields[{index}].source", message))
        return found
