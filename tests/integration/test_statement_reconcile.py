"""Bank reconciliation against the ledger, on SQLite and PostgreSQL: a statement imported, receipts posted
from other sources, reversals, and a statement never imported at all."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import MetaData, String, func, select

from adapters.statements.camt053 import Camt053Parser
from adapters.statements.mt940 import Mt940Parser
from adapters.statements.ofx import OfxParser
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.documents import Document, DocumentParser
from connector.imports.models import ImportedDocument
from connector.imports.pipeline import choose_parser, import_file
from connector.imports.reconcile import queue, reject
from connector.imports.rules import Accounts
from connector.imports.statement_check import Period
from connector.imports.statement_reconcile import FileReconciliation, reconcile_file
from connector.ledger.customers import NewCustomer
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.models import JournalEntry, Posting
from connector.ledger.posting import Ledger
from connector.money import Money
from connector.sync.models import QuarantinedRecord
from connector.sync.quarantine import resolve_records, show_record
from connector.sync.runs import quarantine
from tests.conftest import REPO
from tests.integration.test_imports import MT940 as MT940_TEMPLATE
from tests.integration.test_imports import OFX as OFX_TEMPLATE
from tests.integration.test_imports import ofx

STATEMENTS = REPO / "tests" / "fixtures" / "statements"
CAMT = STATEMENTS / "camt053_v02_two_statements.xml"
MT940 = STATEMENTS / "icbc_statement_gbk.sta"


def receipt(
    container: Container,
    external_id: str,
    amount: str,
    currency: str,
    on: date,
    *,
    bank: str | None = None,
    to: str | None = None,
    customer: str | None = None,
) -> int:
    """A receipt posted from an accounting export, not from a statement: Dr `bank` (the bank role's
    account), Cr `to` (unapplied receipts) for `customer`."""
    chart = container.settings.ledger.chart
    money = Money.of(amount, currency)
    draft = EntryDraft(
        source="zoho_books",
        external_id=external_id,
        posting_date=on,
        voucher=Voucher("payment", "payments.csv", 2),
        memo=f"receipt {external_id}",
        lines=(
            Line.debit(bank or chart.bank.code, money),
            Line.credit(to or chart.unapplied.code, money, customer),
        ),
    )
    with unit_of_work(container.sessions) as session:
        return Ledger(session).post(draft).entry_id


def reverse(container: Container, entry_id: int, on: date) -> int:
    with unit_of_work(container.sessions) as session:
        return Ledger(session).reverse(entry_id, posting_date=on).entry_id


def reconcile(container: Container, path: Path, parser: DocumentParser) -> FileReconciliation:
    with unit_of_work(container.sessions) as session:
        return reconcile_file(
            session, path, parser, Accounts.of(container.settings.ledger.chart), 3, lambda: container.cipher
        )


def test_an_imported_statement_matches_its_lines_and_shows_what_the_ledger_and_the_bank_lack(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        container.customers(session).create(
            NewCustomer(
                "Müller Maschinenbau GmbH & Co. KG",
                "KA",
                "DE",
                "EUR",
                bank_accounts=("DE02120300000000202051",),
            )
        )
    assert import_file(container, CAMT, [Camt053Parser()]).status == "imported"
    extra = receipt(container, "ZB-PAY-300", "300.00", "EUR", date(2026, 3, 4))
    reverse(container, receipt(container, "ZB-PAY-80", "80.00", "EUR", date(2026, 3, 4)), date(2026, 3, 4))

    result = reconcile(container, CAMT, Camt053Parser())

    euro, yen = result.statements
    assert {m.line.external_id: (m.by_import, m.import_status) for m in euro.matched} == {
        "2026030400003#1": (True, "unapplied"),
        "2026030400003#2": (True, "unapplied"),
        "2026030400003#3": (True, "unapplied"),
    }
    assert {m.line.external_id: m.reason for m in euro.missing_lines} == {
        "2026030400001": "reversed by a later line: its entry and the reversal cancel",
        "2026030400002": "money out: not a receivable, not posted",
        "2026030400004": "reverses 2026030400001 (returned receipt): the import reversed the entry of the "
        "line it cancels, this one is not posted",
    }
    assert [(m.entry.entry_id, m.entry.external_id, m.note) for m in euro.missing_entries] == [
        (extra, "ZB-PAY-300", "")
    ]  # neither the returned receipt nor the Zoho Books receipt reversed in the period is listed
    assert [(m.line.amount, m.by_import) for m in euro.other_matched] == [(Money.of("99.99", "USD"), True)]
    balances = euro.balances
    assert balances.statement_movement == Money.of("949.65", "EUR")
    assert balances.ledger_movement == Money.of(
        "1500.00", "EUR"
    )  # 1,200 still received + 300 from Zoho Books
    assert balances.explained == balances.difference == Money.of("-550.35", "EUR")
    assert balances.self_check == Money.zero("EUR")
    assert [p.reason for p in euro.unreadable][:1] == ["pending entry, not booked"]
    assert (euro.reconciles, yen.reconciles, result.reconciles) == (True, True, True)
    assert [m.how for m in yen.matched] == ["imported from this statement"]


def test_a_statement_never_imported_finds_receipts_from_other_sources_by_amount_and_date(
    container: Container,
) -> None:
    near = receipt(container, "ZB-PAY-58000", "58000.00", "CNY", date(2026, 3, 11))
    receipt(container, "ZB-PAY-OLD", "10.00", "CNY", date(2026, 3, 9))  # the previous statement's day
    reversed_later = receipt(container, "ZB-PAY-77", "77.00", "CNY", date(2026, 3, 10))
    later = reverse(container, reversed_later, date(2026, 3, 12))
    earlier = receipt(container, "ZB-PAY-55", "55.00", "CNY", date(2026, 3, 5))
    reversal = reverse(container, earlier, date(2026, 3, 10))
    row_9 = next(item for item in Mt940Parser().parse(str(MT940), MT940.name) if item.origin.row == 9)
    assert isinstance(row_9, Document)
    held = {"file": MT940.name, "row": 9, "raw": row_9.origin.raw, "external_id": row_9.external_id}
    elsewhere = {**held, "external_id": "another download's line 9"}
    with unit_of_work(container.sessions) as session:
        for raw, reason in ((elsewhere, "another file's reason"), (held, "no customer for it")):
            ref = f"{MT940.name}:9"
            quarantine(session, container.cipher, None, "mt940", ref, raw, reason, lambda _: False)

    (report,) = reconcile(container, MT940, Mt940Parser()).statements

    assert report.period == Period(date(2026, 3, 10), date(2026, 3, 10))  # MT940: the day after 60F
    assert [(m.entry.entry_id, m.how) for m in report.matched] == [(near, "amount and date (±1 day)")]
    assert not report.matched[0].in_period
    assert sorted(m.reason for m in report.missing_lines) == [
        "money out: not a receivable, never imported",
        "quarantined: no customer for it",
    ]
    assert {m.entry.entry_id: m.note for m in report.missing_entries} == {
        reversed_later: f"reversed by entry {later} on 2026-03-12, outside the period",
        reversal: f"reverses entry {earlier} of 2026-03-05, outside the period",
    }
    balances = report.balances
    assert balances.ledger_movement == Money.of("22.00", "CNY")  # 77 received, 55 reversed
    assert balances.timing == Money.of("58000.00", "CNY")
    assert balances.unexplained == Money.zero("CNY")
    assert report.reconciles


IBAN = "DE89370400440532013000"


def entry_xml(ref: str, amount: str, booked: str, *, debit: bool = False, reversal: bool = False) -> str:
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{"DBIT" if debit else "CRDT"}</CdtDbtInd>'
        + ("<RvslInd>true</RvslInd>" if reversal else "")
        + f"<Sts>BOOK</Sts><BookgDt><Dt>{booked}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef></Ntry>"
    )


def statement_xml(ident: str, month: int, opening: str, closing: str, *entries: str, iban: str = IBAN) -> str:
    def balance(code: str, amount: str) -> str:
        sign = "DBIT" if amount.startswith("-") else "CRDT"
        return (
            f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{amount.lstrip("-")}</Amt>'
            f"<CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>2026-{month:02d}-01</Dt></Dt></Bal>"
        )

    last = {2: 28, 3: 31}[month]
    return (
        f"<Stmt><Id>{ident}</Id><FrToDt><FrDtTm>2026-{month:02d}-01T00:00:00+01:00</FrDtTm>"
        f"<ToDtTm>2026-{month:02d}-{last}T23:59:59+01:00</ToDtTm></FrToDt>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f"{balance('OPBD', opening)}{balance('CLBD', closing)}{''.join(entries)}</Stmt>"
    )


def camt_file(path: Path, *statements: str) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>{''.join(statements)}</BkToCstmrStmt></Document>",
        encoding="utf-8",
    )
    return path


def test_a_line_of_this_month_never_takes_the_entry_last_months_line_posted(
    container: Container, tmp_path: Path
) -> None:
    february = statement_xml("FEB", 2, "0.00", "100.00", entry_xml("F1", "100.00", "2026-02-27"))
    import_file(container, camt_file(tmp_path / "feb.xml", february), [Camt053Parser()])
    march = statement_xml("MAR", 3, "100.00", "200.00", entry_xml("M1", "100.00", "2026-03-02"))

    (report,) = reconcile(container, camt_file(tmp_path / "mar.xml", march), Camt053Parser()).statements

    assert report.matched == ()
    assert [m.reason for m in report.missing_lines] == ["never imported"]
    assert report.balances.missing_lines == report.balances.difference == Money.of("100.00", "EUR")


def test_a_banks_return_in_a_later_statement_matches_the_reversal_it_posted(
    container: Container, tmp_path: Path
) -> None:
    february = statement_xml("FEB", 2, "0.00", "100.00", entry_xml("A1", "100.00", "2026-02-27"))
    returned = entry_xml("R1", "100.00", "2026-03-02", debit=True, reversal=True)
    march = camt_file(tmp_path / "mar.xml", statement_xml("MAR", 3, "100.00", "0.00", returned))
    import_file(container, camt_file(tmp_path / "feb.xml", february), [Camt053Parser()])
    assert import_file(container, march, [Camt053Parser()]).counts["reversed"] == 1

    (report,) = reconcile(container, march, Camt053Parser()).statements

    assert [(m.how, m.import_status) for m in report.matched] == [
        ("imported from this statement", "reversal")
    ]
    assert (report.missing_lines, report.missing_entries) == ((), ())
    assert report.reconciles


@pytest.mark.parametrize(
    ("parser", "collected", "returned"),
    [
        (Camt053Parser(), "camt053_direct_debit.xml", "camt053_direct_debit_returned.xml"),  # RtrInf, UPDD
        (Mt940Parser(), "mt940_direct_debit.sta", "mt940_direct_debit_returned.sta"),  # NRTI, GVC 109
    ],
)
def test_a_returned_direct_debit_the_bank_marks_only_by_its_codes_reverses_the_receipt(
    container: Container, parser: DocumentParser, collected: str, returned: str
) -> None:
    statements = REPO / "tests" / "fixtures" / "statements"
    assert import_file(container, statements / collected, [parser]).counts["receipts_unapplied"] == 1

    result = import_file(container, statements / returned, [parser])

    assert (result.counts["reversed"], result.counts["ignored_outgoing"]) == (1, 0)
    with unit_of_work(container.sessions) as session:
        statuses = sorted(session.scalars(select(ImportedDocument.status)))
    assert statuses == ["reversal", "reversed"]


# What a bank may write of a return in its own words (CAMT AddtlInf, a proprietary reason in words, an
# MT940 ?34 that is no key): personal data, never stored in clear.
WORDS = "Kontoinhaberin Maria Musterfrau verstorben, Erbin Anna Musterfrau Tel 0171 5550199"


def with_words(tmp_path: Path, name: str) -> Path:
    """The returned direct debit `name` with words naming people where the bank gives its own words of
    the return: `WORDS` in CAMT's AddtlInf, their start in MT940's ?34."""
    text = (STATEMENTS / name).read_text(encoding="utf-8")
    if name.endswith(".xml"):
        text = text.replace("<AddtlInf>RUECKLASTSCHRIFT</AddtlInf>", f"<AddtlInf>{WORDS}</AddtlInf>")
    else:
        text = text.replace("?32Kunde Z", "?32Kunde Z?34Inhaberin Maria Musterfrau")  # ?34: 27 characters
    copy = tmp_path / name
    copy.write_text(text, encoding="utf-8")
    return copy


def stored_in_clear(container: Container, text: str) -> list[str]:
    """Where `text` is in the database in clear: each table's text column holding it and, on SQLite, the
    database file itself (and its write-ahead log: every byte written, a freed page's too)."""
    found: list[str] = []
    with unit_of_work(container.sessions) as session:
        tables = MetaData()
        tables.reflect(bind=session.connection())
        for table in tables.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, String):
                    holding = select(func.count()).where(column.contains(text, autoescape=True))
                    if session.scalar(holding):
                        found.append(f"{table.name}.{column.name}")
    database = container.engine.url.database
    if container.engine.dialect.name == "sqlite" and database:
        for file in (Path(database), Path(f"{database}-wal")):
            if file.exists() and text.encode() in file.read_bytes():
                found.append(file.name)
    return found


