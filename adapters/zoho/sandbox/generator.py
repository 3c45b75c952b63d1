"""Seeded, deterministic CRM data: accounts and contacts across several countries, Chinese and Western names.

The same seed always gives the same ids, names, times and values, whatever the wall clock says.
A small share of records carries the mess real CRMs hold (full-width letters, doubled spaces, no country,
numbers without a country code) so the connector's cleaning is exercised end to end.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timezone
from decimal import Decimal
from itertools import accumulate
from typing import Any, TypeVar

from adapters.zoho.sandbox.directory import full_name
from adapters.zoho.sandbox.fields import ACCOUNT_TYPES as _ACCOUNT_TYPES
from adapters.zoho.sandbox.fields import INDUSTRIES as _INDUSTRIES
from adapters.zoho.sandbox.fields import LEAD_SOURCES as _LEAD_SOURCES
from adapters.zoho.sandbox.store import Record
from adapters.zoho.sandbox.timeutil import format_time

T = TypeVar("T")


@dataclass(frozen=True)
class Country:
    name: str
    currency: str
    symbol: str
    rate: Decimal  # units of the org's base currency (CNY) per unit of this currency
    style: str  # naming style: zh, en, de, ja, in
    cities: tuple[tuple[str, str, str], ...]  # (city, state, postcode)
    weight: int


COUNTRIES: tuple[Country, ...] = (
    Country(
        "China",
        "CNY",
        "¥",
        Decimal("1"),
        "zh",
        (
            ("上海", "上海市", "200000"),
            ("北京", "北京市", "100000"),
            ("深圳", "广东省", "518000"),
            ("广州", "广东省", "510000"),
            ("杭州", "浙江省", "310000"),
            ("成都", "四川省", "610000"),
            ("苏州", "江苏省", "215000"),
            ("武汉", "湖北省", "430000"),
        ),
        55,
    ),
    Country("Hong Kong", "HKD", "HK$", Decimal("0.92"), "zh", (("Hong Kong", "Hong Kong Island", ""),), 4),
    Country("Singapore", "SGD", "S$", Decimal("5.35"), "en", (("Singapore", "Singapore", "018956"),), 5),
    Country(
        "United States",
        "USD",
        "$",
        Decimal("7.21"),
        "en",
        (("San Francisco", "CA", "94105"), ("New York", "NY", "10001"), ("Austin", "TX", "78701")),
        10,
    ),
    Country(
        "United Kingdom",
        "GBP",
        "£",
        Decimal("9.12"),
        "en",
        (("London", "England", "EC1A 1BB"), ("Manchester", "England", "M1 1AE")),
        6,
    ),
    Country(
        "Germany",
        "EUR",
        "€",
        Decimal("7.83"),
        "de",
        (("Berlin", "Berlin", "10115"), ("München", "Bayern", "80331")),
        6,
    ),
    Country(
        "Japan",
        "JPY",
        "¥",
        Decimal("0.046"),
        "ja",
        (("東京", "東京都", "100-0001"), ("大阪", "大阪府", "530-0001")),
        6,
    ),
    Country("India", "INR", "₹", Decimal("0.086"), "in", (("Bengaluru", "Karnataka", "560001"),), 4),
    Country("Australia", "AUD", "A$", Decimal("4.71"), "en", (("Sydney", "NSW", "2000"),), 4),
)

_ZH_SURNAMES = (
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("林", "lin"),
    ("何", "he"),
    ("欧阳", "ouyang"),
)
_ZH_GIVEN = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("秀英", "xiuying"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("晓东", "xiaodong"),
    ("子涵", "zihan"),
)
_EN_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Emily")
_EN_LAST = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "O'Brien",
)
_DE_FIRST = ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Sophie", "Maximilian", "Marie")
_DE_LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker")
_JA_LAST = (
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("渡辺", "watanabe"),
)
_JA_FIRST = (("翔", "sho"), ("陽菜", "hina"), ("蓮", "ren"), ("結衣", "yui"), ("大輝", "daiki"))
_IN_FIRST = ("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Kavya")
_IN_LAST = ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair")

_ZH_COMPANY_WORDS = (
    "星河",
    "华信",
    "东方",
    "汇通",
    "鼎盛",
    "长城",
    "博远",
    "恒泰",
    "金桥",
    "远航",
    "瑞丰",
    "天成",
)
_ZH_COMPANY_TRADES = ("科技", "贸易", "电子", "物流", "实业", "软件", "食品", "医疗器械", "建材", "纺织")
_EN_COMPANY_WORDS = (
    "Northwind",
    "Blue Harbor",
    "Summit",
    "Evergreen",
    "Pioneer",
    "Silverline",
    "Redwood",
    "Apex",
)
_EN_COMPANY_TRADES = (
    "Trading",
    "Logistics",
    "Electronics",
    "Foods",
    "Software",
    "Medical",
    "Textiles",
    "Supplies",
)
_COMPANY_SUFFIX = {
    "en": ("Ltd", "Inc.", "Pte. Ltd.", "LLC"),
    "de": ("GmbH", "AG"),
    "ja": ("株式会社",),
    "in": ("Pvt Ltd",),
}
_TITLES = (
    "采购经理",
    "财务总监",
    "总经理",
    "Purchasing Manager",
    "CFO",
    "Accounts Payable",
    "Owner",
    "Director",
)
_FREE_MAIL = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com")


class Dice:
    """Seeded choices without `random.Random.choice`'s overhead (indexing by `random()` is ~4x cheaper)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self.random = self._rng.random

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def int(self, low: int, high: int) -> int:
        """An integer in [low, high)."""
        return low + int(self.random() * (high - low))

    def shuffle(self, items: list[Any]) -> None:
        self._rng.shuffle(items)


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    first_ascii: str
    last_ascii: str


