"""Amounts as exports write them: `1,234.56`, `1.234,56`, `¥1,234.56`, `(12.00)`, `1 234,56`, `12.00-`,
`－500.00`, `（500.00）`, `−1,200.00`.

Parsing is exact (`Decimal`, never float). With no declared decimal separator, the last of `.`/`,`
is the decimal point when both occur; a single `,` followed by exactly three digits is a thousands
separator (`1,234`), anything else is a decimal point. Sources that mean otherwise declare it. An amount
so guessed from one separator and three digits (`2,500`, `2.500`) says so (`guessed_group`): in a
currency of three decimals it may mean either, and the reader refuses it.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Literal

from connector.errors import MoneyError
from connector.money import currency_code

Separator = Literal[".", ","]
STYLES = ("en", "de", "fr", "cn", "accounting")

_GROUPING = re.compile(r"[\s\u00a0\u202f'’_]")  # spaces, no-break spaces, apostrophes group digits
_SIGNS_AND_DIGITS = re.compile(r"^[+-]?[\d.,]+[+-]?$")
_FIRST_TO_LAST_DIGIT = re.compile(r"\d.*\d")
_DIGIT = re.compile(r"\d")
_CURRENCY_NOISE = re.compile(r"[^\d.,+\-()\s\u00a0\u202f'’_]")  # symbols and codes: ¥ $ € CNY RMB 元
# Digits grouped by spaces or apostrophes (1 234,56, 1'234.56): in threes, as commas and points are.
_SPACE_GROUPED = re.compile(r"\d{1,3}(?:[\s\u00a0\u202f'’_]\d{3})+(?:[.,]\d+)?")
# What may stand beside an amount as its currency: a run of currency symbols ($ ¥ € ₹), one after a
# country's letters (US$ HK$ R$), an ISO 4217 code (CNY, usd), or a currency's word (元, 円, RM, Rs., S/).
# Anything else there (a multiplier 万 k Mio, a percent, a word) refuses the amount.
_SYMBOLS = "$¢£¤¥֏؋৲৳৻૱௹฿៛\u20a0-\u20c0꠸﷼"
_WORD_BESIDE = re.compile(r"[^\s\u00a0\u202f+\-()]+")
_SYMBOL_RUN = re.compile(rf"(?:US|HK|NT|NZ|AU|A|CA|C|SG|S|R|MX|CN|J|RD|N)?[{_SYMBOLS}]+", re.IGNORECASE)
_CURRENCY_WORDS = frozenset(
    {
        "元",
        "圆",
        "块",
        "人民币",
        "rmb",
        "円",
        "원",
        "rm",
        "rs",
        "rs.",
        "rp",
        "kr",
        "kr.",
        "zł",
        "zl",
        "kč",
        "ft",
    }
    | {"r", "tl", "q", "s/", "s/.", "лв", "лв.", "руб", "руб."}
)


# The currencies a mark beside an amount names, where it names few: an amount so marked is of one of
# them (`Marked`). `$`, `kr`, `Rs` and the like name too many to tell a row's currency wrong: no claim.
_NAMED: dict[str, frozenset[str]] = {
    **dict.fromkeys(("元", "圆", "块", "人民币", "rmb", "cn¥"), frozenset({"CNY"})),
    **dict.fromkeys(("円", "j¥"), frozenset({"JPY"})),
    "¥": frozenset({"CNY", "JPY"}),
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP", "EGP", "FKP", "GIP", "SHP", "SSP", "SYP", "LBP"}),
    **dict.fromkeys(("₩", "원"), frozenset({"KRW"})),
    "₹": frozenset({"INR"}),
    "us$": frozenset({"USD"}),
    "hk$": frozenset({"HKD"}),
    "nt$": frozenset({"TWD"}),
    "r$": frozenset({"BRL"}),
    "zł": frozenset({"PLN"}),
    "kč": frozenset({"CZK"}),
    "ft": frozenset({"HUF"}),
}


class Guessed(Decimal):
    """An amount written as 1 to 3 digits, one separator and three digits (`2,500`, `2.500`) with no
    separator declared: read as guessed (`,` grouping thousands, `.` a point), but meaning either."""

    __slots__ = ()


class Marked(Decimal):
    """An amount written with a mark naming its currency (`USD 100.00`, `€5`, `100元`): `currencies`
    are those the mark may mean, `mark` is the mark as written; `guessed` as for `Guessed`."""

    __slots__ = ("currencies", "guessed", "mark")
    currencies: frozenset[str]
    mark: str
    guessed: bool

    def __new__(cls, value: Decimal, mark: str, currencies: frozenset[str]) -> Marked:
        self = super().__new__(cls, value)
        self.mark, self.currencies, self.guessed = mark, currencies, type(value) is Guessed
        return self


def guessed_group(value: Decimal) -> bool:
    """Whether `parse_decimal` guessed the one separator of `value`, followed by three digits: `2,500` read
    as 2500 (its `.` reading, 2.500) or `2.500` as 2.5 (its `,` reading, 2,500)."""
    return type(value) is Guessed or (type(value) is Marked and value.guessed)


def _named(word: str) -> frozenset[str] | None:
    """The currencies a mark names, when few enough to tell a row's currency wrong."""
    named = _NAMED.get(word.casefold())
    if named is None and len(word) == 3 and word.isascii() and word.isalpha():
        named = frozenset({word.upper()})  # an ISO code: _is_currency checked it
    return named


