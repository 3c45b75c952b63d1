"""The CRM fields the push writes: checked against Zoho's field metadata, the missing ones created.

Every target of an outbound mapping (`zoho.<Module>`) must be a field of that module that can hold
what the mapping sends. What it sends follows from the figure (`FIGURE_NEEDS`, one entry per key of
`connector.mapping.model.FIGURES`) and the converters applied to it, in order (`field_need`):

    money figures            currency, 2 decimals (or the `number` converter's places)
    credit_score             double (decimal)
    payment_terms_days       integer
    dates                    date; `format_date` with %Y-%m-%d keeps a date, any other format is text
    map                      picklist with the map's values (statuses, tiers)
    template, format_decimal text

`plan_fields` compares that with the module's fields (pure); a field that exists but cannot hold the
values — another type, fewer decimals, read-only, a text shorter than what is sent, a picklist lacking a
mapped value — is a problem for an admin and is never changed. `create_fields` adds the missing ones
through `POST /settings/fields`, labelled as the API name with spaces for underscores (Zoho derives the
API name from the label).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.zoho.client import ZohoApi, ZohoApiError
from connector import retry
from connector.credit.figures import REASON_LENGTH
from connector.errors import StoppingError
from connector.mapping.files import MappingSet
from connector.mapping.model import MappingFile, Step

CREATE_BATCH = 5  # fields per POST /settings/fields
TEXT_TYPES = frozenset({"text", "textarea"})
MONEY_PLACES = 2


@dataclass(frozen=True)
class FieldNeed:
    """What a CRM field must be to hold the values a mapping sends."""

    data_type: str  # the Zoho data_type to create: currency, double, integer, picklist, date, text …
    places: int | None = None  # decimal places of currency and double values
    picklist: tuple[str, ...] = ()
    integral: bool = False  # values are whole numbers: an integer field holds them too
    as_text: bool = False  # values are sent as text: a text field holds them too
    length: int | None = None  # the longest text sent, when known: a shorter text field refuses it

    def describe(self) -> str:
        if self.data_type in {"currency", "double"}:
            return f"{self.data_type} ({self.places} decimals)"
        if self.picklist:
            return f"picklist ({', '.join(self.picklist)})"
        return self.data_type


def _money() -> FieldNeed:
    return FieldNeed("currency", places=MONEY_PLACES)


TEXT = FieldNeed("text", as_text=True)
LONG_TEXT = FieldNeed("text", as_text=True, length=REASON_LENGTH)  # a reason, other currencies' amounts
DATE = FieldNeed("date", as_text=True)

# The natural field type of each figure, before converters.
FIGURE_NEEDS: dict[str, FieldNeed] = {
    "account_number": TEXT,
    "customer_type": TEXT,
    "region": TEXT,
    "value_tier": TEXT,
    "currency": TEXT,
    "balance": _money(),
    "receivable": _money(),
    "unapplied_credit": _money(),
    "overdue": _money(),
    "aging_current": _money(),
    "aging_1_30": _money(),
    "aging_31_60": _money(),
    "aging_61_90": _money(),
    "aging_90_plus": _money(),
    "credit_limit": _money(),
    "available_credit": _money(),
    "credit_score": FieldNeed("double", places=2, integral=True),
    "credit_status": FieldNeed("picklist", picklist=("OK", "WATCH", "HOLD", "BLOCKED"), as_text=True),
    "credit_status_reason": LONG_TEXT,
    "other_currencies": LONG_TEXT,
    "payment_terms_days": FieldNeed("integer", integral=True),
    "last_payment_date": DATE,
    "last_payment_amount": _money(),
    "paid_trailing_12m": _money(),
    "as_of": DATE,
}
_TEXT_STEPS = frozenset(
    {"strip", "lower", "upper", "title", "collapse_spaces", "fullwidth_to_halfwidth", "required", "default"}
)


def _after(need: FieldNeed, step: Step, money: bool) -> FieldNeed:
    options = step.options
    if step.name == "map":
        values = [str(v) for v in dict(options["values"]).values() if v not in (None, "")]
        fallback = options.get("default")
        if fallback not in (None, ""):
            values.append(str(fallback))
        return FieldNeed("picklist", picklist=tuple(dict.fromkeys(values)), as_text=True)
    if step.name in {"number", "decimal"}:
        places = int(options.get("places", MONEY_PLACES))
        kind = "currency" if money else "double"
        return FieldNeed(kind, places=places, integral=need.integral and places == 0)
    if step.name in {"format_date", "date"}:
        iso = options.get("format", "%Y-%m-%d") == "%Y-%m-%d"
        return DATE if iso else TEXT
    if step.name == "datetime":
        return FieldNeed("datetime", as_text=True)
    if step.name in {"email", "phone"}:
        return FieldNeed(step.name, as_text=True)
    if step.name in _TEXT_STEPS:
        return need if need.as_text or step.name in {"required", "default"} else TEXT
    return TEXT  # template, format_decimal, regex: the value leaves as text


def field_need(figure: str, steps: Sequence[Step] = ()) -> FieldNeed:
    """The field type that holds `figure` after `steps` (pure; a figure without a known type is text)."""
    need = FIGURE_NEEDS.get(figure, TEXT)
    money = need.data_type == "currency"
    for step in steps:
        need = _after(need, step, money)
    return need


def zoho_api_name(label: str) -> str:
    """The API name Zoho gives a custom field labelled `label`: anything not a letter or digit → `_`."""
    return re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_")


def label_for(api_name: str) -> str:
    return api_name.replace("_", " ").strip()


@dataclass(frozen=True)
class WantedField:
    """A field an outbound mapping writes, and what it must be."""

    module: str
    api_name: str
    need: FieldNeed

    @property
    def label(self) -> str:
        return label_for(self.api_name)

    def create_body(self) -> dict[str, Any]:
        """One item of `POST /settings/fields`."""
        need = self.need
        body: dict[str, Any] = {"field_label": self.label, "data_type": need.data_type}
        if need.data_type == "currency":
            body["decimal_place"] = need.places
            body["currency"] = {"rounding_option": "normal", "precision": need.places}
        elif need.data_type == "double":
            body["decimal_place"] = need.places
        elif need.data_type == "picklist":
            body["pick_list_values"] = [{"display_value": v, "actual_value": v} for v in need.picklist]
        elif need.data_type == "text":
            body["length"] = need.length or REASON_LENGTH  # Zoho's longest single-line text
        return body


@dataclass(frozen=True)
class ExistingField:
    api_name: str
    label: str
    data_type: str
    decimal_place: int | None = None
    read_only: bool = False  # for the connector's user (`read_only`) or for everyone (`field_read_only`)
    length: int | None = None
    picklist: tuple[str, ...] = ()  # the values a write names (`actual_value`)

    @classmethod
    def from_metadata(cls, item: Mapping[str, Any]) -> ExistingField:
        places, length = item.get("decimal_place"), item.get("length")
        options = item.get("pick_list_values")
        return cls(
            str(item.get("api_name", "")),
            str(item.get("field_label") or item.get("display_label") or ""),
            str(item.get("data_type", "")),
            places if isinstance(places, int) and not isinstance(places, bool) else None,
            item.get("read_only") is True or item.get("field_read_only") is True,
            length if isinstance(length, int) and not isinstance(length, bool) else None,
            tuple(
                str(option.get("actual_value", option.get("display_value")))
                for option in (options if isinstance(options, list) else [])
                if isinstance(option, Mapping)
            ),
        )


@dataclass(frozen=True)
class FieldProblem:
    module: str
    api_name: str
    message: str

    def __str__(self) -> str:
        return f"{self.module}.{self.api_name}: {self.message}"


@dataclass
class FieldPlan:
    missing: list[WantedField] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)
    present: list[WantedField] = field(default_factory=list)


def wanted_fields(module: str, mapping: MappingFile) -> list[WantedField]:
    """The targets of an outbound mapping with the field type each needs, in file order."""
    return [
        WantedField(module, f.target, field_need(str(f.source), f.convert))
        for f in mapping.fields
        if f.source is not None
    ]


def incompatibility(need: FieldNeed, existing: ExistingField) -> str | None:
    """Why `existing` cannot hold what the mapping sends, or None when it can (pure)."""
    kind = existing.data_type
    if existing.read_only:  # Zoho leaves it as it was, answering success
        return "is read-only for the connector's user: the push cannot write it; make it editable"
    accepted = {need.data_type}
    if need.data_type == "currency":
        accepted |= {"double"}
    elif need.data_type == "double":
        accepted |= {"currency", "percent"} | ({"integer", "bigint"} if need.integral else set())
    elif need.data_type == "integer":
        accepted |= {"bigint", "double", "currency"}
    if need.as_text:
        accepted |= TEXT_TYPES
    if kind not in accepted:
        return f"is a {kind} field; the connector sends {need.describe()}: make it {need.data_type}"
    places = existing.decimal_place
    wanted = need.places or 0
    # Whole numbers (a score) fit a field of any places; other figures would be rounded by the CRM.
    if kind in {"currency", "double"} and places is not None and places < wanted and not need.integral:
        return f"rounds to {places} decimal place(s); the connector sends {wanted}"
    if kind in TEXT_TYPES and need.length and existing.length is not None and existing.length < need.length:
        return f"holds {existing.length} characters; the connector writes up to {need.length}: lengthen it"
    lacking = [value for value in need.picklist if value not in existing.picklist]
    if kind == "picklist" and lacking:
        return f"lacks the picklist value(s) {', '.join(map(repr, lacking))} the mapping sends: add them"
    return None


def plan_fields(wanted: Iterable[WantedField], existing: Iterable[ExistingField]) -> FieldPlan:
    """Which wanted fields exist and fit, which are missing, which need an admin (pure)."""
    by_name = {f.api_name: f for f in existing}
    by_label = {f.label.casefold(): f for f in by_name.values()}
    plan = FieldPlan()
    for want in wanted:
        found = by_name.get(want.api_name)
        if found is not None:
            why = incompatibility(want.need, found)
            if why is None:
                plan.present.append(want)
            else:
                plan.problems.append(FieldProblem(want.module, want.api_name, why))
            continue
        derived = zoho_api_name(want.label)
        if derived != want.api_name:
            plan.problems.append(
                FieldProblem(
                    want.module,
                    want.api_name,
                    f"missing, and a field labelled {want.label!r} would be named {derived!r}: "
                    "create it by hand or change the mapping's target",
                )
            )
        elif want.label.casefold() in by_label:
            other = by_label[want.label.casefold()].api_name
            plan.problems.append(
                FieldProblem(
                    want.module,
                    want.api_name,
                    f"missing, but a field labelled {want.label!r} exists as {other!r}: "
                    "change the mapping's target or rename that field",
                )
            )
        else:
            plan.missing.append(want)
    return plan


def outbound_modules(mappings: MappingSet) -> dict[str, MappingFile]:
    """Zoho module → its outbound mapping, for every `zoho.<Module>` outbound mapping."""
    found = {
        file.source.removeprefix("zoho."): file
        for file in mappings.files.values()
        if file.kind == "outbound" and file.source.startswith("zoho.")
    }
    return dict(sorted(found.items()))


# --- calls ------------------------------------------------------------------------------------------


def read_fields(api: ZohoApi, module: str) -> list[ExistingField]:
    response = api.call(
        "GET", "/settings/fields", params={"module": module}, what=f"zoho: fields of {module}"
    )
    items = (response.body or {}).get("fields")
    if not isinstance(items, list):
        return []
    return [ExistingField.from_metadata(item) for item in items if isinstance(item, dict)]


def plan_module(api: ZohoApi, module: str, mapping: MappingFile) -> FieldPlan:
    return plan_fields(wanted_fields(module, mapping), read_fields(api, module))


@dataclass(frozen=True)
class Created:
    wanted: WantedField
    error: str | None = None  # why Zoho refused it, when it did


def create_fields(api: ZohoApi, wanted: Sequence[WantedField]) -> list[Created]:
    """Create the fields, a few per call; one answer per field (a refused batch fails its fields only).

    Told to stop (`retry.STOPPING`), it stops between two calls: the fields without an answer are left,
    neither created nor refused (a call given up in its retry wait too: `setup` finds them missing)."""
    results: list[Created] = []
    by_module: dict[str, list[WantedField]] = {}
    for want in wanted:
        by_module.setdefault(want.module, []).append(want)
    for module, fields in by_module.items():
        for start in range(0, len(fields), CREATE_BATCH):
            if retry.STOPPING.is_set():
                return results
            try:
                results.extend(_create_batch(api, module, fields[start : start + CREATE_BATCH]))
            except StoppingError:
                return results
    return results


def _create_batch(api: ZohoApi, module: str, batch: list[WantedField]) -> list[Created]:
    try:
        response = api.call(
            "POST",
            "/settings/fields",
            params={"module": module},
            body={"fields": [want.create_body() for want in batch]},
            what=f"zoho: create {len(batch)} field(s) in {module}",
        )
    except ZohoApiError as exc:
        return [Created(want, str(exc)) for want in batch]
    answers = (response.body or {}).get("fields")
    answers = answers if isinstance(answers, list) else []
    results = []
    for n, want in enumerate(batch):
        answer = answers[n] if n < len(answers) and isinstance(answers[n], dict) else {}
        if answer.get("status") == "success":
            results.append(Created(want))
        else:
            code = answer.get("code", "no answer")
            results.append(Created(want, f"{code}: {answer.get('message', '')} {answer.get('details', '')}"))
    return results