def _fullwidth(text: str) -> str:
    """ASCII letters and digits as their full-width forms, as pasted from some Chinese input methods."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def _person(rng: Dice, style: str) -> Person:
    if style == "zh":
        (last, last_a), (first, first_a) = rng.pick(_ZH_SURNAMES), rng.pick(_ZH_GIVEN)
        return Person(first, last, first_a, last_a)
    if style == "ja":
        (last, last_a), (first, first_a) = rng.pick(_JA_LAST), rng.pick(_JA_FIRST)
        return Person(first, last, first_a, last_a)
    firsts, lasts = {"de": (_DE_FIRST, _DE_LAST), "in": (_IN_FIRST, _IN_LAST)}.get(
        style, (_EN_FIRST, _EN_LAST)
    )
    first, last = rng.pick(firsts), rng.pick(lasts)
    return Person(first, last, first.lower(), last.lower().replace("'", "").replace("ü", "ue"))


def _phone(rng: Dice, country: Country, mobile: bool) -> str:
    n = rng.int(10**7, 10**8)
    digits = f"{n:08d}"
    if country.name == "China":
        if mobile:
            prefix = rng.pick(("138", "139", "186", "150", "177"))
            form = rng.int(0, 3)
            if form == 0:
                return f"{prefix}{digits}"  # no country code: the connector reads these as Chinese
            if form == 1:
                return f"+86 {prefix} {digits[:4]} {digits[4:]}"
            return f"+86-{prefix}-{digits[:4]}-{digits[4:]}"
        return f"0{rng.pick(('21', '10', '755', '20', '571'))}-{digits}"
    if country.name == "Hong Kong":
        return f"+852 {digits[:4]} {digits[4:]}"
    if country.name == "Singapore":
        return f"+65 {rng.pick('689')}{digits[1:4]} {digits[4:]}"
    if country.name in {"United States"}:
        return f"+1 {rng.pick(('415', '212', '512'))}-555-{digits[:4]}"
    if country.name == "United Kingdom":
        return f"+44 20 {digits[:4]} {digits[4:]}"
    if country.name == "Germany":
        return f"+49 30 {digits[:6]}"
    if country.name == "Japan":
        return f"+81 3-{digits[:4]}-{digits[4:]}"
    if country.name == "India":
        return f"+91 98{digits[:3]} {digits[3:]}"
    return f"+61 2 {digits[:4]} {digits[4:]}"


@dataclass(frozen=True)
class Users:
    """Owner/creator references the generator may use: `{"name", "id", "email"}` each."""

    all: tuple[dict[str, Any], ...]


class Generator:
    """Builds the seeded accounts and contacts of one sandbox in creation (= id) order."""

    def __init__(self, seed: int, org_id_prefix: int, tz: timezone, users: Users) -> None:
        self.rng = Dice(seed)
        self.base = org_id_prefix * 10**12
        self.tz = tz
        self.users = users
        self._sequence = 5_000_000 + self.rng.int(0, 100_000)
        self._country_weights = list(accumulate(c.weight for c in COUNTRIES))
        self._names_seen: set[str] = set()

    def next_id(self) -> int:
        self._sequence += self.rng.int(1, 30)
        return self.base + self._sequence

    def _country(self) -> Country:
        return COUNTRIES[bisect_right(self._country_weights, self.rng.random() * self._country_weights[-1])]

    def _times(self, created: int, end: int) -> tuple[int, int, dict[str, Any]]:
        spread = max(0, end - created)
        modified = created + int(spread * self.rng.random() ** 3)
        return created, modified, self._audit(created, modified)

    def _audit(self, created: int, modified: int) -> dict[str, Any]:
        users = self.users.all  # shared, never mutated in place: a change replaces the whole reference
        modified_text = format_time(modified, self.tz)
        return {
            "Owner": self.rng.pick(users),
            "Created_By": self.rng.pick(users),
            "Modified_By": self.rng.pick(users),
            "Created_Time": format_time(created, self.tz),
            "Modified_Time": modified_text,
            "Last_Activity_Time": modified_text,
            "Record_Status__s": "Available",
            "Locked__s": False,
            "$approval_state": "approved",
            "$editable": True,
            "Tag": [],
            "Description": None,
        }

    def _company_name(self, country: Country, city: str) -> str:
        rng = self.rng
        if country.style == "zh" and country.name == "China":
            name = f"{city}{rng.pick(_ZH_COMPANY_WORDS)}{rng.pick(_ZH_COMPANY_TRADES)}有限公司"
        elif country.style == "ja":
            trade = rng.pick(("商事", "電機", "物産"))
            name = f"{rng.pick(_COMPANY_SUFFIX['ja'])}{rng.pick(_JA_LAST)[0]}{trade}"
        else:
            suffix = rng.pick(_COMPANY_SUFFIX.get(country.style, _COMPANY_SUFFIX["en"]))
            name = f"{rng.pick(_EN_COMPANY_WORDS)} {rng.pick(_EN_COMPANY_TRADES)} {suffix}"
        base, n = name, 2
        while name in self._names_seen:
            name = f"{base} ({n})" if country.style != "zh" else f"{base}{n}号"
            n += 1
        self._names_seen.add(name)
        if rng.random() < 0.03:  # copy-paste artefacts the connector normalises
            name = _fullwidth(name) if rng.random() < 0.5 else name.replace(" ", "  ", 1) + " "
        return name

    def account(self, created: int, end: int) -> Record:
        rng = self.rng
        record_id = self.next_id()
        country = self._country()
        city, state, code = rng.pick(country.cities)
        created, modified, audit = self._times(created, end)
        name = self._company_name(country, city)
        revenue = Decimal(rng.int(5_000_000, 50_000_000_000)).scaleb(-2)
        slug = "".join(c for c in (rng.pick(_EN_COMPANY_WORDS)).lower() if c.isalnum())
        values: dict[str, Any] = {
            "id": str(record_id),
            "Account_Name": name,
            "Account_Number": f"C{rng.int(10**5, 10**6)}" if rng.random() < 0.7 else None,
            "Account_Site": None,
            "Account_Type": rng.pick(_ACCOUNT_TYPES),
            "Industry": rng.pick(_INDUSTRIES),
            "Employees": rng.pick((5, 12, 48, 120, 350, 1200, 8000)),
            "Annual_Revenue": revenue,
            "Rating": None,
            "Ownership": rng.pick(("Private", "Public", None)),
            "Phone": _phone(rng, country, mobile=False) if rng.random() < 0.9 else None,
            "Fax": None,
            "Website": f"https://www.{slug}{record_id % 997}.example" if rng.random() < 0.6 else None,
            "Email": f"finance@{slug}{record_id % 997}.example" if rng.random() < 0.7 else None,
            "Billing_Street": f"{rng.int(1, 999)} {rng.pick(('路', 'Road', 'Street', 'Avenue'))}",
            "Billing_City": city,
            "Billing_State": state,
            "Billing_Code": code,
            "Billing_Country": country.name if rng.random() < 0.92 else None,
            "Tax_ID": f"91{rng.int(10**15, 10**16)}" if country.name == "China" else None,
            "Currency": country.currency,
            "Exchange_Rate": country.rate,
            "$currency_symbol": country.symbol,
            **audit,
        }
        return Record(record_id, created, modified, values)

    def contact(self, created: int, end: int, account: Record | None) -> Record:
        rng = self.rng
        record_id = self.next_id()
        country = self._country()
        person = _person(rng, country.style)
        city, state, code = rng.pick(country.cities)
        created, modified, audit = self._times(created, end)
        if country.style in {"zh", "ja"}:
            domain = rng.pick(_FREE_MAIL)
        else:
            domain = rng.pick((*_FREE_MAIL[3:], "example.com", "mail.example"))
        email = f"{person.first_ascii}.{person.last_ascii}{record_id % 10_000}@{domain}"
        values: dict[str, Any] = {
            "id": str(record_id),
            "Salutation": None,
            "First_Name": person.first,
            "Last_Name": person.last,
            "Full_Name": full_name(person.first, person.last),
            "Account_Name": (
                {"name": account.values["Account_Name"], "id": account.values["id"]} if account else None
            ),
            "Email": email if rng.random() < 0.93 else None,
            "Secondary_Email": None,
            "Phone": _phone(rng, country, mobile=False) if rng.random() < 0.6 else None,
            "Mobile": _phone(rng, country, mobile=True) if rng.random() < 0.85 else None,
            "Title": rng.pick(_TITLES),
            "Department": None,
            "Lead_Source": rng.pick(_LEAD_SOURCES),
            "Mailing_Street": f"{rng.int(1, 999)} {rng.pick(('路', 'Road', 'Street'))}",
            "Mailing_City": city,
            "Mailing_State": state,
            "Mailing_Zip": code,
            "Mailing_Country": country.name if rng.random() < 0.9 else None,
            "Date_of_Birth": None,
            "Email_Opt_Out": rng.random() < 0.05,
            "Currency": country.currency,
            "Exchange_Rate": country.rate,
            "$currency_symbol": country.symbol,
            **audit,
        }
        return Record(record_id, created, modified, values)

    def generate(
        self, accounts: int, contacts: int, start: int, end: int
    ) -> tuple[list[Record], list[Record]]:
        """Accounts and contacts interleaved on one timeline, so ids grow with Created_Time across modules."""
        kinds = ["A"] * accounts + ["C"] * contacts
        self.rng.shuffle(kinds)
        if accounts and kinds[0] != "A":
            kinds.remove("A")
            kinds.insert(0, "A")
        total = max(1, len(kinds))
        step = (end - start) / total
        made_accounts: list[Record] = []
        made_contacts: list[Record] = []
        for n, kind in enumerate(kinds):
            created = start + int(n * step)
            if kind == "A":
                made_accounts.append(self.account(created, end))
            else:
                linked = self.rng.pick(made_accounts) if made_accounts and self.rng.random() < 0.85 else None
                made_contacts.append(self.contact(created, end, linked))
        return made_accounts, made_contacts
