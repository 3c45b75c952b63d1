"""OFX and QFX bank statements (OFX 1.x SGML and OFX 2.x XML) → bank lines; card or investment ones not.

OFX 2 is parsed with defusedxml's iterparse; OFX 1 (and QFX, which is OFX 1 with Intuit's `INTU.*`
tags) with `ofx_sgml`, which gives the same events, so one reader serves both. Each `STMTTRN` is read
when it ends and then dropped: memory holds one transaction (and each FITID's content digests), never
the statement.

What becomes what:

- bank statements (`BANKMSGSRSV1/STMTTRNRS/STMTRS`, account `BANKACCTFROM/ACCTID`) → a `Statement`
  after their lines: `CURDEF`, period `BANKTRANLIST/DTSTART`–`DTEND`, closing balance
  `LEDGERBAL/BALAMT`; OFX states no opening balance, so `opening` is None.
- credit-card statements (`CREDITCARDMSGSRSV1/CCSTMTTRNRS/CCSTMTRS`, `CCACCTFROM/ACCTID`) → nothing:
  their lines are the card's charges and its repayments or refunds (signed from the cardholder's side),
  never a customer's payment into a bank account, so none is a receipt. A file holding no bank
  statement is refused (`FileFormatError`); one beside a bank statement is left out with a `Notice`.
  Either names the card by its number's last four characters only.
- investment statements (`INVSTMTMSGSRSV1/INVSTMTTRNRS/INVSTMTRS`, `INVACCTFROM/ACCTID`) → nothing, as
  credit-card ones: their transactions (each child of `INVTRANLIST`: trades, income, `INVBANKTRAN` cash
  transfers) are a brokerage account's, never a customer's payment.
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
  A `CORRECTFITID` without a `CORRECTACTION` (the spec requires both) is a `Problem`, not a line.

External ids: `ACCTID + ":" + FITID`. Banks re-issue FITIDs (GnuCash's FixFitid.pl and Odoo's
"unique import id" exist for this), so the file is read twice: a line's id depends on what its FITID
holds in the whole file, never on the order of its lines. With `money` =
`common.money_suffix(DTPOSTED date, amount, correction)` (`"#"` + a digest of the date, the signed
amount and currency, and the correction; CAMT.053 tells a re-used AcctSvcrRef apart by the same):

- a FITID with one content in the file: the plain id (`alias`: the plain id + money);
- a FITID with several (type, dates, amount, currency, name, memo, CHECKNUM, REFNUM, correction): each
  line the plain id + its money (`alias`: the plain id), or, where lines of it share one money, the
  plain id + money + `.` + the digest of its whole content (no `alias`), so nothing is lost;
- a line with the content of one before it under that FITID is the same transaction sent twice: a
  `Problem` ("duplicate FITID with identical content in the same file"), not a second line.

Each line is also `known_as` the ids the other cases give it, and those earlier versions gave by file
order: a FITID's first line the plain id, a later one plain + `"#"` + the digest of its whole content
(up to 81af49b), then plain + money, `.2`, `.3` … for lines of one money (1bdd1c4 to fc29d37).
Across files a line imported under any of its ids with the same content is that line (downloads
overlap in any order); one whose own id or `alias` holds the same money is that transaction with its
text changed (a change, as any changed document); one whose plain id another line holds with other
money is posted under its `alias`, never taken for a change of that line. An id `known_as` holds the
line only unchanged, so lines of one FITID and money are told apart by their whole content only: they
are `content_id`, and one of them whose text the bank changed between downloads is held for a person
while a line of its money imported before did not come again (`connector.imports.lookalikes`).

Without a FITID (the spec requires one) the id is `ACCTID + ":" + common.composite_id("ofx", ACCTID,
DTPOSTED date, |amount| minor units, currency, NAME, MEMO, position in the statement)`. An id longer
than 200 characters (FITID may have 255) keeps the account and its suffix and hashes the FITID.

`Origin.row` is the transaction's 1-based number among the file's `STMTTRN` records (None for a
`Statement`), `Origin.raw` its XML form.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from adapters.statements import ofx_sgml
from adapters.statements.common import (
    MAX_EXTERNAL_ID,
    SNIFF_BYTES,
    BrokenXml,
    clean,
    composite_id,
    content_digest,
    decimal_amount,
    give_up,
    local_name,
    money_suffix,
    raw_xml,
    statement_encoding,
    unique_texts,
)
from adapters.statements.common import xml_events as _xml_events
from connector.documents import (
    Document,
    Notice,
    Origin,
    Parsed,
    Party,
    Problem,
    Statement,
    compact_account,
)
from connector.errors import FileFormatError, MoneyError
from connector.money import Money, currency_code
from connector.text_encoding import Chosen, noting

SOURCE = "ofx"
_XML_READ = Chosen("utf-8", strict=False)  # OFX 2: the XML parser reads its declared encoding
_INVESTMENT = "INVSTMTRS"
_ACCOUNTS = {"STMTRS": "BANKACCTFROM", "CCSTMTRS": "CCACCTFROM", _INVESTMENT: "INVACCTFROM"}
_SNIFF = re.compile(rb"OFXHEADER|<OFX>", re.IGNORECASE)
_XML = re.compile(rb"^\s*(<\?xml|<\?OFX)", re.IGNORECASE)
_DATE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})")
_DUPLICATE = "duplicate FITID with identical content in the same file"


class _NotBank(NamedTuple):
    """A statement whose lines are no bank account's, as a person is told of it."""

    a: str  # it, with its article
    what: str
    holder: str  # what its account is
    lines: str