def _is_currency(word: str) -> bool:
    if _SYMBOL_RUN.fullmatch(word) or word.casefold() in _CURRENCY_WORDS:
        return True
    if len(word) == 3 and word.isascii() and word.isalpha():
        try:
            currency_code(word)
        except MoneyError:
            return False
        return True
    return False


# Dashes a word processor or a font puts for a minus (hyphen, figure dash, en and em dash, U+2212).
_MINUS_SIGNS = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
# Signs that are not read (CR/DR, △ ▲ for a negative): refused, never dropped with the currency noise.
_UNREAD_SIGNS = re.compile(r"[△▲▽▼]|(?<![a-z])(?:cr|dr)(?![a-z])", re.IGNORECASE)
# The commonest shape, `1,234.56` or `1234.56` with an optional minus, read without the general rules.
# (`0,500` is no thousands group: the general rules read it.)
_PLAIN = re.compile(r"(-?)([1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?")
# One separator after one to three digits, three digits after it: a group of thousands or a point.
_ONE_GROUP = re.compile(r"[1-9]\d{0,2}[.,]\d{3}")


class NumberText(str):
    """A spreadsheet's number cell as text: an exact decimal with a `.` point (`12.345`, `-250.5`), read
    as such whatever separator the export's text amounts declare."""

    __slots__ = ()


class DecimalFormatError(ValueError):
    """Text that is not an amount; the message says why."""


def parse_decimal(text: str, decimal_separator: Separator | None = None) -> Decimal:
    if type(text) is NumberText:  # no separator to guess or declare: the cell held a number
        return Decimal(text)
    raw = text.strip()
    if decimal_separator != ",":
        plain = _PLAIN.fullmatch(raw)
        if plain is not None:  # what the general rules below make of this shape, in one step
            sign, whole, fraction = plain.groups()
            value = _signed(Decimal(whole.replace(",", "") + (fraction or "")), bool(sign))
            if decimal_separator is None and _ONE_GROUP.fullmatch(raw, len(sign)):
                return Guessed(value)
            return value
    return _parse_general(text, raw, decimal_separator)


