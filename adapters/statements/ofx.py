"""OFX and QFX bank and credit-card statements (OFX 1.x SGML and OFX 2.x XML) → bank lines.

OFX 2 is parsed with defusedxml's iterparse; OFX 1 (and QFX, which is OFX 1 with Intuit's `INTU.*`
tags) with `ofx_sgml`, which gives the same events, so one reader serves both. Each `STMTTRN` is read
when it ends and then dropped: memory holds one transaction, never the statement.

What becomes what:

- bank (`BANKMSGSRSV1/STMTTRNRS/STMTRS`, account `BANKACCTFROM/ACCTID`) and credit-card
  (`CREDITCARDMSGSRSV1/CCSTMTTRNRS/CCSTMTRS`, `CCACCTFROM/ACCTID`) statements → a `Statement` after
  their lines: `CURDEF`, period `BANKTRANLIST/DTSTART`–`DTEND`, closing balance `LEDGERBAL/BALAMT`;
  OFX states no opening balance, so `opening` is None.
- each `STMTTRN` → a bank line: `TRNAMT` as signed by the bank (`.` or `,` decimals), in
  `CURRENCY/CURSYM` when the transaction has one, else `CURDEF`. `date` is the date part of
  `DTPOSTED` (`20260305120000.000[-5:EST]` → 2026-03-05, as the bank wrote it); `value_date` is
  `DTAVAIL` (when the money is available, the banking sense of value date), else `DTUSER`. Party:
  `NAME` or `PAYEE/NAME`, and `BANKACCTTO`/`CCACCTTO` `ACCTID` for transfers. `number` is `CHECKNUM`;
  references, most specific first: `REFNUM`, `CHECKNUM`, `MEMO`.
- corrections: `CORRECTACTION=DELETE` → a line that reverses the transaction `CORRECTFITID` named
  (`reverses` = that FITID's external id), with the record's `TRNAMT` negated (a DELETE repeats the
  deleted transaction, so the pair nets to zero). `REPLACE` → the new line, with its own amount, that
  supersedes the old one (`replaces` = the old id: the import reverses the old and posts the new).

External ids: `ACCTID + ":" + FITID`. Banks re-issue FITIDs (GnuCash's FixFitid.pl and Odoo's
"unique import id" exist for this), so within one file: the first occurrence keeps the plain id; a
later one with different content (type, dates, amount, currency, name, memo, CHECKNUM, REFNUM,
correction) gets `"#" + common.content_digest(DTPOSTED date, amount, currency, correction)` of its
money appended (`".2"`, `".3"` … for a second and third of the same money), so nothing is lost; a
later one with identical content is the same transaction sent twice and becomes a `Problem`
("duplicate FITID with identical content in the same file"), not a second line. Across files each line
carries the other id as its `alias` (the first occurrence: its own money's digest id): a line already
imported under either id is that line (downloads overlap in any order); one whose line under either id
holds the same money is that transaction with its text changed (a change, as any changed document);
one whose plain id another line holds with other money is a re-issued FITID, posted under its digest
id, never taken for a change of the first. Without a FITID (the spec requires
one) the id is `ACCTID + ":" + common.composite_id("ofx", ACCTID, DTPOSTED date, |amount| minor
units, currency, NAME, MEMO, position in the statement)`. An `ACCTID:FITID` longer than 200
characters (FITID may have 255) keeps the account and hashes the FITID.

`Origin.row` is the transaction's 1-based number among the file's `STMTTRN` records (None for a
`Statement`), `Origin.raw` its XML form.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator

from adapters.statements import ofx_sgml
from adapters.statements.common import (
    MAX_EXTERNAL_ID,
    SNIFF_BYTES,
    BrokenXml,
    clean,
    composite_id,
    content_digest,
    decimal_amount,
    detect_encoding,
    give_up,
    local_name,
    raw_xml,
    unique_texts,
)
from adapters.statements.common import xml_events as _xml_events
from connector.documents import Document, Origin, Parsed, Party, Problem, Statement, compact_account
from connector.errors import FileFormatError, MoneyError
from connector.money import Money, currency_code

SOURCE = "ofx"
_ACCOUNTS = {"STMTRS": "BANKACCTFROM", "CCSTMTRS": "CCACCTFROM"}
_SNIFF = re.compile(rb"OFXHEADER|<OFX>", re.IGNORECASE)
_XML = re.compile(rb"^\s*(<\?xml|<\?OFX)", re.IGNORECASE)
_DATE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})")
_DUPLICATE = "duplicate FITID with identical content in the same file"


class _Unreadable(Exception):
    """A transaction that cannot become a line; the message is the `Problem`'s reason."""