@pytest.mark.parametrize(
    ("parser", "collected", "returned", "reason"),
    [
        (
            Camt053Parser(),
            "camt053_direct_debit.xml",
            "camt053_direct_debit_returned.xml",
            "AM04 insufficient funds",  # RtrInf/Rsn/Cd; its AddtlInf, the bank's words, is not kept
        ),
        (
            Mt940Parser(),
            "mt940_direct_debit.sta",
            "mt940_direct_debit_returned.sta",
            "AM04 insufficient funds",  # a code standing in the remittance (SVWZ+INV-55 AM04)
        ),
    ],
)
def test_a_returned_direct_debit_names_the_banks_return_reason_in_its_reversal_and_keeps_its_words_nowhere(
    container: Container, tmp_path: Path, parser: DocumentParser, collected: str, returned: str, reason: str
) -> None:
    import_file(container, STATEMENTS / collected, [parser])
    import_file(container, with_words(tmp_path, returned), [parser])

    with unit_of_work(container.sessions) as session:
        by_status = {record.status: record for record in session.scalars(select(ImportedDocument))}
        line, received = by_status["reversal"], by_status["reversed"]
        memo = session.scalars(select(JournalEntry.memo).where(JournalEntry.id == line.entry_id)).one()
    assert memo == f"returned ({reason}): reversed by {parser.format} {line.external_id}"
    assert line.match_rule == f"reverses {received.external_id} (returned receipt: {reason})"
    assert stored_in_clear(container, "Musterfrau") == []