def _parse_general(text: str, raw: str, decimal_separator: Separator | None) -> Decimal:
    if not raw:
        raise DecimalFormatError("empty amount")
    if any(unicodedata.category(char) == "No" for char in raw):  # ² ½ ①: NFKC would make them digits
        raise DecimalFormatError(f"not an amount: {text!r}")
    # Full-width digits, signs and brackets (－５００, （５００）) read as ASCII; dashes are a minus.
    raw = unicodedata.normalize("NFKC", raw).translate(_MINUS_SIGNS)
    if _UNREAD_SIGNS.search(raw):
        raise DecimalFormatError(f"not an amount: {text!r} (write a negative amount with a minus sign)")
    figures = _FIRST_TO_LAST_DIGIT.search(raw) or _DIGIT.search(raw)
    if figures is None:
        raise DecimalFormatError(f"not an amount: {text!r}")
    if _CURRENCY_NOISE.search(figures.group()):
        # A symbol or code goes before or after the number, never inside it (12O0.00, 1e3).
        raise DecimalFormatError(f"not an amount: {text!r}")
    (before, marks), (after, marks_after) = (
        _beside(text, raw[: figures.start()], before=True),
        _beside(text, raw[figures.end() :]),
    )
    number_text = figures.group()
    if _GROUPING.search(number_text) and not _SPACE_GROUPED.fullmatch(number_text):
        raise DecimalFormatError(f"digit groups of {text!r} are not thousands")
    cleaned = _GROUPING.sub("", before + number_text + after)
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        negative, cleaned = True, cleaned[1:-1]
        if "-" in cleaned or "+" in cleaned:
            raise DecimalFormatError(f"not an amount: {text!r} (a sign inside parentheses)")
    if not _SIGNS_AND_DIGITS.match(cleaned) or cleaned.count("-") + cleaned.count("+") > 1:
        raise DecimalFormatError(f"not an amount: {text!r}")
    negative = negative or "-" in cleaned  # a leading or trailing minus
    digits = cleaned.strip("+-")
    point = decimal_separator or _guess_point(digits)
    grouping = "," if point == "." else "."
    whole, _, fraction = digits.rpartition(point) if point in digits else (digits, "", "")
    if point in fraction or point in whole.replace(grouping, "") or grouping in fraction:
        raise DecimalFormatError(_misplaced(text, digits, point))
    if grouping in whole and not re.fullmatch(r"[1-9]\d{0,2}(" + re.escape(grouping) + r"\d{3})*", whole):
        raise DecimalFormatError(f"digit groups of {text!r} are not thousands")
    number = whole.replace(grouping, "") + ("." + fraction if fraction else "")
    if not number or number == ".":
        raise DecimalFormatError(f"not an amount: {text!r}")
    try:
        value = _signed(Decimal(number), negative)
    except InvalidOperation:
        raise DecimalFormatError(f"not an amount: {text!r}") from None
    if decimal_separator is None and _ONE_GROUP.fullmatch(digits):
        value = Guessed(value)
    for mark in (*marks, *marks_after):
        named = _named(mark)
        if named is not None:
            return Marked(value, mark, named)
    return value


def _misplaced(text: str, digits: str, point: Separator) -> str:
    """Why separators are misplaced; for a whole amount grouped in thousands by the separator read as
    the point (`1.234.567`), shown as written (an amount, no one's personal data) with the separator
    that reads it."""
    if not re.fullmatch(r"[1-9]\d{0,2}(?:" + re.escape(point) + r"\d{3}){2,}", digits):
        return f"misplaced separators in {text!r}"
    other = "," if point == "." else "."
    return (
        f"misplaced separators in {digits}: '{point}' is read as the decimal point; if the export groups "
        f'thousands with it, set the decimal step\'s separator = "{other}" in the mapping, e.g. '
        f'convert = [{{ name = "decimal", separator = "{other}" }}]'
    )


def _beside(text: str, part: str, *, before: bool = False) -> tuple[str, list[str]]:
    """What is written before (or after) the number's digits, its currency taken off: signs, brackets,
    spaces, and right before the digits a point of its own (`.5`, `$.50`; not after a word: `Rs.500` is
    rupees 500); and the currency marks taken off. Anything else is no currency: a multiplier (万, k,
    Mio), a percent, a word."""
    point = ""
    if before and part[-1:] in (".", ",") and not part[-2:-1].isalpha():
        point, part = part[-1], part[:-1]
    marks = _WORD_BESIDE.findall(part)
    if not all(_is_currency(word) for word in marks):
        raise DecimalFormatError(f"not an amount: {text!r} (only a currency may stand beside the number)")
    return _WORD_BESIDE.sub("", part) + point, marks


def _signed(value: Decimal, negative: bool) -> Decimal:
    """Negated exactly (unary minus would round to the context's 28 digits); zero stays unsigned."""
    return value.copy_negate() if negative and value else value


def _guess_point(digits: str) -> Separator:
    if "." in digits and "," in digits:
        return "." if digits.rfind(".") > digits.rfind(",") else ","
    if digits.count(",") == 1 and (not re.search(r",\d{3}$", digits) or digits.startswith("0,")):
        return ","
    return "."


def format_decimal(value: Decimal, style: str = "en", currency: str | None = None) -> str:
    """The amount written in one of the STYLES (the shapes `parse_decimal` reads back); `cn` marks it
    ¥ when it is yuan or yen (or says nothing of its currency), else with its ISO code (USD 1,234.50)."""
    grouped = f"{abs(value):,f}"
    if style in ("en", "cn", "accounting"):
        body = grouped
    elif style == "de":
        body = grouped.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    elif style == "fr":
        body = grouped.replace(",", " ").replace(".", ",")
    else:
        raise ValueError(f"unknown decimal style {style!r}; use one of {', '.join(STYLES)}")
    if style == "cn":
        body = "¥" + body if currency in (None, "CNY", "JPY") else f"{currency} {body}"
    if value < 0:
        return f"({body})" if style == "accounting" else f"-{body}"
    return body