class OfxParser:
    """The `DocumentParser` for OFX/QFX files (see the module docstring for the rules)."""

    format = SOURCE

    def sniff(self, head: bytes, name: str) -> bool:
        """`OFXHEADER` (OFX 1 header, OFX 2 processing instruction) or `<OFX>` in the first bytes."""
        return _SNIFF.search(head[:SNIFF_BYTES]) is not None

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf")
        reader = _Reader(name)
        try:
            if _XML.match(head):
                yield from reader.read(_ofx_xml_events(path))
            else:
                encoding = detect_encoding(path, hint=ofx_sgml.header_encoding(head))
                with open(path, encoding=encoding, errors="replace") as text:
                    yield from reader.read(ofx_sgml.events(text))
        except BrokenXml as exc:
            reason = f"{exc}; nothing after transaction {reader.record} could be read"
            # Its own row (the first record not read): record N may be a problem of its own, kept apart.
            yield give_up(name, reader.anything_read, reason, reader.record + 1)
        if not reader.seen_ofx and not reader.anything_read:
            raise FileFormatError(f"{name}: no <OFX> element found")
        if not reader.anything_read and reader.errors:  # the bank's answer to a failed download
            raise FileFormatError(
                f"{name}: no statement, the bank answered with an error: {reader.errors[0]}"
            )
        if reader.errors:  # one account's statement refused, another's given: one record says which
            reason = f"statements missing, the bank answered with errors: {'; '.join(reader.errors)}"
            yield Problem(Origin(name, None, ""), reason, header=True)


