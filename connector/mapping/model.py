"""Mapping files: TOML validated by pydantic models that forbid unknown keys.

kind = "inbound"            # inbound: source records → canonical fields; outbound: ledger figures → CRM
source = "zoho.Contacts"    # which adapter stream (inbound) or CRM module (outbound) it serves
                            # (kind = "customer_master" files are connector.master.policy's,
                            # kind = "document" files describe an export: DocumentMapping below)

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

import codecs
import difflib
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from connector.credit.rules import STATUSES
from connector.mapping.converters import REGISTRY, options_problem
from connector.money import currency_code

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
    "overdue": "balance past its due date (unapplied credit set against the oldest items first)",
    "aging_current": "not yet due",
    "aging_1_30": "1–30 days past due",
    "aging_31_60": "31–60 days past due",
    "aging_61_90": "61–90 days past due",
    "aging_90_plus": "more than 90 days past due",
    "credit_limit": "credit limit",
    "available_credit": "credit limit minus balance",
    "credit_score": "0–100, documented formula",
    "credit_status": "OK / WATCH / HOLD / BLOCKED",
    "credit_status_reason": "why the credit status is what it is, with the amounts and days",
    "other_currencies": "what is owed in currencies other than the customer's (left out of its amounts)",
    "payment_terms_days": "payment terms in days",
    "last_payment_date": "date of the last receipt",
    "last_payment_amount": "amount of the last receipt",
    "paid_trailing_12m": "receipts over the trailing twelve months",
    "as_of": "when the figures were computed",
}

# What each figure is, for the converters that read only one kind (the rest are text).
AMOUNT_FIGURES = frozenset(
    {
        "balance", "receivable", "unapplied_credit", "overdue", "aging_current", "aging_1_30", "aging_31_60",
        "aging_61_90", "aging_90_plus", "credit_limit", "available_credit", "last_payment_amount",
        "paid_trailing_12m",
    }
)  # fmt: skip
_NUMBER_FIGURES = AMOUNT_FIGURES | {"credit_score", "payment_terms_days"}
DATE_FIGURES = frozenset({"last_payment_date", "as_of"})
_READS = {"number": (_NUMBER_FIGURES, "an amount"), "format_decimal": (_NUMBER_FIGURES, "an amount")}
_READS["format_date"] = (DATE_FIGURES, "a date")


def _figure_problem(index: int, figure: str, steps: Any) -> list[tuple[str, str]]:
    """The first converter of an outbound field when it cannot read its figure (a date formatted as an
    amount): every customer's push would fail on it."""
    first = steps[0] if isinstance(steps, list) and steps else None
    name = first.get("name") if isinstance(first, Mapping) else first
    if not isinstance(name, str) or name not in _READS:
        return []
    figures, what = _READS[name]
    if figure in figures:
        return []
    fitting = ", ".join(sorted(figures))
    return [(f"fields[{index}].convert[0]", f"{name} reads {what}; {figure} is not one (it reads {fitting})")]


def _status_map_problem(index: int, figure: str, steps: Any) -> list[tuple[str, str]]:
    """A map of the credit status lacking one of the statuses, with no default: every customer reaching
    that status would be held unsent, the CRM showing its old status as current."""
    first = steps[0] if isinstance(steps, list) and steps else None
    if figure != "credit_status" or not isinstance(first, Mapping) or first.get("name") != "map":
        return []
    values = first.get("values")
    if first.get("default") is not None or not isinstance(values, Mapping):
        return []
    missing = [status for status in STATUSES if status not in values]
    if not missing:
        return []
    lacking = ", ".join(missing)
    return [
        (
            f"fields[{index}].convert[0]",
            f"map has no value for credit status {lacking} and no default: a customer with it would not be "
            "pushed (the credit status is one of OK, WATCH, HOLD, BLOCKED)",
        )
    ]