@pytest.mark.parametrize(
    ("parser", "collected", "returned", "said"),
    [
        (  # a proprietary reason in words, not a code: the bank's words
            Camt053Parser(),
            "camt053_direct_debit.xml",
            "camt053_direct_debit_returned.xml",
            (
                "<Rsn><Cd>AM04</Cd></Rsn><AddtlInf>RUECKLASTSCHRIFT</AddtlInf>",
                "<Rsn><Prtry>Died</Prtry></Rsn><AddtlInf>Kontoinhaber Hans Meier verstorben</AddtlInf>",
            ),
        ),
        (  # /RTRN/ (here RTRN+) followed by free text whose first word is short
            Mt940Parser(),
            "mt940_direct_debit.sta",
            "mt940_direct_debit_returned.sta",
            ("SVWZ+INV-55 AM04?31", "SVWZ+INV-55?23RTRN+ERBE Meier?31"),
        ),
    ],
)
def test_a_return_whose_reason_is_the_banks_word_names_no_reason_and_keeps_the_word_nowhere(
    container: Container,
    tmp_path: Path,
    parser: DocumentParser,
    collected: str,
    returned: str,
    said: tuple[str, str],
) -> None:
    copy = tmp_path / returned
    copy.write_text((STATEMENTS / returned).read_text(encoding="utf-8").replace(*said), encoding="utf-8")
    import_file(container, STATEMENTS / collected, [parser])
    import_file(container, copy, [parser])

    with unit_of_work(container.sessions) as session:
        by_status = {record.status: record for record in session.scalars(select(ImportedDocument))}
        line, received = by_status["reversal"], by_status["reversed"]
        memo = session.scalars(select(JournalEntry.memo).where(JournalEntry.id == line.entry_id)).one()
    assert memo == f"returned: reversed by {parser.format} {line.external_id}"
    assert line.match_rule == f"reverses {received.external_id} (returned receipt)"
    assert [stored_in_clear(container, word) for word in ("Died", "ERBE", "Meier")] == [[], [], []]


@pytest.mark.parametrize("returned", ["camt053_direct_debit_returned.xml", "mt940_direct_debit_returned.sta"])
def test_a_return_held_for_a_person_says_the_banks_return_reason_and_keeps_its_words_encrypted(
    container: Container, tmp_path: Path, returned: str
) -> None:
    result = import_file(container, with_words(tmp_path, returned), [Camt053Parser(), Mt940Parser()])

    assert result.counts["quarantined"] == 1
    with unit_of_work(container.sessions) as session:
        record = session.scalars(select(QuarantinedRecord)).one()
        shown = show_record(session, container.cipher, record.id)  # as `quarantine show` shows it
    assert record.reason == (
        "a returned receipt of 500.00 EUR whose receipt was never imported "
        "(the bank's return reason: AM04 insufficient funds)"
    )
    assert stored_in_clear(container, "Musterfrau") == []
    assert "Maria Musterfrau" in json.dumps(shown.raw, ensure_ascii=False)  # its raw input, decrypted