_NOT_BANK = {
    "CCSTMTRS": _NotBank(
        "a credit-card statement", "credit-card statement", "card", "card charges and repayments"
    ),
    _INVESTMENT: _NotBank(
        "an investment statement",
        "investment statement",
        "account",
        "a brokerage account's trades, income and cash transfers",
    ),
}


class _Unreadable(Exception):
    """A transaction that cannot become a line; the message is the `Problem`'s reason."""


class OfxParser:
    """The `DocumentParser` for OFX/QFX files (see the module docstring for the rules)."""

    format = SOURCE
    lines_name_no_account = True  # one line's text may stand on two accounts: two lines (quarantine)

    def sniff(self, head: bytes, name: str) -> bool:
        """`OFXHEADER` (OFX 1 header, OFX 2 processing instruction) or `<OFX>` in the first bytes."""
        return _SNIFF.search(head[:SNIFF_BYTES]) is not None

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf")
        xml = _XML.match(head) is not None
        chosen = _XML_READ if xml else statement_encoding(path, name, ofx_sgml.header_encoding(head))

        def events() -> Iterator[tuple[str, ET.Element]]:
            if xml:
                yield from _ofx_xml_events(path)
            else:
                with open(path, encoding=chosen.encoding, errors="replace") as text:
                    yield from ofx_sgml.events(text)

        # Read twice: a line's id depends on whether its FITID comes again anywhere in the file.
        survey = _Reader(name)
        contents = survey.survey(events())
        if contents.left_out and not contents.banks:
            refused = _refused(contents.left_out)
            if survey.errors:  # the bank statement asked for failed: that is what a person is to know first
                refused = f"no bank statement, {_answered(survey.errors)}; beside it {refused}"
            raise FileFormatError(f"{name}: {refused}")
        reader = _Reader(name, contents)
        try:
            yield from noting(name, chosen, reader.read(events()))
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


class _Contents:
    """The contents each FITID (each base id) has in a file: its first occurrence's digest, and every one
    of a FITID the bank re-issued (kept apart because a set per transaction would cost more than its id)."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[str, str]] = {}  # base id → (content digest, money digest)
        self.reissued: dict[str, set[str]] = {}  # base id → content digests
        self.alike: Counter[tuple[str, str]] = Counter()  # re-issued ids' contents by (base, money)
        self.banks = 0  # bank statements' records (transactions and headers)
        self.left_out: Counter[tuple[str, str]] = Counter()  # card and investment statements'
        # transactions, by statement as `_held` tells it

    def add(self, base: str, line: _Transaction) -> bool:
        """Count `line`'s content in; False when its FITID had that content already (sent twice)."""
        first = self.first.get(base)
        if first is None:
            self.first[base] = (line.digest, line.money)
            return True
        reissued = self.reissued.get(base)
        if reissued is None:
            if line.digest == first[0]:
                return False
            reissued = self.reissued[base] = {first[0]}
            self.alike[(base, first[1])] += 1
        if line.digest in reissued:
            return False
        reissued.add(line.digest)
        self.alike[(base, line.money)] += 1
        return True


