"""A file's parsed items, a batch at a time, a payment's parts never split between two batches.

A payment whose bank kept some of its money back is parsed as its receipt and, right after it, the
`.kept` credit note of the rest (`documents.banked_and_kept`). A batch decides what a changed payment
does to its `.kept` by whether the batch gives it (`kept_notes`): a batch ending between the two would
reverse a note the file gives the next moment. So a batch takes in the `.kept` note that follows its
last payment: one look past the batch's end, never a test of each row.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from sqlalchemy.exc import SQLAlchemyError

from connector.documents import Document, Parsed, paid_by, payment_kept_by
from connector.errors import ConnectorError, FileFormatError


class Batches:
    """The items of file `name`, `size` at a time (one more when the next is the `.kept` note of the
    last one's payment)."""

    def __init__(self, items: Iterable[Parsed], size: int, name: str) -> None:
        self._items = iter(items)
        self._size = size
        self._name = name
        self._ahead: list[Parsed] = []  # the item read past the last batch's end: the next one's first
        self._broken: Exception | None = None  # what reading past the last batch raised: the next's

    def next(self) -> list[Parsed]:
        """The next batch; empty at the file's end. A parser's library failing on the file's bytes (a
        codec, a damaged archive) makes the file unreadable from there: the file's fault, reported as
        such (after the batch read before it), never a crash that would stop the inbox's other files."""
        if self._broken is not None:
            raise self._broken
        batch, self._ahead = self._ahead, []
        batch += self._read(self._size - len(batch))
        while batch:
            try:
                following = self._read(1)
            except Exception as exc:  # this batch is whole: it is decided first, as without the look
                self._broken = exc
                break
            if not following:
                break
            if not _kept_of(following[0], batch[-1]):
                self._ahead = following
                break
            batch += following
        return batch

    def _read(self, count: int) -> list[Parsed]:
        try:
            return list(islice(self._items, count))
        except (ConnectorError, SQLAlchemyError, MemoryError):
            raise
        except Exception as exc:
            raise FileFormatError(
                f"{self._name}: unreadable from here on ({type(exc).__name__}: {exc})"
            ) from exc


def _kept_of(item: Parsed, last: Parsed) -> bool:
    """Whether `item` is the `.kept` credit note of the payment `last` is (or is a part of)."""
    return (
        isinstance(item, Document)
        and isinstance(last, Document)
        and (paid := payment_kept_by(item)) is not None
        and paid == paid_by(last.external_id)
        and item.source == last.source
    )