@pytest.mark.parametrize(
    ("parser", "file"),
    [(Mt940Parser(), "mt940_intraday_then_day.sta"), (Camt053Parser(), "camt053_intraday_then_day.xml")],
)
def test_a_days_statement_after_its_intraday_one_in_one_file_posts_each_line_once(
    container: Container, parser: DocumentParser, file: str
) -> None:
    """Intraday: one 300 receipt; the day's: that one and another alike. 600 came in, not 900."""
    result = import_file(container, REPO / "tests" / "fixtures" / "statements" / file, [parser])
    assert (result.counts["receipts_unapplied"], result.counts["unchanged"]) == (2, 1)


@pytest.mark.parametrize(
    "files",
    [
        ("camt053_batch_detailed.xml", "camt053_batch_whole.xml"),
        ("camt053_batch_whole.xml", "camt053_batch_detailed.xml"),
    ],
)
def test_a_batch_detailed_in_one_statement_and_whole_in_another_posts_its_money_once(
    container: Container, files: tuple[str, str]
) -> None:
    statements = REPO / "tests" / "fixtures" / "statements"
    first = import_file(container, statements / files[0], [Camt053Parser()])
    again = import_file(container, statements / files[1], [Camt053Parser()])
    assert first.counts["unchanged"] == 0
    assert again.counts["unchanged"] == again.counts["documents"]  # the same entry, in its other form
    with unit_of_work(container.sessions) as session:
        banked = session.scalars(select(ImportedDocument.amount_minor)).all()
    assert sum(banked) == 120000
    (report,) = reconcile(container, statements / files[1], Camt053Parser()).statements
    assert {m.reason.split(":")[0] for m in report.missing_lines} == {
        "imported from another statement "
        + ("as its transactions" if files[1] == "camt053_batch_whole.xml" else "as one batched entry")
    }


def test_a_batch_and_its_other_form_in_one_file_post_their_money_once(
    container: Container, tmp_path: Path
) -> None:
    statements = REPO / "tests" / "fixtures" / "statements"
    detailed = (statements / "camt053_batch_detailed.xml").read_text(encoding="utf-8")
    whole = (statements / "camt053_batch_whole.xml").read_text(encoding="utf-8")
    second = whole[whole.index("<Stmt>") : whole.index("</Stmt>") + len("</Stmt>")]
    both = detailed.replace("</Stmt>", "</Stmt>" + second.replace("<Id>", "<Id>2-", 1), 1)
    path = tmp_path / "both.xml"
    path.write_text(both, encoding="utf-8")
    import_file(container, path, [Camt053Parser()])
    with unit_of_work(container.sessions) as session:
        assert sum(session.scalars(select(ImportedDocument.amount_minor))) == 120000


def test_another_accounts_entry_of_the_same_bank_reference_is_no_other_form_of_a_batch(
    container: Container, tmp_path: Path
) -> None:
    statements = REPO / "tests" / "fixtures" / "statements"
    whole = (statements / "camt053_batch_whole.xml").read_text(encoding="utf-8")
    account = whole.split("<IBAN>", 1)[1].split("</IBAN>", 1)[0]
    elsewhere = tmp_path / "elsewhere.xml"  # X-777 on another account: one payment of 300
    plain = statement_xml("OTHER", 3, "0.00", "300.00", entry_xml("X-777", "300.00", "2026-03-10"))
    camt_file(elsewhere, plain)
    import_file(container, elsewhere, [Camt053Parser()])
    assert account not in elsewhere.read_text(encoding="utf-8")

    result = import_file(container, statements / "camt053_batch_whole.xml", [Camt053Parser()])

    assert result.counts["unchanged"] == 0
    with unit_of_work(container.sessions) as session:
        assert sum(session.scalars(select(ImportedDocument.amount_minor))) == 30000 + 120000


def test_identical_lines_on_two_pages_of_one_statement_stay_two_whatever_the_pages_open_with(
    container: Container,
) -> None:
    """Page 1 nets to zero, so page 2 opens (:60M:) as page 1 did (:60F:): it is no day's statement
    covering the intraday one again, and its 300 is another payment."""
    file = REPO / "tests" / "fixtures" / "statements" / "mt940_two_pages_netting.sta"
    result = import_file(container, file, [Mt940Parser()])
    assert (result.counts["receipts_unapplied"], result.counts["unchanged"]) == (2, 0)


def test_an_entry_missing_from_a_paged_statement_is_listed_under_one_page_and_each_page_adds_up(
    container: Container, tmp_path: Path
) -> None:
    """Page 2 opens (:60M:) on the 15th with a line of that day: both pages' periods hold the 15th."""
    paged = tmp_path / "pages.sta"
    paged.write_text(
        ":20:P1\n:25:DE11111111111111111111\n:28C:5/1\n:60F:C260228EUR1000,00\n"
        ":61:2603150315C150,00NTRFNONREF//X1\n:86:Acme Trading GmbH A-2\n:62M:C260315EUR1150,00\n-\n"
        ":20:P2\n:25:DE11111111111111111111\n:28C:5/2\n:60M:C260315EUR1150,00\n"
        ":61:2603150315C10,00NTRFNONREF//X2\n:86:misc\n"
        ":61:2603200320C7,00NTRFNONREF//X3\n:86:misc2\n:62F:C260331EUR1167,00\n-\n",
        encoding="utf-8",
    )
    cheque = receipt(container, "ZB-PAY-99", "99.00", "EUR", date(2026, 3, 15))

    first, second = reconcile(container, paged, Mt940Parser()).statements

    assert [m.entry.entry_id for m in first.missing_entries] == [cheque]
    assert second.missing_entries == ()
    assert (first.balances.ledger_movement, second.balances.ledger_movement) == (
        Money.of("99.00", "EUR"),
        Money.zero("EUR"),
    )
    assert first.balances.unexplained == second.balances.unexplained == Money.zero("EUR")


MT940_IN = ":61:2603100310CR300,00NTRFNONREF\n:86:166?00GUTSCHRIFT?20SVWZ+{text}?32Kunde B"
MT940_OUT = ":61:2603100310DR300,00NTRFNONREF\n:86:177?00UEBERWEISUNG?20SVWZ+MIETE?32Vermieter"