class _Reader:
    """One file's read: the open elements, the running counters and the FITIDs seen so far."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.seen_ofx = False
        self.anything_read = False
        self.record = 0  # STMTTRN records in the file, for Origin.row
        self.position = 0  # STMTTRN records in the current statement, for ids without FITID
        # base external id → content digest of its first occurrence; a set only for re-issued FITIDs
        # (kept apart because a set per transaction would cost more than the transaction's id).
        self.first: dict[str, str] = {}
        self.reissued: dict[str, set[str]] = {}
        self.same_money: Counter[tuple[str, str]] = Counter()  # re-issued ids' lines by (base, money)
        self.errors: list[str] = []  # STATUS blocks of severity ERROR: "code (message)"

    def read(self, events: Iterator[tuple[str, ET.Element]]) -> Iterator[Parsed]:
        stack: list[ET.Element] = []
        for event, element in events:
            name = local_name(element.tag)
            if event == "start":
                stack.append(element)
                self.seen_ofx = self.seen_ofx or name == "OFX"
                if name in _ACCOUNTS:
                    self.position = 0
                continue
            stack.pop()
            if name == "STMTTRN":
                statement = next((open_ for open_ in reversed(stack) if open_.tag in _ACCOUNTS), None)
                if statement is None:  # an investment statement's transaction: not a bank line
                    continue
                self.record += 1
                self.position += 1
                yield self._transaction(statement, element)
                stack[-1].remove(element)
                self.anything_read = True
            elif name == "STATUS" and (_text(element, "SEVERITY") or "").upper() == "ERROR":
                message = _text(element, "MESSAGE")
                self.errors.append(f"code {_text(element, 'CODE')}" + (f" ({message})" if message else ""))
            elif name in _ACCOUNTS:
                yield self._statement(element)
                if stack:
                    stack[-1].remove(element)
                self.anything_read = True

    def _transaction(self, statement: ET.Element, record: ET.Element) -> Parsed:
        origin = Origin(self.file, self.record, raw_xml(record))
        try:
            line = _Transaction.read(statement, record)
        except (_Unreadable, MoneyError) as exc:
            return Problem(origin, f"transaction not readable: {exc}")
        base = line.base_id(self.position)
        first = self.first.get(base)
        if first is None:
            self.first[base] = line.digest
            self.same_money[(base, line.money)] += 1
            return line.document(base, origin, alias=f"{base}#{line.money}")
        reissued = self.reissued.setdefault(base, {first})
        if line.digest in reissued:
            return Problem(origin, _DUPLICATE, unbooked=True)
        reissued.add(line.digest)
        self.same_money[(base, line.money)] += 1
        count = self.same_money[(base, line.money)]
        return line.document(f"{base}#{line.money}" + (f".{count}" if count > 1 else ""), origin, alias=base)

    def _statement(self, statement: ET.Element) -> Statement | Problem:
        origin = Origin(self.file, None, raw_xml(statement))  # its transactions are gone
        account = _account(statement)
        currency = _text(statement, "CURDEF")
        if account is None or currency is None:
            return Problem(origin, "statement without an ACCTID or a CURDEF", header=True)
        try:
            balance = _text(statement, "LEDGERBAL/BALAMT")
            return Statement(
                source=SOURCE,
                account=account,
                currency=currency_code(currency),
                origin=origin,
                period_start=_date(_text(statement, "BANKTRANLIST/DTSTART")),
                period_end=_date(_text(statement, "BANKTRANLIST/DTEND")),
                closing=Money.of(decimal_amount(balance), currency) if balance is not None else None,
            )
        except (_Unreadable, MoneyError) as exc:
            return Problem(origin, f"statement header not readable: {exc}", header=True)


class _Transaction:
    """One `STMTTRN` read, before its id is settled against the FITIDs seen earlier in the file."""

    def __init__(self, account: str, record: ET.Element, amount: Money, posted: dt.date) -> None:
        self.account = account
        self.record = record
        self.amount = amount
        self.posted = posted
        self.fitid = _text(record, "FITID")
        self.name = _text(record, "NAME") or _text(record, "PAYEE/NAME")
        self.action = (_text(record, "CORRECTACTION") or "").upper() or None
        correct = _text(record, "CORRECTFITID")
        if self.action not in (None, "DELETE", "REPLACE"):
            raise _Unreadable(f"CORRECTACTION {self.action!r} is neither DELETE nor REPLACE")
        if self.action is not None and correct is None:
            raise _Unreadable(f"CORRECTACTION {self.action} without a CORRECTFITID")
        self.corrects = _external_id(account, correct) if correct is not None else None
        fields = ("TRNTYPE", "DTUSER", "DTAVAIL", "MEMO", "CHECKNUM", "REFNUM", "CORRECTFITID")
        self.money = content_digest(posted.isoformat(), amount.minor, amount.currency, self.action)
        self.digest = content_digest(
            posted.isoformat(),
            amount.minor,
            amount.currency,
            self.name,
            self.action,
            *(_text(record, field) for field in fields),
        )

    @classmethod
    def read(cls, statement: ET.Element, record: ET.Element) -> _Transaction:
        account = _account(statement)
        if account is None:
            raise _Unreadable("the statement has no ACCTID")
        currency = _text(record, "CURRENCY/CURSYM") or _text(statement, "CURDEF")
        if currency is None:
            raise _Unreadable("no currency: neither CURRENCY/CURSYM nor the statement's CURDEF")
        amount = Money.of(decimal_amount(_text(record, "TRNAMT")), currency)
        posted = _date(_text(record, "DTPOSTED"))
        if posted is None:
            raise _Unreadable("no DTPOSTED")
        return cls(account, record, amount, posted)

    def base_id(self, position: int) -> str:
        if self.fitid is not None:
            return _external_id(self.account, self.fitid)
        memo = _text(self.record, "MEMO")
        hashed = composite_id(
            SOURCE,
            self.account,
            self.posted.isoformat(),
            abs(self.amount.minor),
            self.amount.currency,
            self.name,
            memo,
            position,
        )
        return f"{self.account}:{hashed}"

    def document(self, external_id: str, origin: Origin, alias: str | None) -> Document:
        record = self.record
        check = _text(record, "CHECKNUM")
        counter_account = _text(record, "BANKACCTTO/ACCTID") or _text(record, "CCACCTTO/ACCTID")
        return Document(
            kind="bank_line",
            source=SOURCE,
            external_id=external_id,
            date=self.posted,
            amount=-self.amount if self.action == "DELETE" else self.amount,
            origin=origin,
            party=Party(name=clean(self.name), bank_account=compact_account(counter_account)),
            number=check,
            value_date=_date(_text(record, "DTAVAIL")) or _date(_text(record, "DTUSER")),
            references=unique_texts([_text(record, "REFNUM"), check, _text(record, "MEMO")]),
            reverses=self.corrects if self.action == "DELETE" else None,
            replaces=self.corrects if self.action == "REPLACE" else None,
            account=self.account,
            alias=alias,
        )


def _ofx_xml_events(path: str) -> Iterator[tuple[str, ET.Element]]:
    """The events of an OFX 2 file from its first `<` (a line break before `<?xml` is no XML), each
    element named without its namespace (`xmlns="http://ofx.net/types/2003/04"`, `ofx:STMTRS`): OFX
    names its elements, never their namespaces."""
    with open(path, "rb") as handle:
        handle.seek(max(handle.read(SNIFF_BYTES).find(b"<"), 0))  # past a byte-order mark too
        for event, element in _xml_events(handle):
            if event == "start":
                element.tag = local_name(element.tag)
            yield event, element


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _account(statement: ET.Element) -> str | None:
    return _text(statement, f"{_ACCOUNTS[statement.tag]}/ACCTID")


def _external_id(account: str, fitid: str) -> str:
    """`ACCTID:FITID`, with the FITID hashed when the whole would overflow the ledger's column."""
    plain = f"{account}:{fitid}"
    return plain if len(plain) <= MAX_EXTERNAL_ID else f"{account}:{composite_id(SOURCE, fitid)}"


def _date(text: str | None) -> dt.date | None:
    """The date part of an OFX date-time (`YYYYMMDD[HHMMSS[.XXX]][[±h:TZ]]`), as the bank wrote it."""
    if text is None:
        return None
    match = _DATE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        raise _Unreadable(f"{text!r} is not an OFX date") from exc
