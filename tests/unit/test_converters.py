from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.mapping.converters import REGISTRY, ConversionError, bind, clear_caches
from connector.mapping.decimals import (
    STYLES,
    DecimalFormatError,
    Separator,
    _parse_general,
    format_decimal,
    parse_decimal,
)
from connector.money import Money


def convert(name: str, current: object, **options: object) -> object:
    return REGISTRY[name].function(current, **options)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("¥1,234.56", "1234.56"),
        ("(12.00)", "-12.00"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("12.00-", "-12.00"),
        ("RMB 1,234,567.8", "1234567.8"),
        ("1,234", "1234"),
        ("1,23", "1.23"),
        ("-0.5", "-0.5"),
        ("−" + "1,200.00", "-1200.00"),  # U+2212 MINUS SIGN
        ("－500.00", "-500.00"),  # full-width: a Chinese export's red-ink amount
        ("（500.00）", "-500.00"),
        ("１２３．５", "123.5"),
        ("1,234.56元", "1234.56"),
        ("\u2013500.00", "-500.00"),  # an en dash a word processor put for the minus
        ("\u2010500.00", "-500.00"),  # a hyphen
        ("0,500", "0.500"),  # a leading 0 is no thousands group
        ("US$1,234", "1234"),
        ("EUR 1.234,56", "1234.56"),
        ("12,00 €", "12.00"),
        ("人民币500", "500"),
        ("Rs 500", "500"),
        ("-¥500", "-500"),
        ("1 234 567.89", "1234567.89"),
        ("1'234.56", "1234.56"),
        (".5", "0.5"),
        ("$.50", "0.50"),
        ("1,000円", "1000"),
        ("RM1,234.56", "1234.56"),
        ("S/ 100", "100"),
        ("Rs.500", "500"),  # rupees: a word's point is the word's
        ("CN¥100", "100"),
        ("RMB-100", "-100"),
    ],
)
def test_amounts_in_every_export_style_parse_exactly(text: str, amount: str) -> None:
    assert parse_decimal(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "1.2.3,4,5", "--1", "12-3", "12O0.00", "1e3"])
def test_text_that_is_not_an_amount_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(DecimalFormatError):
        parse_decimal(text)


@pytest.mark.parametrize(
    "text",
    [
        "No. 12",
        "1.5万",  # multipliers: 15,000 is not 1.5
        "1.5万元",
        "3千",
        "12k",
        "1.2M",
        "12.5%",
        "(-12.00)",  # two negatives
        "12 34",  # space groups are thousands, as commas are
        "1 2 3",
        "10²",  # NFKC would read 102
        "100 k€",
        "1,5 Mio €",
        "R$ 10 mil",
        "XYZ 12",  # no currency's code
    ],
)
def test_anything_but_a_currency_beside_the_number_refuses_the_amount(text: str) -> None:
    with pytest.raises(DecimalFormatError):
        parse_decimal(text)


@pytest.mark.parametrize("text", ["500.00 CR", "500.00Dr", "△500.00", "▲1,200"])
def test_signs_that_are_not_read_refuse_the_amount_instead_of_vanishing(text: str) -> None:
    with pytest.raises(DecimalFormatError, match="write a negative amount with a minus sign"):
        parse_decimal(text)


def test_a_date_in_full_width_digits_is_read_as_its_ascii() -> None:
    assert convert("date", "２０２６年３月５日", format=["%Y-%m-%d", "%Y年%m月%d日"]) == date(2026, 3, 5)


def test_a_declared_separator_settles_the_ambiguous_cases() -> None:
    assert parse_decimal("1.234", ",") == Decimal(1234)
    assert parse_decimal("1,234", ",") == Decimal("1.234")


@pytest.mark.parametrize(("text", "separator"), [("0.500", ","), ("0,050", "."), ("00,500", ".")])
def test_a_group_of_thousands_never_starts_with_a_zero_whatever_separator_is_declared(
    text: str, separator: Separator
) -> None:
    with pytest.raises(DecimalFormatError, match="not thousands"):
        parse_decimal(text, separator)


amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=3, allow_nan=False)


@given(amounts, st.sampled_from(STYLES))
def test_decimal_parsing_round_trips_through_formatting_in_every_style(amount: Decimal, style: str) -> None:
    separator: Separator = "," if style in ("de", "fr") else "."
    assert parse_decimal(format_decimal(amount, style), separator) == amount


def test_the_decimal_converter_refuses_floats() -> None:
    with pytest.raises(ConversionError, match="not exact"):
        convert("decimal", 1.1)
    assert convert("decimal", "1.234,50", separator=",") == Decimal("1234.50")


emails = st.emails().map(lambda address: f"  {address.upper()} ")


@given(emails)
def test_email_normalisation_is_idempotent(address: str) -> None:
    once = convert("email", address)
    assert once == convert("email", once)


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("<john@x.com>", "john@x.com"),
        ("mailto:john@x.com", "john@x.com"),
        ("Li Wei <LI@acme.cn>", "li@acme.cn"),
    ],
)
def test_an_address_in_brackets_or_after_mailto_is_taken_out_of_them(written: str, address: str) -> None:
    assert convert("email", written) == address


@pytest.mark.parametrize("written", ["john@x..com", "a@-x.com", "john@x.c", "john@localhost", "a b@x.com"])
def test_an_address_whose_domain_cannot_be_is_refused(written: str) -> None:
    with pytest.raises(ConversionError, match="not an e-mail address"):
        convert("email", written)


@pytest.mark.parametrize(
    "written",
    [
        "13800138000;13900139000",
        "13800138000, 13900139000",
        "138 0013 8000、139",
        "021-6123 4567/8",  # this number or the next
        "13800138000 / 13900139000",
        "+86 21 6123 4567/8",
        "０２１-６１２３ ４５６７／８",
    ],
)
def test_several_phone_numbers_in_one_field_are_refused_not_cut_to_the_first(written: str) -> None:
    with pytest.raises(ConversionError, match="several phone numbers in one field"):
        convert("phone", written, region="CN")


@pytest.mark.parametrize(
    ("written", "region", "number"),
    [
        ("030/12345678", "DE", "+493012345678"),
        ("+49 33203/12345", "DE", "+493320312345"),
        ("+49 (0)30/1234567", "DE", "+49301234567"),
        ("212/555-1234", "US", "+12125551234"),
        ("0049 33203/12345", "DE", "+493320312345"),  # the country code written with 00
        ("+49(0)6221/123456", "DE", "+496221123456"),
        ("+4933203/12345", "DE", "+493320312345"),
        ("(0049) 6221/123456", "DE", "+496221123456"),
        ("0043 (0)2236/12345", "AT", "+43223612345"),
    ],
)
def test_a_slash_after_an_area_code_is_read_as_part_of_one_number(
    written: str, region: str, number: str
) -> None:
    assert convert("phone", written, region=region) == number


@pytest.mark.parametrize("written", ["010-6512 3456 ext. 101", "010-6512 3456 x101", "010-6512 3456#101"])
def test_a_phone_extension_is_kept_so_two_people_at_one_switchboard_stay_two(written: str) -> None:
    assert convert("phone", written, region="CN") == "+861065123456;ext=101"
    assert convert("phone", "+861065123456;ext=101", region="CN") == "+861065123456;ext=101"
    assert convert("phone", "010-6512 3456 ext. 205", region="CN") == "+861065123456;ext=205"


@pytest.mark.parametrize(
    "written",
    [
        "021-62345678转12",
        "+86 (21) 6234-5678 转 12",
        "021-6234 5678 分机 12",
        "021-6234 5678 分機12",
        "021-6234 5678 內線 12",
        "021-6234 5678 内线：12",
        "０２１－６２３４５６７８　转　１２",  # full-width digits, dash and spaces
        "(021) 6234 5678 ext. 12",
    ],
)
def test_a_chinese_extension_marker_keeps_the_extension_as_ext_does(written: str) -> None:
    assert convert("phone", written, region="CN") == "+862162345678;ext=12"


