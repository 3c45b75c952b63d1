"""Mapping throughput: records through compiled mapping files, against the 100,000 records/s target.

Measured, one after the other in this process, each over N records generated before any timer starts:

* (a) Zoho Contacts — the shipped mappings/zoho_contacts.toml, compiled once, `compiled.map(record)` per
  JSON record as the adapter delivers it: unique ids, e-mails and phone numbers (mobile and fixed line,
  national and international, spaced, dashed, bracketed and full-width), CJK, Latin and full-width
  names, nested Account_Name.name (sometimes absent), Modified_Time with assorted offsets, and 1 % of
  records with a broken e-mail so the error path is part of the figure, and 2 % of phone numbers with
  an extension, which only phonenumbers' full parser reads (plainly written ones take the fast path);
* (b) payment export — a mapping built here for list-shaped CSV rows: required ids, an ISO date with a
  declared format, an amount written `1,234.56`, an upper-cased currency, a payment-method picklist
  and an invoice reference pulled out of the memo by a regex.

No input repeats within a pass, and caches are cleared before each pass, so the phone converter's
cache of recent numbers never hits; a warm-up on other records loads phonenumbers' metadata first.
Each mapping is timed over --repeat passes: the figures are the fastest pass (the code's own cost; a
shared machine only ever adds to it), with the median pass beside it. Printed: records/s, µs per
record, records mapped without errors, peak RSS and the ratio to the target for each mapping; the
contacts mapping without its phone field; then µs per value of every step of both mappings (each
step timed alone over the values it sees in the mapping), which shows where the time goes.

    .venv/bin/python -m bench.map_records [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import peak_rss_mb
from connector.mapping.apply import CompiledMapping, Record, compile_mapping
from connector.mapping.converters import ConversionError, clear_caches
from connector.mapping.files import load_mapping_set
from connector.mapping.model import MappingFile

TARGET_PER_S = 100_000
ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 2_000
MAX_RECORDS = 9_000_000  # phone numbers are unique below 10,000,000; warm-up records are numbered from here

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "欧阳", "司马")
GIVEN = ("小明", "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "洋", "艳")
LATIN = ("Wang Wei", "Li  Na", "John Smith", "Mary-Jane O'Neil", "José Álvarez", "Nguyễn Văn An")
FULLWIDTH = ("ＪＯＨＮ　ＳＭＩＴＨ", "ＡＢＣ　Ｔｒａｄｉｎｇ", "李　ＭＩＮＧ")
COMPANIES = (
    "上海明远贸易有限公司",
    "北京华信科技有限公司",
    "ACME  Trading Ltd.",
    "深圳市（南山）电子有限公司",
)
OFFSETS = ("+08:00", "+05:30", "-05:00", "+00:00", "+09:00")
COUNTRIES = (None, "China", " Singapore ", "", "China")
MOBILE_PREFIXES = ("138", "139", "150", "186", "177", "199")
METHODS = ("银行转账", "Bank Transfer", "支付宝", "WeChat Pay", "Cheque")
CURRENCIES = ("cny", "CNY", " usd ", "HKD")

PAYMENT_MAPPING: dict[str, Any] = {
    "kind": "inbound",
    "source": "bench.payments_csv",
    "fields": [
        {"target": "payment_id", "source": 0, "convert": ["strip", "required"]},
        {"target": "customer_id", "source": 1, "convert": ["strip", "required"]},
        {"target": "paid_on", "source": 2, "convert": [{"name": "date", "format": "%Y-%m-%d"}]},
        {"target": "amount", "source": 3, "convert": ["decimal", "required"]},
        {"target": "currency", "source": 4, "convert": ["strip", "upper", "required"]},
        {
            "target": "method",
            "source": 5,
            "convert": [
                {
                    "name": "map",
                    "values": {
                        "银行转账": "bank_transfer",
                        "Bank Transfer": "bank_transfer",
                        "支付宝": "alipay",
                        "WeChat Pay": "wechat",
                        "Cheque": "cheque",
                    },
                }
            ],
        },
        {"target": "invoice", "source": 6, "convert": [{"name": "regex", "pattern": r"(INV-\d{4}-\d{5,})"}]},
    ],
}


@dataclass(frozen=True)
class Result:
    label: str
    records: int
    seconds: float  # the fastest pass
    median_seconds: float
    clean: int  # records mapped without errors
    peak_rss_mb: float

    @property
    def per_s(self) -> float:
        return self.records / self.seconds

    def __str__(self) -> str:
        return (
            f"{self.label:<24} {self.records:>9,} records {self.seconds:>6.2f} s "
            f"{self.per_s:>9,.0f} records/s {self.seconds / self.records * 1e6:>6.2f} µs/record  "
            f"(median pass {self.records / self.median_seconds:,.0f}/s)  "
            f"clean {self.clean:,}  peak RSS {self.peak_rss_mb:,.1f} MB  "
            f"/ target {TARGET_PER_S:,}/s: {self.per_s / TARGET_PER_S:.2f}x"
        )


def to_fullwidth(text: str) -> str:
    return "".join(
        chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else "\u3000" if char == " " else char for char in text
    )


def phone_of(i: int) -> str:
    """A unique phone number for record `i` (i < 10,000,000), in one of the shapes CRM users type."""
    digits = f"{i:07d}"
    mobile = f"{MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]}{i % 10}{digits}"  # 11 digits, unique by digits
    if i % 50 == 7:  # 2 %: an extension
        return f"{mobile} ext. {i % 1000}"
    shape = i % 6
    if shape == 0:
        return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if shape == 1:
        return f"+86 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    if shape == 2:
        return f"(010) 6{digits[:3]} {digits[3:]}"  # Beijing fixed line, 8 digits
    if shape == 3:
        return f"021-6{digits}"  # Shanghai fixed line
    if shape == 4:
        return to_fullwidth(f"+86 {mobile}")
    return mobile


def name_of(i: int) -> str:
    shape = i % 5
    if shape == 3:
        return LATIN[i % len(LATIN)]
    if shape == 4:
        return FULLWIDTH[i % len(FULLWIDTH)]
    given = GIVEN[(i // len(SURNAMES)) % len(GIVEN)]
    space = "\u3000" if shape == 1 else ""
    return f"  {SURNAMES[i % len(SURNAMES)]}{space}{given} "


def contact(i: int) -> dict[str, Any]:
    """A Zoho CRM Contact as the API returns it (the fields the shipped mapping reads, and some others)."""
    account = None if i % 7 == 0 else {"name": COMPANIES[i % len(COMPANIES)], "id": f"48768760003{i:08d}"}
    email = f"User.{i}@Example.com" if i % 100 else f"user.{i} at example.com"  # 1 % broken
    moment = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
    return {
        "id": f"48768760006{i:08d}",
        "Full_Name": name_of(i),
        "First_Name": None,
        "Account_Name": account,
        "Email": email,
        "Phone": phone_of(i),
        "Mailing_Country": COUNTRIES[i % len(COUNTRIES)],
        "Modified_Time": moment + OFFSETS[i % len(OFFSETS)],
        "Owner": {"name": "Sales Rep", "id": "4876876000000100001"},
        "$approved": True,
    }


def payment_row(i: int) -> list[str]:
    """One row of a payment export as the CSV reader yields it: all text."""
    paid_on = date(2025, 1, 1) + timedelta(days=i % 700)
    minor = 100 + (i * 7919) % 100_000_000
    return [
        f" PAY-{i:09d}",
        f"C{i % 50_000:06d}",
        paid_on.isoformat(),
        f"{minor // 100:,}.{minor % 100:02d}",
        CURRENCIES[i % len(CURRENCIES)],
        METHODS[i % len(METHODS)],
        f"Payment for INV-2026-{i:05d}, thank you",
    ]


def shipped_contacts_mapping() -> MappingFile:
    mappings, problems = load_mapping_set(ROOT / "mappings")
    if mappings is None:
        raise SystemExit("\n".join(map(str, problems)))
    return mappings.files["zoho_contacts"]


def measure(label: str, compiled: CompiledMapping, records: Sequence[Record], repeat: int) -> Result:
    passes = []
    for _ in range(repeat):
        clear_caches()
        clean = 0
        started = time.perf_counter()
        for record in records:
            clean += compiled.map(record).ok
        passes.append(time.perf_counter() - started)
    return Result(label, len(records), min(passes), statistics.median(passes), clean, peak_rss_mb())


def time_step(step: Callable[..., Any], fills: bool, values: list[Any]) -> tuple[float, list[Any]]:
    """Seconds for `step` over `values`, and the values it passed on (refused ones drop out)."""
    passed: list[Any] = []
    keep = passed.append
    started = time.perf_counter()
    for value in values:
        try:
            keep(step(value, {}) if fills else step(value))
        except ConversionError:
            continue  # refused: not passed on to the next step
    return time.perf_counter() - started, passed


def step_costs(mapping: MappingFile, compiled: CompiledMapping, records: Sequence[Record]) -> list[str]:
    """µs per value of each step, each timed alone over the values it sees when the mapping runs."""
    lines = []
    for field_map, field in zip(mapping.fields, compiled.fields, strict=True):
        values = [field.read(record) for record in records]
        for step_model, step in zip(field_map.convert, field.steps, strict=True):
            clear_caches()
            seconds, passed = time_step(step, field.fills, values)
            per_value = seconds / len(values) * 1e6 if values else 0.0
            refused = f"  ({len(values) - len(passed):,} refused)" if len(passed) < len(values) else ""
            lines.append(
                f"  {field_map.target:<12} {step_model.name:<24} {per_value:>7.2f} µs/value{refused}"
            )
            values = passed
    return lines


def without(compiled: CompiledMapping, target: str) -> CompiledMapping:
    return CompiledMapping(tuple(field for field in compiled.fields if field.target != target))


def parse_args() -> argparse.Namespace:
    raw_help = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw_help)
    parser.add_argument(
        "--records", type=int, default=100_000, help=f"records per mapping (≤ {MAX_RECORDS:,})"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per mapping (≥ 1)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not 0 < args.records <= MAX_RECORDS:
        raise SystemExit(f"--records must be from 1 to {MAX_RECORDS:,} (so every phone number is unique)")
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    contacts_mapping = shipped_contacts_mapping()
    payments_mapping = MappingFile.model_validate(PAYMENT_MAPPING)
    contacts_compiled, payments_compiled = (
        compile_mapping(contacts_mapping),
        compile_mapping(payments_mapping),
    )

    contacts: list[Record] = [contact(i) for i in range(args.records)]
    payments: list[Record] = [payment_row(i) for i in range(args.records)]
    for i in range(MAX_RECORDS, MAX_RECORDS + WARM_UP):  # metadata, readers, allocator: not timed
        contacts_compiled.map(contact(i))
        payments_compiled.map(payment_row(i))
    generated = f"generated {args.records:,} contacts and {args.records:,} payment rows"
    print(f"{generated}; peak RSS {peak_rss_mb():,.1f} MB")

    contacts_result = measure("(a) zoho_contacts.toml", contacts_compiled, contacts, args.repeat)
    print(contacts_result, flush=True)
    no_phone = measure("    … without phone", without(contacts_compiled, "phone"), contacts, args.repeat)
    print(no_phone, flush=True)
    payments_result = measure("(b) payment export", payments_compiled, payments, args.repeat)
    print(payments_result, flush=True)

    phone_share = 1 - no_phone.seconds / contacts_result.seconds
    print(f"phone field: {phone_share:.0%} of a contact's mapping time")
    print("per step, each timed alone (µs per value it sees):")
    for line in step_costs(contacts_mapping, contacts_compiled, contacts):
        print(line)
    for line in step_costs(payments_mapping, payments_compiled, payments):
        print(line)


if __name__ == "__main__":
    main()