class _Reader:
    """One read of a file: the open elements, the running counters and the FITIDs' contents."""

    def __init__(self, file: str, contents: _Contents | None = None) -> None:
        self.file = file
        self.seen_ofx = False
        self.anything_read = False
        self.record = 0  # STMTTRN records in the file, for Origin.row
        self.position = 0  # STMTTRN records in the current statement, for ids without FITID
        self.contents = contents or _Contents()  # of the whole file, from a first read
        self.seen = _Contents()  # of the transactions read so far: one met again is a duplicate
        self.errors: list[str] = []  # STATUS blocks of severity ERROR: "code (message)"

    def survey(self, events: Iterator[tuple[str, ET.Element]]) -> _Contents:
        """The FITIDs' contents and the statements in the whole file (a first read, yielding nothing)."""
        try:
            for statement, record in self._walk(events):
                if statement.tag in _NOT_BANK:
                    self.seen.left_out[_held(statement)] += 0 if record is None else 1  # a header: 0
                    continue
                self.seen.banks += 1
                if record is None:
                    continue
                try:
                    line = _Transaction.read(statement, record)
                except (_Unreadable, MoneyError):
                    continue  # no id: the second read tells its problem
                self.seen.add(line.base_id(self.position), line)
        except BrokenXml:
            pass  # the second read tells where
        return self.seen

    def read(self, events: Iterator[tuple[str, ET.Element]]) -> Iterator[Parsed]:
        told: set[tuple[str, str]] = set()  # the statements left out, each told once
        for statement, record in self._walk(events):
            if statement.tag in _NOT_BANK:
                if (held := _held(statement)) not in told:
                    told.add(held)
                    yield Notice(Origin(self.file, None, ""), _left_out(held, self.contents.left_out[held]))
            elif record is None:
                yield self._statement(statement)
            else:
                yield self._transaction(statement, record)

    def _walk(
        self, events: Iterator[tuple[str, ET.Element]]
    ) -> Iterator[tuple[ET.Element, ET.Element | None]]:
        """Each bank, card or investment transaction as (its statement, it), and each statement once it
        ends as (it, None), in file order; each is dropped from its parent once taken."""
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
                statement = _statement_of(stack)
                if statement is None or statement.tag == _INVESTMENT:  # its INVBANKTRAN is counted
                    continue
                self.record += 1
                self.position += 1
                yield statement, element
                stack[-1].remove(element)
                self.anything_read = True
            elif stack and stack[-1].tag == "INVTRANLIST" and name not in ("DTSTART", "DTEND"):
                # An investment transaction (no STMTTRN record: the rows of bank lines stay as they were).
                if (statement := _statement_of(stack)) is not None:
                    yield statement, element
                    self.anything_read = True
                stack[-1].remove(element)
            elif name == "STATUS" and (_text(element, "SEVERITY") or "").upper() == "ERROR":
                message = _text(element, "MESSAGE")
                self.errors.append(f"code {_text(element, 'CODE')}" + (f" ({message})" if message else ""))
            elif name in _ACCOUNTS:
                yield element, None
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
        if not self.seen.add(base, line):
            return Problem(origin, _DUPLICATE, unbooked=True)
        alike = self.contents.alike[(base, line.money)]
        # Told from its FITID's other lines of its money by its content only: its text changed, it comes
        # back under another id, so the import holds it while one of them did not come again.
        return line.document(origin, *line.ids(base, alike), content_id=alike > 1)

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
                closing=Money.written(decimal_amount(balance), currency) if balance is not None else None,
            )
        except (_Unreadable, MoneyError) as exc:
            return Problem(origin, f"statement header not readable: {exc}", header=True)