@pytest.mark.parametrize("written", ["li\u200b@acme.cn", "\ufeffli@acme.cn", "li@acme.cn\u200b"])
def test_an_invisible_character_in_an_address_is_no_part_of_it(written: str) -> None:
    assert convert("email", written) == "li@acme.cn"


def test_several_addresses_in_one_field_are_refused_not_one_of_them_guessed() -> None:
    with pytest.raises(ConversionError, match="several e-mail addresses in one field"):
        convert("email", "Li Wei <li@acme.cn>, Wang Fang <wang@other.cn>")


def test_a_map_written_with_python_booleans_still_takes_json_booleans() -> None:
    assert convert("map", True, values={"True": "KA", "False": "SME"}) == "KA"
    assert convert("map", False, values={"true": "KA", "false": "SME"}) == "SME"


phones = st.sampled_from(
    [
        "+86 138 0013 8000",
        "138-0013-8000",
        "(021) 6888 1234",
        "+44 20 7946 0958",
        "＋８６ １３８００１３８０００",
    ]
)


@given(phones)
def test_phone_normalisation_is_idempotent_and_e164(number: str) -> None:
    once = convert("phone", number, region="CN")
    assert isinstance(once, str)
    assert once.startswith("+")
    assert convert("phone", once, region="CN") == once


def test_invalid_contacts_are_refused_with_why_but_without_the_personal_value() -> None:
    with pytest.raises(ConversionError) as email:
        convert("email", "wang.no-at-sign")
    assert str(email.value) == "not an e-mail address (expected name@domain)"
    with pytest.raises(ConversionError) as phone:
        convert("phone", "13", region="CN")
    with pytest.raises(ConversionError) as unreadable:
        convert("phone", "call me", region="CN")
    assert str(phone.value) == "not a possible phone number in region CN"
    assert str(unreadable.value).startswith("not a phone number (")
    assert "call me" not in str(unreadable.value)


def test_text_converters_pass_missing_values_through() -> None:
    for name in (
        "strip",
        "lower",
        "upper",
        "title",
        "collapse_spaces",
        "fullwidth_to_halfwidth",
        "email",
        "phone",
    ):
        assert convert(name, None) is None


def test_fullwidth_forms_become_halfwidth_but_cjk_stays() -> None:
    assert convert("fullwidth_to_halfwidth", "ＡＢＣ１２３　有限公司（上海）") == "ABC123 有限公司(上海)"


def test_dates_and_datetimes_follow_the_declared_format_and_zone() -> None:
    assert convert("date", "2026年3月5日", format="%Y年%m月%d日") == date(2026, 3, 5)
    assert convert("date", "05.03.2026", format="%d.%m.%Y") == date(2026, 3, 5)
    moment = convert("datetime", "2026-03-05 09:30", format="%Y-%m-%d %H:%M", tz="Asia/Shanghai")
    assert isinstance(moment, datetime)
    assert moment.astimezone(UTC) == datetime(2026, 3, 5, 1, 30, tzinfo=UTC)
    with pytest.raises(ConversionError, match="does not match the date format"):
        convert("date", "03/05/26", format="%Y-%m-%d")


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("regex", {"pattern": r"^\d+$"}),
        ("map", {"values": {"A": "a"}}),
        ("date", {"format": "%Y-%m-%d"}),
        ("datetime", {"format": "%Y-%m-%d %H:%M"}),
        ("email", {}),
    ],
)
def test_a_refused_value_is_not_quoted_in_the_reason(name: str, options: dict[str, object]) -> None:
    """Reasons are stored and shown in clear, and a mapping may send any field (a name, a birthday)
    through any converter: the reason says what is wrong, the encrypted record keeps the value."""
    personal = "张伟 Zhang Wei"
    steps: list[Callable[[object], object]] = [
        lambda value: convert(name, value, **options),
        bind(name, options),
    ]
    for step in steps:
        with pytest.raises(ConversionError) as refused:
            step(personal)
        assert "张伟" not in str(refused.value)
        assert "Zhang" not in str(refused.value)


