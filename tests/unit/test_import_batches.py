"""A file's items, a batch at a time: a payment and the `.kept` credit note parsed right after it are
never split, so that its batch tells a note the file gives from one it no longer gives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from connector.documents import Document, Origin, Parsed, banked_and_kept
from connector.errors import FileFormatError
from connector.imports.batches import Batches
from connector.money import Money


def payment(external_id: str, kept: str | None = None) -> list[Parsed]:
    """Payment `external_id` of 10.00 EUR, with its `.kept` note of `kept` when the bank kept some."""
    document = Document(
        "payment",
        "zoho_books.payments",
        external_id,
        dt.date(2026, 3, 5),
        Money.of("10.00", "EUR"),
        Origin("p.csv", 2),
    )
    if kept is None:
        return [document]
    return [*banked_and_kept(document, Money.of(kept, "EUR"))]


def ids(batches: Batches) -> list[list[str]]:
    found = []
    while batch := batches.next():
        found.append([item.external_id for item in batch if isinstance(item, Document)])
    return found


def test_a_batch_takes_in_the_kept_credit_note_following_its_last_payment() -> None:
    items = [*payment("P1", "0.15"), *payment("P2"), *payment("P3", "0.20")]

    assert ids(Batches(items, 1, "p.csv")) == [["P1", "P1.kept"], ["P2"], ["P3", "P3.kept"]]
    assert ids(Batches(items, 2, "p.csv")) == [["P1", "P1.kept"], ["P2", "P3", "P3.kept"]]
    assert ids(Batches(items, 3, "p.csv")) == [["P1", "P1.kept", "P2"], ["P3", "P3.kept"]]


def test_a_file_unreadable_past_a_batch_is_reported_after_that_batch() -> None:
    def parsed() -> Iterator[Parsed]:
        yield from payment("P1")
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    batches = Batches(parsed(), 1, "p.csv")

    assert [item.external_id for item in batches.next() if isinstance(item, Document)] == ["P1"]
    with pytest.raises(FileFormatError, match=r"p\.csv: unreadable from here on"):
        batches.next()