def closest(word: str, choices: list[str]) -> str:
    """' — did you mean 'x'?' for the nearest choice, or the list of valid ones."""
    found = nearest(word, choices)
    return f"did you mean '{found}'?" if found is not None else f"valid: {', '.join(sorted(choices))}"


def nearest(word: str, choices: list[str]) -> str | None:
    """The choice `word` is most likely a misspelling of, if one is close enough."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def known_encoding(value: str | None) -> str | None:
    """A mapping's `encoding`, when Python knows it."""
    if value is not None:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, gb18030, cp1252)") from None
    return value


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
        formats = self.options.get("format")
        if self.name in ("date", "datetime") and not isinstance(formats, str) and not _text_list(formats):
            raise ValueError(
                f"converter '{self.name}': format must be a format or a non-empty list of formats"
            )
        pattern = self.options.get("pattern")
        if self.name == "regex" and isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"converter 'regex': invalid pattern {pattern!r}: {exc}") from None
        problem = options_problem(self.name, self.options)
        if problem is not None:
            raise ValueError(f"converter '{self.name}': {problem}")
        return self


def _text_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(item, str) for item in value)


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
        if isinstance(value, str):
            raise ValueError(f'convert is a list of steps: write convert = ["{value}"]')
        if isinstance(value, Mapping):
            raise ValueError('convert is a list of steps: write convert = [{ name = "…", … }]')
        return value


class MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["inbound", "outbound"]
    source: str = Field(min_length=1)
    description: str = ""
    # Inbound: the encoding of a file of records (`customers import`, `mapping preview --sample`), as an
    # export mapping's; default detected.
    encoding: str | None = None
    fields: tuple[FieldMap, ...] = Field(min_length=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        return known_encoding(value)

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
            if data.get("kind") == "outbound" and (not isinstance(source, str) or source not in FIGURES):
                message = f"unknown figure '{source}' — {closest(str(source), list(FIGURES))}"
                found.append((f"fields[{index}].source", message))
            elif data.get("kind") == "outbound":
                found += _figure_problem(index, str(source), field.get("convert"))
                found += _status_map_problem(index, str(source), field.get("convert"))
            if data.get("kind") == "inbound":
                found += _sourceless_problem(index, field)
            found += _template_problems(index, field.get("convert"), seen - {str(target)})
        if data.get("kind") == "outbound" and "encoding" in data:
            found.append(("encoding", "an outbound mapping reads no file: `encoding` is for inbound ones"))
        if data.get("kind") == "inbound" and isinstance(fields, list) and "external_id" not in seen:
            # a record without its id can be neither bound to its customer nor found again
            found.append(("fields", "an inbound mapping needs a field for external_id (the record's own id)"))
        return found


# The steps that give a value where the source has none: a field without `source` is filled by them alone.
_FILLING = ("default", "template")


def _sourceless_problem(index: int, field: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A field with no `source` and no step that gives a value without one (`default`, `template`, a
    `map` with a default): it would be empty in every record, without a word. A field with an unknown
    key (`sorce`) has that reported instead."""
    if "source" in field or set(field) - set(FieldMap.model_fields):
        return []
    steps = field.get("convert")
    for step in steps if isinstance(steps, list) else []:
        name = step.get("name") if isinstance(step, Mapping) else step
        if name in _FILLING or (name == "map" and isinstance(step, Mapping) and "default" in step):
            return []
    message = (
        f"no source: target '{field.get('target')}' would be empty in every record — add source = the field "
        "or column it reads, or a step that gives a value without one (default, template, map with a default)"
    )
    return [(f"fields[{index}].source", message)]


def _template_problems(index: int, steps: Any, before: set[str]) -> list[tuple[str, str]]:
    """A template's names that no record could fill: neither `value` nor a target mapped before it
    (every record would fail on it)."""
    found: list[tuple[str, str]] = []
    for number, step in enumerate(steps if isinstance(steps, list) else []):
        text = step.get("template") if isinstance(step, Mapping) and step.get("name") == "template" else None
        if not isinstance(text, str):
            continue
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            found.append((f"fields[{index}].convert[{number}].template", f"{text!r}: {exc}"))
            continue
        for name in sorted(names):
            field = re.split(r"[.\[]", name, maxsplit=1)[0]
            if "." in name:  # records are JSON: a value has keys, never attributes
                dotted = name.replace(".", "[", 1) + "]" if name.count(".") == 1 else name
                message = f"{{{name}}}: a template reads a key as {{{dotted}}}, never with a point"
                found.append((f"fields[{index}].convert[{number}].template", message))
            elif field != "value" and field not in before:
                known = sorted({"value", *before})
                message = (
                    f"{{{name}}} is neither value nor a field mapped before it — {closest(field, known)}"
                )
                found.append((f"fields[{index}].convert[{number}].template", message))
    return found


# --- kind = "document": a tabular export (CSV/XLSX) read into connector.documents.Document ----------------

DOCUMENT_KINDS = ("invoice", "credit_note", "payment", "refund", "bank_line")

# What a document mapping's fields fill: the parts of a Document (see connector/documents.py).
DOCUMENT_TARGETS: dict[str, str] = {
    "kind": "invoice, credit_note, payment, refund or bank_line per row (instead of the file's `document`)",
    "external_id": "the source's stable id of the document (required)",
    "number": "the number printed on the document",
    "date": "the document's date (required)",
    "due_date": "when an invoice falls due",
    "value_date": "when the money moved (bank lines)",
    "amount": "the amount (required): positive, except bank lines (money in is positive)",
    "currency": "ISO 4217 code (required unless default_currency is set)",
    "party_name": "the customer's name as the source writes it",
    "party_account_no": "our customer account number, when the source carries it",
    "party_external_id": "the customer's id in the source system",
    "party_bank_account": "IBAN or account number the money came from",
    "reference": "text the matcher searches for invoice or account numbers; may repeat, or reference_1 …",
    "account": "a bank line's statement account, or the bank account a payment was deposited to",
    "bank_charges": "what the bank kept of a payment (its fee): the bank receives the amount less it, "
    "and a credit note `.kept` of it settles the rest of the customer's invoices",
    "allocation_invoice": "the invoice this row of a payment is applied to",
    "allocation_amount": "the amount applied to that invoice (default: the row's whole amount)",
}
_REFERENCE = re.compile(r"reference(?:_[1-9])?")
REQUIRED_TARGETS = ("external_id", "date", "amount")


def compiled_pattern(value: str) -> str:
    """`value` when it is a regular expression, else a ValueError naming it."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid pattern {value!r}: {exc}") from None
    return value


class Detect(BaseModel):
    """How `--format auto` recognises the file: every one of these column headers is in its first rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headers: tuple[str, ...] = Field(min_length=1)


Withdraws = bool | Literal["if_imported"]  # what a skip rule's rows do to their documents: see SkipRule


class SkipRule(BaseModel):
    """Rows that are no document, such as a totals line (合计, TOTAL): the column's text matches `matches`
    (a regular expression searched in the stripped cell). Nothing else is ever skipped silently, and a
    file without the column is refused unless the rule is `optional` (its rows would post)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | int
    matches: str = Field(min_length=1)
    # The rows it skips withdraw their document (void, deleted): one imported earlier under its id is
    # reversed; one never imported has nothing to undo, and stays unposted should an older export of it
    # come later. "if_imported": withdrawn while the source says so (a bill un-audited, in audit, void):
    # one imported is reversed (posted again once an export lists it live), one never imported is left
    # to post when an export lists it live.
    withdraws: Withdraws = False
    # A file without the column is read, the import saying so (the rows it would skip are then read:
    # drafts post, void documents read as live); else a file without it is refused.
    optional: StrictBool = False

    @field_validator("matches")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return compiled_pattern(value)


class TabularExport(BaseModel):
    """What every export mapping says: how its file is found and read, its skipped rows and fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1)  # the format's name, e.g. "zoho_books.payments"; Document.source
    description: str = ""
    detect: Detect
    # Default: UTF-8 (with or without BOM), else GB18030, else detected. A declared one is read strictly.
    encoding: str | None = None
    sheet: str | int | None = None  # XLSX: a sheet name or 1-based position; default the first sheet
    header_row: int | None = Field(default=None, ge=1)  # default: the first row with the detect headers
    delimiter: Literal[",", ";", "\t", "|"] | None = None  # CSV; default: sniffed from the header line
    default_currency: str | None = None
    skip: tuple[SkipRule, ...] = ()
    fields: tuple[FieldMap, ...] = Field(min_length=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        return known_encoding(value)

    @field_validator("default_currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return None if value is None else currency_code(value)


class DocumentMapping(TabularExport):
    """An export file's columns → invoices, credit notes, payments or bank lines (kind = "document")."""

    kind: Literal["document"]
    document: Literal["invoice", "credit_note", "payment", "refund", "bank_line"] | None = None
    group_by: str | None = None  # a target or a column: consecutive rows with one value are one document
    # A negative invoice, credit note or refund: a bad row (refuse), taken as positive (absolute), or for
    # an invoice a credit note of its amount (credit_note: a red invoice, 红字发票), else refused. A
    # negative payment is a refund of its amount (money paid back), unless `absolute` takes it as positive.
    negative_amounts: Literal["refuse", "absolute", "credit_note"] = "refuse"
    # Composite ids (a digest of content): repeated within a file they get #2, #3 …; a new one like a
    # document of an earlier file waits for a person (`connector.imports.lookalikes`).
    number_duplicates: bool = False

    def column_headers(self) -> tuple[str, ...]:
        """The columns the fields read by name, in file order."""
        return tuple(dict.fromkeys(f.source for f in self.fields if isinstance(f.source, str)))

    @staticmethod
    def cross_check(data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Targets, on the raw file data (so they are reported beside any other mistake)."""
        found, targets = _checked_targets(data, list(DOCUMENT_TARGETS), REQUIRED_TARGETS, "a document")
        if (data.get("document") is not None) == ("kind" in targets):
            found.append(
                (
                    "document",
                    "set either document = one of invoice, credit_note, payment, "
                    "refund, bank_line, or a field with target 'kind' — exactly one of them",
                )
            )
        return found + _numbered_id_problems(data)


def _numbered_id_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`number_duplicates` on an id the source gives: a repeated id is one document exported twice (or
    again, changed), never a second document. Only an id made of the row's content (`template`, then
    `digest`) repeats for two documents alike."""
    fields = data.get("fields")
    ids = [f for f in (fields if isinstance(fields, list) else []) if isinstance(f, Mapping)]
    ids = [f for f in ids if f.get("target") == "external_id"]
    if data.get("number_duplicates") is not True or not ids:
        return []
    steps = ids[0].get("convert")
    last = steps[-1] if isinstance(steps, list) and steps else None
    name = last.get("name") if isinstance(last, Mapping) else last
    if name in ("digest", "template"):
        return []
    column = ids[0].get("source")
    read = "is no composite id" if column is None else f"reads {column!r} as the source's own id"
    message = (
        "number_duplicates is for composite ids (external_id made by `template` and `digest` from the "
        f"row's columns), where two identical rows are two documents; external_id {read}, so a repeated "
        "one is the same document again: remove number_duplicates"
    )
    return [("number_duplicates", message)]


# --- kind = "voucher": a general-ledger voucher (凭证) export, one row per entry line (分录) ------------

VOUCHER_TARGETS: dict[str, str] = {
    "voucher_number": "the voucher's number (凭证号), the same on each of its lines (required)",
    "voucher_word": "the voucher's type word (凭证字 记/收/付/转), part of its key",
    "period": "the accounting period the numbers count in (会计期间; default: the date's year and month)",
    "date": "the voucher's date (required)",
    "ledger_account": "the line's account code (科目代码 / 科目编码) (required)",
    "debit": "the line's debit amount (借方金额)",
    "credit": "the line's credit amount (贷方金额), like the debit in the books' currency (default_currency)",
    "currency": "ISO 4217 code (required unless default_currency is set)",
    "amount_original": "a foreign-currency line's amount in its currency (原币金额 / 外币金额)",
    "party_name": "the customer of the line (核算项目 / 辅助核算: 客户)",
    "party_external_id": "the customer's code in the accounting system",
    "party_account_no": "our customer account number, when the source carries it",
    "reference": "the line's summary (摘要): searched for invoice and account numbers",
}
REQUIRED_VOUCHER_TARGETS = ("voucher_number", "date", "ledger_account", "debit", "credit")


class VoucherMapping(TabularExport):
    """A voucher export's columns → the customers' receivable lines as documents (kind = "voucher").

    Each line on a `receivable` account becomes one document: a debit an invoice, a credit a receipt when
    the voucher moves money on a `bank` account or takes a customer's note on a `notes` one, and a credit
    note otherwise. A voucher's lines are consecutive rows; one whose debits and credits differ is refused
    whole."""

    kind: Literal["voucher"]
    receivable: str = "^1122"  # a regular expression searched in the account code
    # Cash, bank deposits and other monetary funds (其他货币资金: Alipay, WeChat Pay balances)
    bank: str = "^(100[12]|1012)"
    # Notes a customer pays with (应收票据 1121: a bank acceptance draft): no bank money, so their receipts
    # post to the note's account when the chart keeps it apart, never to the bank.
    notes: str = "^1121"
    # The digits the source writes a voucher number with (用友 0012: 4): an all-digit number is written so
    # (12 → 0012, zeros before them dropped), so that one a spreadsheet saved as a number is the same
    # voucher, under the id the source's own spelling gives it. 1 drops every leading zero; unset, a
    # number is taken as written.
    voucher_number_digits: int | None = Field(default=None, ge=1, le=20)

    @field_validator("receivable", "bank", "notes")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return compiled_pattern(value)

    @staticmethod
    def cross_check(data: Mapping[str, Any]) -> list[tuple[str, str]]:
        found, _ = _checked_targets(data, list(VOUCHER_TARGETS), REQUIRED_VOUCHER_TARGETS, "a voucher")
        skips = data.get("skip")
        if isinstance(skips, list) and any(isinstance(r, dict) and r.get("withdraws") for r in skips):
            found.append(("skip", "withdraws is for document exports: a voucher is withdrawn by its red ink"))
        return found


def _checked_targets(
    data: Mapping[str, Any], known: list[str], required: Sequence[str], what: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """An export mapping's unknown, repeated and missing targets, on the raw file data (so they are
    reported beside any other mistake); and its targets."""
    found: list[tuple[str, str]] = []
    raw_fields = data.get("fields")
    fields = [f for f in (raw_fields if isinstance(raw_fields, list) else []) if isinstance(f, Mapping)]
    targets: list[str] = []
    for index, field in enumerate(fields):
        target = field.get("target")
        if not isinstance(target, str):
            continue
        if target not in known and _REFERENCE.fullmatch(target) is None:
            found.append((f"fields[{index}].target", f"unknown target '{target}' — {closest(target, known)}"))
        elif target in targets and target != "reference":
            found.append((f"fields[{index}].target", f"target '{target}' is mapped twice"))
        found += _sourceless_problem(index, field)
        found += _template_problems(index, field.get("convert"), set(targets) - {target})
        targets.append(target)
    if isinstance(raw_fields, list):
        missing = [target for target in required if target not in targets]
        if "currency" not in targets and not data.get("default_currency"):
            missing.append("currency (or set default_currency)")
        if missing:
            found.append(("fields", f"{what} mapping needs a field for {', '.join(missing)}"))
    return found, targets