def test_zero_pad_writes_an_all_digit_value_in_its_digits_and_leaves_other_text() -> None:
    assert [convert("zero_pad", value, digits=4) for value in ("12", "0012", "00012", "12345", "0")] == [
        "0012",
        "0012",
        "0012",
        "12345",
        "0000",
    ]
    assert [convert("zero_pad", value, digits=4) for value in ("XS12", "12-1", None)] == [
        "XS12",
        "12-1",
        None,
    ]


def test_map_default_template_regex_and_required() -> None:
    assert convert("map", "Key Account", values={"Key Account": "KA"}) == "KA"
    assert convert("map", "Other", values={"Key Account": "KA"}, default="SME") == "SME"
    with pytest.raises(ConversionError, match="no default"):
        convert("map", "Other", values={"Key Account": "KA"})
    assert convert("default", "", value="CNY") == "CNY"
    assert convert("template", "明", template="{last}{value}", last="王") == "王明"
    assert convert("regex", "INV-2026-0007 paid", pattern=r"(INV-\d{4}-\d{4})") == "INV-2026-0007"
    with pytest.raises(ConversionError, match="required"):
        convert("required", "  ")


# --- fast paths give exactly what the plain rules give ----------------------------------------------------

ISO_FORMATS = [
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
]

OFFSETS = ["Z", "+08:00", "+05:30", "-05:00", "+00:00", "-00:00", "+23:59"]
NEAR_MISSES = "0123456789-:+TZtz. \t２"  # what a typo or another writer's format puts in


@st.composite
def formats_and_texts(draw: st.DrawFn) -> tuple[str, str]:
    """An ISO-shaped format and text written in it: mostly valid, sometimes a character off."""
    format = draw(st.sampled_from(ISO_FORMATS))
    year, month, day = draw(st.integers(0, 9999)), draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = draw(st.integers(0, 24)), draw(st.integers(0, 60)), draw(st.integers(0, 61))
    fields = {
        "%Y": f"{year:04d}",
        "%m": f"{month:02d}",
        "%d": f"{day:02d}",
        "%H": f"{hour:02d}",
        "%M": f"{minute:02d}",
        "%S": f"{second:02d}",
        "%z": draw(st.sampled_from(OFFSETS)),
    }
    text = format
    for directive, written in fields.items():
        text = text.replace(directive, written)
    if draw(st.integers(0, 3)) == 0:  # one character off: a typo, a shorter field, another separator
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(["", *NEAR_MISSES])) + text[at + 1 :]
    return format, text


def strptime_or_refusal(text: str, format: str) -> object:
    """The reference: what datetime.strptime alone makes of the text (repr, so zones compare exactly)."""
    try:
        return repr(datetime.strptime(text, format))  # noqa: DTZ007 - compared as parsed
    except ValueError:
        return "refused"


def converted_or_refusal(name: str, text: str, **options: object) -> object:
    try:
        return repr(convert(name, text, **options))
    except ConversionError:
        return "refused"


@given(formats_and_texts())
def test_datetime_reads_iso_text_exactly_as_strptime_does(format_and_text: tuple[str, str]) -> None:
    format, text = format_and_text
    expected = strptime_or_refusal(text.strip(), format)
    moment = converted_or_refusal("datetime", text, format=format, tz="Asia/Shanghai")
    if expected == "refused" or not text.strip():
        assert moment == ("None" if not text.strip() else "refused")
        return
    parsed = datetime.strptime(text.strip(), format)  # noqa: DTZ007 - the zone is applied below
    zoned = parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    assert moment == repr(zoned)


FULL_WIDTH_FOLDED = {chr(0xFF01 + n): chr(0x21 + n) for n in range(0x5E)} | {"\u3000": " "}


