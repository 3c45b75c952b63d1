"""A file whose slash dates read only the other way round than its mapping (or setting) says: its dates
that read either way are never posted in the declared order, and the file says what to edit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from adapters.exports import date_order
from adapters.exports.mapped import MappedExport
from connector.bootstrap import export_parsers
from connector.documents import Document, Notice, Origin, Parsed, Problem
from connector.mapping.converters import ConversionError, to_date
from connector.mapping.files import MappingSet, load_mapping_set
from connector.money import Money

REPO = Path(__file__).resolve().parents[2]
QBO_HEAD = "Date,Transaction Type,Num,Customer,Memo/Description,Payment Method,Deposit To,Amount\n"


@pytest.fixture(scope="module")
def shipped() -> MappingSet:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    return mappings


def _qbo(shipped: MappingSet, tmp_path: Path, *lines: str) -> list[Parsed]:
    path = tmp_path / "payments.csv"
    path.write_text(QBO_HEAD + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    parser = next(p for p in export_parsers(shipped) if p.format == "quickbooks_online.payments")
    return list(parser.parse(str(path), "payments.csv"))


def _row(found: list[Parsed], row: int) -> Parsed:
    return next(item for item in found if not isinstance(item, Notice) and item.origin.row == row)


def _notes(found: list[Parsed]) -> list[str]:
    return [item.text for item in found if isinstance(item, Notice) and "writes a date" in item.text]


def test_a_day_first_date_under_a_month_first_mapping_is_refused_naming_the_edit() -> None:
    with pytest.raises(ConversionError) as refused:
        to_date("13/03/2026", ["%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d"])
    assert str(refused.value) == (
        "day-first date under a month-first mapping: if this export writes DD/MM/YYYY, set the date "
        "format to '%d/%m/%Y' instead of '%m/%d/%Y'"
    )
    with pytest.raises(ConversionError, match="month-first date under a day-first mapping"):
        to_date("03/25/2026", ["%Y-%m-%d", "%d/%m/%Y"])
    with pytest.raises(ConversionError, match="does not match"):  # no order shown: not a date at all
        to_date("13/13/2026", ["%m/%d/%Y"])


def test_a_uk_quickbooks_file_keeps_its_dates_that_read_either_way_out_of_the_ledger(
    shipped: MappingSet, tmp_path: Path
) -> None:
    found = _qbo(
        shipped,
        tmp_path,
        "03/05/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,70.00",
        "13/03/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,80.00",
        "03/05/2026,Payment,,Acme Corp,,Cash,Undeposited Funds,90.00",
        "05/05/2026,Payment,,Acme Corp,,Cash,Undeposited Funds,99.00",
        "04/13/2026,Payment,,Acme Corp,,Cash,Undeposited Funds,98.00",
    )
    before, shown, after = _row(found, 2), _row(found, 3), _row(found, 4)
    assert isinstance(shown, Problem)
    assert shown.reason.startswith("date (Date): day-first date under a month-first mapping")
    assert "export_quickbooks_online_payments.toml" in shown.reason
    for held in (before, after):  # 3 May or 5 March: neither posted
        assert isinstance(held, Problem)
        assert "row 3 writes dates day-first (DD/MM/YYYY): not posted month-first" in held.reason
    same = _row(found, 5)  # a day equal to its month reads one way only
    assert isinstance(same, Document)
    assert same.date == dt.date(2026, 5, 5)
    april = _row(found, 6)  # reads only month first: as the mapping says
    assert isinstance(april, Document)
    assert april.date == dt.date(2026, 4, 13)
    (note,) = _notes(found)
    assert "row 3 writes a date that reads only day-first" in note
    assert "2 document(s) whose date reads either way kept in quarantine" in note
    assert "set the date format of Date in export_quickbooks_online_payments.toml to '%d/%m/%Y'" in note
    assert "posted" not in note.split("quarantine, not posted")[1]  # none went in before it


def test_a_file_that_shows_the_declared_order_posts_its_dates_as_read(
    shipped: MappingSet, tmp_path: Path
) -> None:
    found = _qbo(
        shipped,
        tmp_path,
        "03/05/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,70.00",
        "03/25/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,80.00",
        "04/01/2026,Payment,,Acme Corp,,Cash,Undeposited Funds,90.00",
    )
    dates = [item.date for item in found if isinstance(item, Document)]
    assert dates == [dt.date(2026, 3, 5), dt.date(2026, 3, 25), dt.date(2026, 4, 1)]  # file order kept
    assert _notes(found) == []


def test_dates_posted_before_the_file_showed_the_other_order_are_counted_for_a_person(
    shipped: MappingSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(date_order, "HOLD", 1)  # a long run of such dates is not held back whole
    found = _qbo(
        shipped,
        tmp_path,
        "03/05/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,70.00",
        "04/05/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,71.00",
        "06/05/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,72.00",
        "13/03/2026,Payment,,Blue Sky Cafe,,Cash,Undeposited Funds,80.00",
        "07/05/2026,Payment,,Acme Corp,,Cash,Undeposited Funds,90.00",
    )
    assert isinstance(_row(found, 2), Document)
    assert isinstance(_row(found, 6), Problem)
    (note,) = _notes(found)
    assert "2 document(s) whose date reads either way kept in quarantine" in note  # rows 4 and 6
    assert "2 posted month-first before the file showed it (rows 2, 3)" in note
    assert "may be misdated by months" in note


def test_a_month_first_zoho_books_file_under_the_day_first_mapping_is_shown(
    shipped: MappingSet, tmp_path: Path
) -> None:
    mapping = shipped.document_format("zoho_books.payments")
    assert mapping is not None
    head = (
        "CustomerPayment ID,Payment Number,Date,Customer Name,Amount,Currency Code,Invoice Number,"
        "Amount Applied to Invoice\n"
    )
    path = tmp_path / "zoho.csv"
    path.write_text(
        head + "1,P1,03/05/2026,Acme,10.00,USD,INV-1,10.00\n2,P2,03/25/2026,Acme,20.00,USD,INV-2,20.00\n",
        encoding="utf-8",
    )
    found = list(MappedExport(mapping, "export_zoho_books_payments.toml").parse(path, "zoho.csv"))
    first, second = _row(found, 2), _row(found, 3)
    assert isinstance(first, Problem)
    assert "writes dates month-first" in first.reason
    assert isinstance(second, Problem)
    assert "month-first date under a day-first mapping" in second.reason
    assert any("'%m/%d/%Y'" in note for note in _notes(found))


def test_documents_dated_without_slashes_pass_the_watch_at_once_none_held() -> None:
    watch = date_order.DateOrderWatch("e.csv", {"date": ("date (Date)", "mdy", "set the format")})
    first = Document(
        source="test.payments",
        kind="payment",
        external_id="P1",
        date=dt.date(2026, 3, 5),
        amount=Money.of("1.00", "USD"),
        origin=Origin("e.csv", 2),
    )
    watch.see(2, "date", "2026-03-05")
    passed = watch.items(iter([first, first]))

    assert next(passed) is first  # yielded before the next is read: a million rows stream through
    assert not watch.held