class _Transaction:
    """One `STMTTRN` read, before its id is settled against its FITID's other lines in the file."""

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
        if self.action is None and correct is not None:  # posted, it would stand beside what it corrects
            raise _Unreadable(
                f"CORRECTFITID {correct!r} without a CORRECTACTION (DELETE or REPLACE), which the OFX "
                "spec requires with it: whether it deletes or replaces that transaction cannot be told, "
                "so it is not applied"
            )
        self.corrects = _external_id(account, correct) if correct is not None else None
        fields = ("TRNTYPE", "DTUSER", "DTAVAIL", "MEMO", "CHECKNUM", "REFNUM", "CORRECTFITID")
        self.money = money_suffix(posted, amount, self.action)
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
        amount = Money.written(decimal_amount(_text(record, "TRNAMT")), currency)
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

    def ids(self, base: str, alike: int) -> tuple[str, str | None, tuple[str, ...]]:
        """Its id, its alias and the other ids it may have been imported under (`Document.known_as`), as
        the module docstring tells; `alike`: its FITID's contents of its money in the file, 0 when the
        FITID is not re-issued there."""
        money = self.money
        content = f"{money}.{self.digest}"
        # The ids lines of a re-issued FITID had before, in the order of their file: its money's (".2",
        # ".3" … for lines of one money), and before 1bdd1c4 its whole content's digest.
        counted = [*(f"{money}.{n}" for n in range(2, max(alike, 2) + 1)), f"#{self.digest}"]
        if alike == 0:
            own, alias, known = "", money, [content, *counted]
        elif alike == 1:  # its money tells it from the FITID's other lines: a change of its text is seen
            own, alias, known = money, "", [content, *counted]
        else:  # only its whole content tells it from them: an id holds it only as it is
            own, alias, known = content, None, ["", money, *counted]
        return (
            self._id(base, own),
            None if alias is None else self._id(base, alias),
            tuple(self._id(base, other) for other in known),
        )

    def _id(self, base: str, suffix: str) -> str:
        return base + suffix if self.fitid is None else _external_id(self.account, self.fitid, suffix)

    def document(
        self,
        origin: Origin,
        external_id: str,
        alias: str | None,
        known_as: tuple[str, ...],
        *,
        content_id: bool,
    ) -> Document:
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
            known_as=known_as,
            content_id=content_id,
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


def _statement_of(stack: list[ET.Element]) -> ET.Element | None:
    return next((open_ for open_ in reversed(stack) if open_.tag in _ACCOUNTS), None)


def _held(statement: ET.Element) -> tuple[str, str]:
    """A card or investment statement's kind, and its account as a person is shown it: its number's last
    four characters only."""
    holder = _NOT_BANK[statement.tag].holder
    if (number := _account(statement)) is None:
        return statement.tag, f"{'an' if holder[0] in 'aeiou' else 'a'} {holder} without an ACCTID"
    return statement.tag, f"{holder} …{number[-4:]}"


def _refused(statements: Iterable[tuple[str, str]]) -> str:
    held: dict[str, list[str]] = {}
    for tag, account in statements:
        held.setdefault(tag, []).append(account)
    refused = [
        f"{_NOT_BANK[tag].a} ({', '.join(accounts)}), not a bank account's: its lines are "
        f"{_NOT_BANK[tag].lines}, not customers' payments, and none is imported"
        for tag, accounts in held.items()
    ]
    return "; ".join(refused) + (
        "; customers' receipts come from the statement of the bank account they pay into"
    )


def _answered(errors: list[str]) -> str:
    return f"the bank answered with an error{'s' if len(errors) > 1 else ''}: {'; '.join(errors)}"


def _left_out(statement: tuple[str, str], transactions: int) -> str:
    kind = _NOT_BANK[statement[0]]
    counted = f"{transactions} transaction{'' if transactions == 1 else 's'}"
    return (
        f"the {kind.what} of {statement[1]} ({counted}) is left out: its lines are {kind.lines}, not "
        "customers' payments; the file's bank statement is imported"
    )


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _account(statement: ET.Element) -> str | None:
    return _text(statement, f"{_ACCOUNTS[statement.tag]}/ACCTID")


def _external_id(account: str, fitid: str, suffix: str = "") -> str:
    """`ACCTID:FITID` and `suffix`, with the FITID hashed when the whole would overflow the ledger's
    column."""
    plain = f"{account}:{fitid}{suffix}"
    return plain if len(plain) <= MAX_EXTERNAL_ID else f"{account}:{composite_id(SOURCE, fitid)}{suffix}"


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