@given(formats_and_texts())
def test_date_reads_text_exactly_as_strptime_does_its_full_width_forms_folded(
    format_and_text: tuple[str, str],
) -> None:
    format, text = format_and_text
    expected = "refused"
    for tried in (text.strip(), "".join(FULL_WIDTH_FOLDED.get(c, c) for c in text.strip())):
        try:
            expected = repr(datetime.strptime(tried, format).date())  # noqa: DTZ007 - a calendar date
            break
        except ValueError:
            continue
    assert converted_or_refusal("date", text, format=format) == expected


def test_text_off_the_declared_format_is_still_refused_with_the_format_named() -> None:
    with pytest.raises(ConversionError, match="does not match the datetime format '%Y-%m-%dT%H:%M:%S%z'"):
        convert("datetime", "2026-03-05", format="%Y-%m-%dT%H:%M:%S%z")  # fromisoformat would take it
    with pytest.raises(ConversionError, match="does not match the date format '%Y-%m-%d'"):
        convert("date", "20260305", format="%Y-%m-%d")  # so would date.fromisoformat
    with pytest.raises(ConversionError, match="does not match the datetime format"):
        convert("datetime", "2026-02-30T10:00:00+08:00", format="%Y-%m-%dT%H:%M:%S%z")


def test_a_datetime_field_may_list_formats_and_the_first_that_matches_wins() -> None:
    formats = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M"]
    step = bind("datetime", {"format": formats, "tz": "Asia/Shanghai"})
    for read in (step, lambda text: convert("datetime", text, format=formats, tz="Asia/Shanghai")):
        assert read("2026-03-05T10:00:00+05:30") == datetime(2026, 3, 5, 4, 30, tzinfo=UTC)
        assert read("2026-03-05 10:00") == datetime(2026, 3, 5, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
        with pytest.raises(
            ConversionError, match="any of the datetime formats '%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d"
        ):
            read("05.03.2026")


def test_an_offset_in_the_text_wins_over_the_zone_and_text_without_one_takes_the_zone() -> None:
    with_offset = convert("datetime", "2026-03-05T14:30:00+05:30", format="%Y-%m-%dT%H:%M:%S%z", tz="UTC")
    assert isinstance(with_offset, datetime)
    assert with_offset.utcoffset() == timedelta(hours=5, minutes=30)
    without = convert("datetime", "2026-03-05 14:30:00", format="%Y-%m-%d %H:%M:%S", tz="Asia/Shanghai")
    assert without == datetime(2026, 3, 5, 14, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def general_rules(text: str, separator: Separator | None = None) -> object:
    try:
        return repr(_parse_general(text, text.strip(), separator))
    except DecimalFormatError:
        return "refused"


AMOUNT_EDGES = ["-0", "-0.00", "0,000", "-1,234", "00012", "1,234,567.000", "-" + "9" * 30 + ".5", " 1.5 "]


@given(
    st.from_regex(r"[-+]?[0-9]{0,4}(,[0-9]{2,4}){0,3}(\.[0-9]{0,3})?[-.,]?", fullmatch=True)
    | st.text(alphabet="0123456789,.- ", max_size=16)
    | amounts.map(lambda amount: format_decimal(amount, "en"))
    | st.sampled_from(AMOUNT_EDGES),
    st.sampled_from([None, "."]),
)
def test_plain_amounts_parse_exactly_as_the_general_rules_read_them(
    text: str, separator: Separator | None
) -> None:
    try:
        parsed: object = repr(parse_decimal(text, separator))
    except DecimalFormatError:
        parsed = "refused"
    assert parsed == general_rules(text, separator)


@given(st.text(max_size=20) | st.sampled_from(["ＡＢＣ１２３　有限公司（上海）", "王　小明", "～！＂"]))
def test_fullwidth_to_halfwidth_equals_nfkc_of_the_fullwidth_forms_only(text: str) -> None:
    expected = "".join(
        unicodedata.normalize("NFKC", char) if "\uff01" <= char <= "\uff5e" or char == "\u3000" else char
        for char in text
    )
    assert convert("fullwidth_to_halfwidth", text) == expected


def test_a_remembered_phone_number_gives_the_same_result_and_failures_are_not_remembered() -> None:
    clear_caches()
    first = convert("phone", "138 0013 8000", region="CN")
    assert convert("phone", "138 0013 8000", region="CN") == first == "+8613800138000"
    assert convert("phone", "138 0013 8000", region="US") != first  # the region is part of what is remembered
    for _ in range(2):
        with pytest.raises(ConversionError, match="phone number"):
            convert("phone", "12", region="CN")


@given(phones | st.text(alphabet="0123456789+-() ext.", max_size=20))
def test_phone_equals_phonenumbers_parse_possible_and_e164(text: str) -> None:
    clear_caches()
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", text), "CN")
        possible = phonenumbers.is_possible_number(number)
        expected: object = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        expected = f"{expected};ext={number.extension}" if number.extension else expected
    except phonenumbers.NumberParseException:
        possible, expected = False, "refused"
    if not text.strip():
        expected, possible = None, True
    try:
        converted: object = convert("phone", text, region="CN")
    except ConversionError:
        converted = "refused"
    assert converted == (expected if possible else "refused")


# --- bound steps: options resolved once, same results and refusals as the converter ------------------------

NAIVE = datetime(2026, 3, 5, 9, 30)  # noqa: DTZ001 - a naive value takes the step's zone

BOUND_CASES: list[tuple[str, dict[str, object], list[object]]] = [
    ("datetime", {"format": "%Y-%m-%dT%H:%M:%S%z", "tz": "Asia/Shanghai"}, ["2026-03-05T14:30:00+05:30"]),
    ("datetime", {"format": "%d.%m.%Y %H:%M", "tz": "Europe/Berlin"}, ["05.03.2026 09:30", "5/3/26"]),
    ("datetime", {"format": "%Y-%m-%d", "tz": "Mars/Olympus"}, ["2026-03-05"]),  # refused per value
    ("datetime", {"format": "%Y-%m-%d"}, [NAIVE, "2026-03-05", "x"]),
    (
        "date",
        {"format": "%Y-%m-%d"},
        ["2026-03-05", datetime(2026, 3, 5, 23, tzinfo=UTC), date(2026, 3, 5), "x"],
    ),
    ("date", {"format": "%Y年%m月%d日"}, ["2026年3月5日", "2026-03-05"]),
    ("decimal", {}, ["1,234.56", "(12.00)", 7, 1.5, "abc"]),
    ("decimal", {"separator": ","}, ["1.234,56", "1,5"]),
    ("decimal", {"separator": ";"}, ["1;5"]),  # refused per value
    ("regex", {"pattern": r"(INV-\d+)"}, ["paid INV-7 thanks", "nothing"]),
    ("regex", {"pattern": r"(?P<ref>INV-\d+)", "group": "other"}, ["INV-7"]),
    ("regex", {"pattern": "(unclosed"}, []),  # re.error per value, as before; None still passes
    ("phone", {"region": "CN"}, ["138 0013 8000", "12"]),
    ("number", {"places": 0}, [Decimal("2.5"), 3, 0.5, "1,234.5"]),
    ("number", {"places": 0, "rounding": "half_up"}, [Decimal("2.5"), Decimal("Infinity")]),
    ("number", {"rounding": "bankers"}, [Decimal(1)]),  # refused per value
    ("number", {"places": 11}, [Decimal(1)]),  # refused per value
    ("format_decimal", {"style": "de", "places": 1}, [Decimal("1234.56"), Decimal("1234.50"), -2]),
    ("format_decimal", {"style": "klingon"}, [Decimal(1)]),  # refused per value
    ("format_date", {"format": "%d/%m/%Y"}, [date(2026, 3, 5), "2026-03-05"]),
    ("map", {"values": {"Key Account": "KA"}}, ["Key Account", "Other"]),
    ("email", {}, [" A@B.CO ", "no-at-sign", "ｕｓｅｒ@example.com"]),
    ("fullwidth_to_halfwidth", {}, ["ＡＢＣ", "abc"]),
    ("zero_pad", {"digits": 4}, ["12", "00012", "12345", "XS12", 12]),
]


def outcome(function: Callable[[object], object], value: object) -> object:
    try:
        return ("value", repr(function(value)))
    except Exception as exc:  # refusals, and the crash a bad pattern was before binding
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize(("name", "options", "values"), BOUND_CASES)
def test_a_bound_step_gives_the_converters_results_and_refusals(
    name: str, options: dict[str, object], values: list[object]
) -> None:
    step, plain = bind(name, options), functools.partial(REGISTRY[name].function, **options)
    for value in [None, "", *values]:
        assert outcome(step, value) == outcome(plain, value)


# --- outbound formatting --------------------------------------------------------------------------------


def test_number_rounds_half_up_not_to_even_when_told_to_round() -> None:
    assert convert("number", Decimal("2.5"), places=0, rounding="half_up") == Decimal(3)
    assert convert("number", Decimal("0.125"), rounding="half_up") == Decimal("0.13")


def test_number_refuses_an_amount_its_places_cannot_hold_instead_of_rounding_it_unasked() -> None:
    assert convert("number", Decimal("1.500")) == Decimal("1.50")  # the same amount
    with pytest.raises(ConversionError, match=r"1\.005 has more decimal places than 2.*places = 3"):
        convert("number", Money.of("1.005", "KWD"))
    with pytest.raises(ConversionError, match="Infinity is not an amount"):
        convert("number", Decimal("Infinity"))


def test_number_refuses_booleans_which_are_not_amounts() -> None:
    with pytest.raises(ConversionError, match="not an exact number"):
        convert("number", True)


def test_format_decimal_rounds_to_its_places_and_passes_missing_values_through() -> None:
    assert convert("format_decimal", Decimal("1234.567"), places=1, rounding="half_up") == "1,234.6"
    with pytest.raises(ConversionError, match="more decimal places than 1"):
        convert("format_decimal", Decimal("1234.567"), places=1)
    assert convert("format_decimal", 1234, style="de", places=0) == "1.234"
    assert convert("format_decimal", None, style="en") is None


def test_format_decimal_refuses_a_style_it_does_not_know() -> None:
    with pytest.raises(ConversionError, match="unknown decimal style 'klingon'"):
        convert("format_decimal", Decimal(1), style="klingon")


def test_format_date_writes_datetimes_by_their_date_and_passes_missing_values_through() -> None:
    assert convert("format_date", datetime(2026, 3, 5, 23, 59, tzinfo=UTC)) == "2026-03-05"
    assert convert("format_date", None) is None


def test_a_template_may_use_a_field_named_value_without_clashing() -> None:
    assert convert("template", "x", template="{value}-{city}", value="other", city="Ning") == "x-Ning"


def test_a_template_writes_a_missing_field_as_empty_text_not_none() -> None:
    assert convert("template", "李", template="{value}{first_name}", first_name=None) == "李"
    assert convert("template", None, template="{value}|{first_name}", first_name=None) == "|"


def test_a_template_writes_a_missing_field_as_its_empty_option() -> None:
    filled = convert(
        "template", None, template="{value}|{number}|{payee}", number=None, payee="Li", empty="None"
    )
    assert filled == "|None|Li"  # `{value}` without one is nothing, as it always was


@pytest.mark.parametrize("empty", ["", "None"])
@pytest.mark.parametrize("amount", [None, ""])
def test_a_template_formatting_an_empty_field_names_the_field_not_the_format(
    amount: object, empty: str
) -> None:
    with pytest.raises(ConversionError) as refused:
        template = "line|{date}|{amount:.2f}"
        convert("template", None, template=template, date="2026-03-02", amount=amount, empty=empty)
    assert str(refused.value) == "`{amount}` is empty"


def test_negative_amounts_keep_every_digit() -> None:
    assert parse_decimal("-" + "9" * 30 + ".5") == Decimal("-" + "9" * 30 + ".5")