def mt940_day(first: list[str], then: list[str], closing: str) -> str:
    """Two statements of one day: the first nets to nothing, the second opens where it closed."""
    head = ":20:RUN\n:25:DE44500105175407324931\n:28C:10/{n}\n:60F:C260310EUR1000,00\n"
    return (
        head.format(n=1) + "\n".join(first) + "\n:62F:C260310EUR1000,00\n"
        + head.format(n=2) + "\n".join(then) + f"\n:62F:C260310EUR{closing}\n"
    )  # fmt: skip


def camt_day(first: list[str], then: list[str], closing: str) -> str:
    day = (REPO / "tests" / "fixtures" / "statements" / "camt053_intraday_then_day.xml").read_text()
    one, two = day.split("</Stmt>")[:2]
    one = one[: one.index("<Ntry>")].replace(
        ">300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt>", ">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt>"
    )
    two = two[: two.index("<Ntry>")].replace(">600.00</Amt>", f">{closing}</Amt>")
    return one + "".join(first) + "</Stmt>" + two + "".join(then) + "</Stmt></BkToCstmrStmt></Document>"


def camt_line(text: str, *, out: bool = False) -> str:
    return (
        f'<Ntry><Amt Ccy="EUR">300.00</Amt><CdtDbtInd>{"DBIT" if out else "CRDT"}</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><Dt>2026-03-10</Dt></BookgDt><NtryDtls><TxDtls><RmtInf>"
        f"<Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


@pytest.mark.parametrize("fmt", ["mt940", "camt053"])
@pytest.mark.parametrize(
    ("then", "received"),
    [("another payment", 60000), ("the day's statement", 60000)],
    ids=["continues", "covers"],
)
def test_a_statement_opening_where_one_netting_to_nothing_closed_goes_on_or_covers_it_as_it_begins(
    container: Container, tmp_path: Path, fmt: str, then: str, received: int
) -> None:
    """The first statement of the day (a 300 in, the rent out) nets to nothing; the next opens where it
    closed. Beginning with another payment, it continues it (600 came in); beginning as it did, it is the
    day's statement covering it again, with one more 300 (600 came in, not 900)."""
    if fmt == "mt940":
        first = [MT940_IN.format(text="INV-200"), MT940_OUT]
        second = [MT940_IN.format(text="INV-300")] if then == "another payment" else [*first, first[0]]
        closing = "1300,00"
        path, parser = tmp_path / "day.sta", cast(DocumentParser, Mt940Parser())
        path.write_text(mt940_day(first, second, closing), encoding="utf-8")
    else:
        first = [camt_line("INV-200"), camt_line("MIETE", out=True)]
        second = [camt_line("INV-300")] if then == "another payment" else [*first, first[0]]
        path, parser = tmp_path / "day.xml", cast(DocumentParser, Camt053Parser())
        path.write_text(camt_day(first, second, "300.00"), encoding="utf-8")
    import_file(container, path, [parser])
    with unit_of_work(container.sessions) as session:
        assert sum(m for m in session.scalars(select(ImportedDocument.amount_minor)) if m > 0) == received
    assert all(report.reconciles for report in reconcile(container, path, parser).statements)


def camt_batch(
    iban: str, ref: str, *, detailed: bool, amounts: tuple[str, ...] = ("100.00", "200.00")
) -> str:
    """A CAMT file of one batch entry `ref` on `iban` of `amounts` (100 + 200 unless given) on 03-05:
    detailed into them, or whole."""
    details = "".join(
        f'<TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
        f"<RmtInf><Ustrd>T{number}</Ustrd></RmtInf></TxDtls>"
        for number, amount in enumerate(amounts, start=1)
    )
    total = sum(Money.of(amount, "EUR").minor for amount in amounts)
    entry = (
        f'<Ntry><Amt Ccy="EUR">{total // 100}.{total % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<Sts>BOOK</Sts><BookgDt><Dt>2026-03-05</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>"
        f"<NtryDtls><Btch><NbOfTxs>{len(amounts)}</NbOfTxs></Btch>{details if detailed else ''}</NtryDtls>"
        "</Ntry>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        f"<BkToCstmrStmt><Stmt><Id>S</Id><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>{entry}"
        "</Stmt></BkToCstmrStmt></Document>"
    )


@pytest.mark.parametrize("detailed_first", [True, False])
def test_a_batch_on_a_second_account_of_the_same_reference_posts_once_in_either_form(
    container: Container, tmp_path: Path, detailed_first: bool
) -> None:
    a, b = "DE44500105175407324931", "DE89370400440532013000"
    files = [
        (a, False),  # account A's own X-777
        (b, detailed_first),
        (b, not detailed_first),  # B's X-777 again, in its other form
    ]
    for number, (iban, detailed) in enumerate(files):
        path = tmp_path / f"{number}.xml"
        path.write_text(camt_batch(iban, "X-777", detailed=detailed), encoding="utf-8")
        import_file(container, path, [Camt053Parser()])
    with unit_of_work(container.sessions) as session:
        assert sum(session.scalars(select(ImportedDocument.amount_minor))) == 60000


def _import_batches(container: Container, tmp_path: Path, *batches: tuple[bool, tuple[str, ...]]) -> int:
    """Imports each batch (detailed or whole, of its amounts) of X-777 on one account from a file of
    its own: what the ledger then holds of the account's lines, in minor units."""
    for number, (detailed, amounts) in enumerate(batches):
        path = tmp_path / f"{number}.xml"
        path.write_text(camt_batch(IBAN, "X-777", detailed=detailed, amounts=amounts), encoding="utf-8")
        import_file(container, path, [Camt053Parser()])
    with unit_of_work(container.sessions) as session:
        return sum(session.scalars(select(ImportedDocument.amount_minor)))


@pytest.mark.parametrize("detailed_first", [True, False])
def test_a_batch_of_many_transactions_and_its_other_form_post_its_money_once(
    container: Container, tmp_path: Path, detailed_first: bool
) -> None:
    amounts = tuple(f"{n}.00" for n in range(1, 41))  # 40 transactions: 820.00
    banked = _import_batches(container, tmp_path, (detailed_first, amounts), (not detailed_first, amounts))
    assert banked == 82000


@pytest.mark.parametrize("detailed_first", [True, False])
def test_a_batch_of_another_total_under_the_same_reference_and_date_is_another_entry_not_its_other_form(
    container: Container, tmp_path: Path, detailed_first: bool
) -> None:
    """X-777 re-used on 03-05 for a batch of 300.00, then one of 100 + 250: both came in."""
    banked = _import_batches(
        container,
        tmp_path,
        (detailed_first, ("100.00", "200.00")),
        (not detailed_first, ("100.00", "250.00")),
    )
    assert banked == 30000 + 35000


def test_a_return_sent_again_with_other_text_stands_as_applied_and_reverses_no_other_receipt(
    container: Container, tmp_path: Path
) -> None:
    february = statement_xml(
        "FEB",
        2,
        "0.00",
        "200.00",
        entry_xml("A1", "100.00", "2026-02-26"),
        entry_xml("A2", "100.00", "2026-02-27"),
    )
    returned = entry_xml("R1", "100.00", "2026-03-02", debit=True, reversal=True)
    import_file(container, camt_file(tmp_path / "feb.xml", february), [Camt053Parser()])
    march = statement_xml("MAR", 3, "200.00", "100.00", returned)
    assert (
        import_file(container, camt_file(tmp_path / "mar.xml", march), [Camt053Parser()]).counts["reversed"]
        == 1
    )
    reissued = march.replace("</Ntry>", "<AddtlNtryInf>Rueckbuchung: IBAN falsch</AddtlNtryInf></Ntry>")

    again = import_file(container, camt_file(tmp_path / "mar-reissued.xml", reissued), [Camt053Parser()])

    assert (again.counts["corrections_kept"], again.counts["reversed"]) == (1, 0)
    (report,) = reconcile(container, tmp_path / "mar-reissued.xml", Camt053Parser()).statements
    assert report.reconciles  # the bank's 100.00: A1 still received, A2 returned once
    with unit_of_work(container.sessions) as session:
        statuses = dict(session.execute(select(ImportedDocument.external_id, ImportedDocument.status)).all())
    assert statuses == {"A1": "unapplied", "A2": "reversed", "R1": "reversal"}


@pytest.mark.parametrize("one_file", [False, True])
def test_two_accounts_lines_with_one_bank_reference_are_two_lines_each_matched_on_its_statement(
    container: Container, tmp_path: Path, one_file: bool
) -> None:
    other_iban = "DE02120300000000202051"
    first = statement_xml("A", 3, "0.00", "100.00", entry_xml("000001", "100.00", "2026-03-02"))
    second = statement_xml(
        "B", 3, "0.00", "250.00", entry_xml("000001", "250.00", "2026-03-02"), iban=other_iban
    )
    files = (
        [camt_file(tmp_path / "both.xml", first, second)]
        if one_file
        else [camt_file(tmp_path / "a.xml", first), camt_file(tmp_path / "b.xml", second)]
    )

    results = [import_file(container, path, [Camt053Parser()]) for path in files]

    assert sum(r.counts["receipts_unapplied"] for r in results) == 2
    assert sum(r.counts["quarantined"] + r.counts["reversed"] for r in results) == 0
    with unit_of_work(container.sessions) as session:
        held = set(session.execute(select(ImportedDocument.external_id, ImportedDocument.status)).all())
    assert held == {("000001", "unapplied"), (f"000001@{other_iban}", "unapplied")}
    again = [import_file(container, path, [Camt053Parser()], again=True) for path in files]
    assert sum(r.counts["unchanged"] for r in again) == 2
    reports = [report for path in files for report in reconcile(container, path, Camt053Parser()).statements]
    assert [report.reconciles for report in reports] == [True, True]


def test_a_receipt_and_its_return_in_two_statements_of_one_file_match_each_their_entry(
    container: Container, tmp_path: Path
) -> None:
    february = statement_xml("FEB", 2, "0.00", "100.00", entry_xml("A1", "100.00", "2026-02-27"))
    returned = entry_xml("R1", "100.00", "2026-03-02", debit=True, reversal=True)
    march = statement_xml("MAR", 3, "100.00", "0.00", returned)
    both = camt_file(tmp_path / "both.xml", february, march)
    assert import_file(container, both, [Camt053Parser()]).counts["reversed"] == 1

    first, second = reconcile(container, both, Camt053Parser()).statements

    assert [m.line.external_id for m in first.matched] == ["A1"]
    assert [m.line.external_id for m in second.matched] == ["R1"]
    assert first.reconciles
    assert second.reconciles


def test_a_returned_receipts_entry_is_never_another_months_line_of_the_same_amount(
    container: Container, tmp_path: Path
) -> None:
    february = statement_xml("FEB", 2, "0.00", "100.00", entry_xml("A1", "100.00", "2026-02-27"))
    import_file(container, camt_file(tmp_path / "feb.xml", february), [Camt053Parser()])
    returned = entry_xml("R1", "100.00", "2026-03-02", debit=True, reversal=True)
    import_file(
        container,
        camt_file(tmp_path / "r.xml", statement_xml("R", 3, "100.00", "0.00", returned)),
        [Camt053Parser()],
    )
    again = entry_xml("M1", "100.00", "2026-03-02")  # the customer paid again, not yet imported
    march = camt_file(tmp_path / "mar.xml", statement_xml("MAR", 3, "100.00", "100.00", returned, again))

    (report,) = reconcile(container, march, Camt053Parser()).statements

    assert [m.line.external_id for m in report.matched] == ["R1"]
    assert [(m.line.external_id, m.reason) for m in report.missing_lines] == [("M1", "never imported")]


def test_a_banks_export_of_lines_states_no_balances_and_reconciles_once_imported(
    container: Container,
) -> None:
    xero = REPO / "tests" / "fixtures" / "exports" / "xero_bank_statement.csv"
    parser = choose_parser(xero, container.document_parsers())
    assert import_file(container, xero, container.document_parsers()).status == "imported"

    (report,) = reconcile(container, xero, parser).statements

    assert report.header_read
    assert report.period == Period(date(2026, 3, 2), date(2026, 3, 6))
    assert [m.line.amount.minor for m in report.matched] == [115000, 50000]
    assert {m.reason for m in report.missing_lines} == {"money out: not a receivable, not posted"}
    assert report.balances.self_check is None
    assert report.reconciles


def test_lines_whose_fitid_the_bank_reissued_match_each_the_entry_it_posted_in_any_order(
    container: Container, tmp_path: Path
) -> None:
    lines = [("1", "20260302", "500.00"), ("1", "20260303", "700.00")]
    first, again = tmp_path / "s1.ofx", tmp_path / "s2.ofx"
    first.write_text(ofx(*lines), encoding="utf-8")
    again.write_text(ofx(*reversed(lines)), encoding="utf-8")
    import_file(container, first, [OfxParser()])
    assert import_file(container, again, [OfxParser()]).counts["unchanged"] == 2

    (statement,) = reconcile(container, again, OfxParser()).statements

    with unit_of_work(container.sessions) as session:
        amounts = {
            entry_id: amount
            for entry_id, amount in session.execute(
                select(Posting.entry_id, Posting.amount_minor).where(Posting.account_code == "1002")
            )
        }
    assert sorted((m.line.amount.minor, amounts[m.entry.entry_id]) for m in statement.matched) == [
        (50000, 50000),
        (70000, 70000),
    ]
    assert (statement.missing_lines, statement.missing_entries) == ((), ())


def test_a_line_a_person_said_was_exported_again_matches_the_entry_of_the_line_it_is(
    container: Container, tmp_path: Path
) -> None:
    line = ":61:2603100310CR640,00NTRFNONREF\n:86:166?00GUTSCHRIFT?20SVWZ+RE 55 Kunde{more}"
    first, again = tmp_path / "b1.sta", tmp_path / "b2.sta"
    first.write_text(MT940_TEMPLATE.format(lines=line.format(more=""), closing="740,00"), encoding="utf-8")
    again.write_text(
        MT940_TEMPLATE.format(lines=line.format(more="?21 Danke"), closing="740,00"), encoding="utf-8"
    )
    import_file(container, first, [Mt940Parser()])
    assert import_file(container, again, [Mt940Parser()]).counts["quarantined"] == 1
    with unit_of_work(container.sessions) as session:
        held = session.scalars(select(QuarantinedRecord)).one()
        resolve_records(session, [held.id], "exported again", "finance")

    (statement,) = reconcile(container, again, Mt940Parser()).statements

    assert [m.line.amount for m in statement.matched] == [Money.of("640.00", "EUR")]
    assert (statement.missing_lines, statement.missing_entries) == ((), ())


def test_an_ofx_line_deleting_another_matches_the_reversal_it_posted(
    container: Container, tmp_path: Path
) -> None:
    bank, correction = tmp_path / "bank.ofx", tmp_path / "bank4.ofx"
    bank.write_text(ofx(("F2", "20260304", "500.00")), encoding="utf-8")
    record = (
        "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260310<TRNAMT>500.00<FITID>F9<CORRECTFITID>F2"
        "<CORRECTACTION>DELETE<NAME>Payer</STMTTRN>"
    )
    correction.write_text(OFX_TEMPLATE.format(transactions=record), encoding="utf-8")
    import_file(container, bank, [OfxParser()])
    assert import_file(container, correction, [OfxParser()]).counts["reversed"] == 1

    (statement,) = reconcile(container, correction, OfxParser()).statements

    assert [m.line.external_id for m in statement.matched] == ["4417:F9"]
    assert (statement.missing_lines, statement.missing_entries) == ((), ())


def test_a_receipt_a_person_rejected_is_matched_as_rejected_not_as_waiting(container: Container) -> None:
    assert import_file(container, CAMT, [Camt053Parser()]).counts["receipts_unapplied"] >= 1
    with unit_of_work(container.sessions) as session:
        waiting = queue(session, container.cipher)[0]
        reject(session, waiting.id, "bank interest", "finance")

    euro, _ = reconcile(container, CAMT, Camt053Parser()).statements

    [rejected] = [m for m in euro.matched if m.line.external_id == waiting.external_id]
    assert (rejected.by_import, rejected.import_status) == (True, "rejected")
    assert euro.reconciles


def test_a_batch_booked_whole_after_its_transactions_is_never_matched_to_another_receipt_of_its_amount(
    container: Container,
) -> None:
    statements = REPO / "tests" / "fixtures" / "statements"
    import_file(container, statements / "camt053_batch_detailed.xml", [Camt053Parser()])
    other = receipt(container, "ZB-PAY-1200", "1200.00", "EUR", date(2026, 3, 10))
    import_file(container, statements / "camt053_batch_whole.xml", [Camt053Parser()])

    (report,) = reconcile(container, statements / "camt053_batch_whole.xml", Camt053Parser()).statements

    assert report.matched == ()
    [(line, reason)] = [(m.line.external_id, m.reason) for m in report.missing_lines]
    assert (line, reason.split(":")[0]) == ("X-777", "imported from another statement as its transactions")
    notes = {m.entry.external_id: m.note for m in report.missing_entries}
    assert notes == {
        "X-777#1": "a transaction of X-777, which this statement books whole: the same money",
        "X-777#2": "a transaction of X-777, which this statement books whole: the same money",
        "ZB-PAY-1200": "",  # another receipt: the bank has no line of it
    }
    assert other in {m.entry.entry_id for m in report.missing_entries}


def ofx_statement(start: str, end: str, *records: str) -> str:
    """One STMTTRNRS of account 4417 over `start`–`end`."""
    return (
        "<STMTTRNRS><STMTRS><CURDEF>CNY<BANKACCTFROM><BANKID>1<ACCTID>4417</BANKACCTFROM>"
        f"<BANKTRANLIST><DTSTART>{start}<DTEND>{end}{''.join(records)}</BANKTRANLIST></STMTRS></STMTTRNRS>"
    )


def ofx_record(fitid: str, day: str, amount: str, corrects: str = "", action: str = "REPLACE") -> str:
    correction = f"<CORRECTFITID>{corrects}<CORRECTACTION>{action}" if corrects else ""
    return (
        f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>{day}<TRNAMT>{amount}<FITID>{fitid}{correction}<NAME>王小明"
        "</STMTTRN>"
    )


def ofx_file(path: Path, *statements: str) -> Path:
    head = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1>"
    path.write_text(f"{head}{''.join(statements)}</BANKMSGSRSV1></OFX>\n", encoding="utf-8")
    return path


def test_an_ofx_line_replacing_another_counts_instead_of_it_before_and_after_the_import(
    container: Container, tmp_path: Path
) -> None:
    bank = tmp_path / "cny2.ofx"
    replacing = ofx_record("X003", "20261106", "2200.00", corrects="X001")
    lines = ofx(("X001", "20261105", "2000.00"), ("X002", "20261106", "56400.50")).replace(
        "</BANKTRANLIST>", f"{replacing}</BANKTRANLIST>"
    )
    bank.write_text(lines, encoding="utf-8")

    (before,) = reconcile(container, bank, OfxParser()).statements
    import_file(container, bank, [OfxParser()])
    (after,) = reconcile(container, bank, OfxParser()).statements

    for report in (before, after):
        assert report.balances.statement_movement == Money.of("58600.50", "CNY")  # 56,400.50 + 2,200.00
        assert [(m.line.external_id, m.reason.split(":")[0]) for m in report.replaced] == [
            ("4417:X001", "replaced by row 3 (an OFX correction)")
        ]
        assert report.reconciles
    assert [m.line.external_id for m in before.missing_lines] == ["4417:X002", "4417:X003"]
    assert [m.line.external_id for m in after.matched] == ["4417:X002", "4417:X003"]
    assert (after.missing_lines, after.missing_entries) == ((), ())
    assert after.balances.ledger_movement == Money.of("58600.50", "CNY")


def test_an_ofx_line_deleting_another_of_its_statement_says_so_before_the_import(
    container: Container, tmp_path: Path
) -> None:
    bank = tmp_path / "cny2.ofx"
    deleting = ofx_record("X003", "20261106", "2000.00", corrects="X001", action="DELETE")
    lines = ofx(("X001", "20261105", "2000.00"), ("X002", "20261106", "56400.50")).replace(
        "</BANKTRANLIST>", f"{deleting}</BANKTRANLIST>"
    )
    bank.write_text(lines, encoding="utf-8")

    (before,) = reconcile(container, bank, OfxParser()).statements
    import_file(container, bank, [OfxParser()])
    (after,) = reconcile(container, bank, OfxParser()).statements

    assert {m.line.external_id: m.reason for m in before.missing_lines}["4417:X003"] == (
        "deletes row 1 (an OFX correction): the pair cancels, never imported"
    )
    assert {m.line.external_id: m.reason for m in after.missing_lines}["4417:X003"].startswith(
        "reverses 4417:X001: the import reversed the entry of the line it cancels"
    )
    for report in (before, after):
        assert report.balances.statement_movement == Money.of("56400.50", "CNY")
        assert report.reconciles


@pytest.mark.parametrize("one_file", [True, False], ids=["one-file", "two-files"])
def test_the_reversal_a_replacement_makes_of_last_statements_line_is_missing_from_the_bank_in_its_own_period(
    container: Container, tmp_path: Path, one_file: bool
) -> None:
    first = ofx_statement("20261101", "20261105", ofx_record("X001", "20261103", "2000.00"))
    second = ofx_statement(
        "20261106",
        "20261110",
        ofx_record("X002", "20261107", "500.00"),
        ofx_record("X003", "20261108", "2200.00", corrects="X001"),
    )
    files = (
        [ofx_file(tmp_path / "both.ofx", first, second)]
        if one_file
        else [ofx_file(tmp_path / "nov1.ofx", first), ofx_file(tmp_path / "nov2.ofx", second)]
    )
    for path in files:
        import_file(container, path, [OfxParser()])

    reports = [report for path in files for report in reconcile(container, path, OfxParser()).statements]

    november, later = reports
    assert november.balances.ledger_movement == Money.of("2000.00", "CNY")
    assert november.missing_entries == ()
    assert november.reconciles
    assert later.balances.statement_movement == Money.of("2700.00", "CNY")
    assert later.balances.ledger_movement == Money.of("700.00", "CNY")
    [reversal] = later.missing_entries
    assert reversal.entry.amount == Money.of("-2000.00", "CNY")
    assert (
        reversal.note == f"reverses entry {reversal.entry.counterpart_id} of 2026-11-03, outside the period"
    )
    assert later.reconciles


@pytest.mark.parametrize("replace_first", [True, False], ids=["replace-first", "delete-first"])
def test_a_line_deleted_and_replaced_in_one_statement_reconciles_alike_in_either_order(
    container: Container, tmp_path: Path, replace_first: bool
) -> None:
    corrections = [
        ofx_record("X003", "20261106", "2200.00", corrects="X001"),
        ofx_record("X004", "20261107", "2000.00", corrects="X001", action="DELETE"),
    ]
    lines = [ofx_record("X001", "20261105", "2000.00"), ofx_record("X002", "20261106", "56400.50")]
    statement = ofx_statement("20261101", "20261110", *lines, *corrections[:: 1 if replace_first else -1])
    bank = ofx_file(tmp_path / "cny.ofx", statement)

    (before,) = reconcile(container, bank, OfxParser()).statements
    import_file(container, bank, [OfxParser()])
    (after,) = reconcile(container, bank, OfxParser()).statements

    for report in (before, after):
        assert report.balances.statement_movement == Money.of("58600.50", "CNY")
        assert report.reconciles
    assert after.balances.ledger_movement == Money.of("58600.50", "CNY")
    assert after.missing_entries == ()
    if replace_first:  # the import found X001 reversed by X003: X004 posted nothing
        assert [m.line.external_id for m in after.replaced] == ["4417:X001", "4417:X004"]
        assert after.missing_lines == ()
