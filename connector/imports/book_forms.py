"""One set of books exported in two forms: its bill lists (金蝶 应收单, 收款单: `kingdee.invoices`,
`kingdee.receipts`) and its vouchers (凭证: `kingdee.vouchers`) hold the same invoices and receipts.
Imported both, each would be posted twice, and no id tells the two records of one receipt apart.

So a file of one form is refused while the ledger holds documents of the other form of the same books:
sources named `<books>.<form>`, the voucher form being the sources of voucher mappings. A ledger whose
vouchers hold only what no bill list does (opening balances, write-offs) says so with
`imports.both_forms_of_books`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bootstrap import Container
from connector.db import reading
from connector.documents import DocumentParser
from connector.errors import FileFormatError
from connector.imports.models import ImportedDocument


def refuse_the_other_form(
    container: Container, parser: DocumentParser, parsers: Sequence[DocumentParser], *, retried: bool
) -> None:
    """`FileFormatError` when the ledger holds documents of the other form of the parser's books,
    unless `imports.both_forms_of_books` says they never overlap, or the file was `retried` (imported
    before: its rows failed then are tried again)."""
    if retried or container.settings.imports.both_forms_of_books:
        return
    vouchers = {p.format for p in parsers if getattr(p, "kinds_follow_sides", False)}
    with reading(container.sessions) as session:
        others = other_form_imported(session, parser.format, [p.format for p in parsers], vouchers)
    if others:
        raise FileFormatError(refusal(parser.format, others))


def other_form_imported(
    session: Session, source: str, sources: Collection[str], voucher_sources: Collection[str]
) -> list[str]:
    """The sources among `sources` of the same books as `source`, of the other form, that the ledger
    holds documents of (each asked once: whether any is there)."""
    books, dot, _ = source.partition(".")
    if not dot:
        return []
    vouchers = source in voucher_sources
    others = sorted(
        other
        for other in set(sources)
        if other != source and other.partition(".")[0] == books and (other in voucher_sources) != vouchers
    )
    return [
        other
        for other in others
        if session.scalar(select(ImportedDocument.id).where(ImportedDocument.source == other).limit(1))
    ]


def refusal(source: str, others: Collection[str]) -> str:
    """Why a file of `source` is not imported beside documents of `others`."""
    return (
        f"{source} and {', '.join(others)} are two forms of the same books, each holding the same invoices "
        f"and receipts, and the ledger holds {', '.join(others)} documents already: imported too, this file "
        "would post them again. Import one form of these books only; if its documents are none of "
        "theirs (vouchers of opening balances, write-offs), set imports.both_forms_of_books = true"
    )
