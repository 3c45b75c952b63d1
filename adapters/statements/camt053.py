"""CAMT.053 bank statements (ISO 20022 `BkToCstmrStmt`, camt.053.001.02 to .13) → bank lines.

The camt.053 `Document` is the file's root, or sits in a wrapper (SWIFT CBPR+'s `BizMsgEnvlp`, which
puts a head.001 `AppHdr` before it): the first `Document` is read wherever it is, and one of another
message (camt.052 …) is refused. The file is streamed with defusedxml's iterparse (no DTDs, entities or
external references); each `Ntry` is read when it ends and then dropped, so memory holds one entry, never
the statement.

What becomes what:

- every booked `Ntry` is one bank line, signed by `CdtDbtInd` (CRDT +, DBIT −) in the entry's own
  `Amt/@Ccy` (a multi-currency account statement keeps each entry's currency). `date` is `BookgDt`
  (`Dt`, or the date part of `DtTm`), `value_date` is `ValDt`; without a `BookgDt` the value date
  serves as both.
- a batched `Ntry` (several `TxDtls`) is one line per `TxDtls`, with the amount of `AmtDtls/TxAmt/Amt`
  or `TxDtls/Amt` and the `TxDtls/CdtDbtInd` when given. It is split only when every transaction has
  an amount in the entry's currency and the amounts add up to the entry's; otherwise the entry stays
  one line carrying every transaction's references, so the lines always sum to what the bank booked.
  Either way its lines carry the entry's reference (`Document.batch`) and booked amount
  (`batch_amount`): the entry read in its other form from another statement is the same money only
  on the same booking date, in the same currency and of the same total (a re-used reference is not).
- entries that are not booked (`Sts` PDNG, INFO, FUTR…) are not lines: each becomes a `Problem`
  ("pending entry, not booked", "entry status INFO, not booked") so that nothing vanishes unseen.
- party: the debtor of a credit, the creditor of a debit (`RltdPties/Dbtr/Nm`, or `Dbtr/Pty/Nm` since
  .08; the ultimate party when that is all there is), with `DbtrAcct`/`CdtrAcct` `Id/IBAN` or
  `Id/Othr/Id`. A reversal's roles are those of the payment it reverses.
- references, most specific first: `RmtInf/Strd/CdtrRefInf/Ref`, each `RmtInf/Ustrd`,
  `Refs/EndToEndId` (not a placeholder: "NOTPROVIDED", "NONREF" …), `AddtlTxInf`, then the entry's
  `AddtlNtryInf`.
- each `Stmt` gives a `Statement` after its lines: account `Acct/Id/IBAN` (or `Othr/Id`), `Acct/Ccy`
  (else the first balance's currency), `Id`, `FrToDt`, opening `OPBD` (else `PRCD`) and closing `CLBD`
  balances signed by their `CdtDbtInd`.

External ids: `Ntry/AcctSvcrRef` (unless a placeholder, as above), with `#n` appended for the n-th
`TxDtls` (1-based) of a split entry (unique at its bank only: a line whose reference another account's
line holds is imported as `REF@IBAN`, `documents.on_account`). Some banks number `AcctSvcrRef` per day
or per statement, and a booked line is never edited: a line whose id a line of other money (booking date,
signed amount, currency) holds is another transaction, posted under its `alias`, the id +
`common.money_suffix(date, amount)` (`REF#1a2b3c4d5e6f`), as OFX does with a re-issued FITID; a line of
the same money and other text under its id is that line corrected. Without `AcctSvcrRef`:
`common.composite_id("camt053", account, date, |amount| minor units, currency, CRDT|DBIT, EndToEndIds,
Ustrd lines, occurrence)` where EndToEndIds and Ustrd lines are joined by newlines and occurrence is
`"1"` for the first entry of its file alike in all of those (a statement's pages are its `Stmt`s: they
count on), `"2"` for a second … (`"1.2"`: the second transaction of a split one). Two identical payments
on one day stay apart, and overlapping statements (a day's, then the month's) give an entry the same id,
whatever entries come before it; in one file, a `Stmt` opening as an earlier one did (the same account,
opening balance and date: an intraday statement, then the day's) counts its entries again from there
(`common.AlikeLines`).

Recipe history: the recipe above (since 29187ec) is the third hashed under the tag `camt053/v1`; the two
before it (by position in the `Stmt`, up to 82496f1; by occurrence reading placeholders as text, 6100c1a
to 07ebd81) were edited in place. A line carries the ids they gave it as `known_as` (where they differ)
and the references they read where those differ (`references_before`: its print there), so a line they
imported is unchanged when downloaded again (`camt053_former` documents them and what they do not
cover). The next change takes `camt053/v2`.

Reversals (`RvslInd` true) and returns (return information `RtrInf`, or a return's bank transaction
code: an unpaid direct debit UPDD, a returned transfer RRTN …): the line is signed by its own
`CdtDbtInd`, is a `bank_reversal` and carries the marker reference "RVSL" last; `reverses` stays None.
The original cannot be named deterministically from the reversal: it has its own `AcctSvcrRef`, and a
hashed original was booked on another day at another position, so "the same data with the opposite sign"
would name an id that never existed. Linking a reversal to its original (by source, currency and amount)
is left to the import. A return's `return_reason` is what its transactions' `RtrInf` say: the reason code
`Rsn/Cd` (or a proprietary `Rsn/Prtry` that is a code, `common.is_return_code`) with its meaning
(`common.RETURN_REASONS`); its `return_words` are their `AddtlInf` (and a proprietary reason in words,
`Died`): never stored, see `Document`.

`Origin.row` is the entry's 1-based number among the file's `Ntry` elements (a `Statement`'s row is
None: its raw header XML, with `Id`, says which it is); `Origin.raw` is the entry's XML (the
`TxDtls`' for a split line). A broken entry is a `Problem`, the others go on; XML that breaks
part-way ends the file with one `Problem` (see `common.give_up`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from adapters.statements.camt053_former import FormerIds, ends_before, former_ids
from adapters.statements.common import (
    SNIFF_BYTES,
    AlikeLines,
    BrokenXml,
    composite_id,
    give_up,
    given,
    local_name,
    money_suffix,
    raw_xml,
    return_reason,
    unique_texts,
    xml_events,
    xs_decimal,
)
from connector.documents import (
    REVERSAL_MARKER,
    Document,
    Origin,
    Parsed,
    Party,
    Problem,
    Statement,
    compact_account,
)
from connector.errors import FileFormatError, MoneyError
from connector.money import Money, currency_code

SOURCE = "camt053"
_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(0[2-9]|1[0-3])")
_SNIFF = re.compile(_NAMESPACE.pattern.encode("ascii"))
_OPENING = ("OPBD", "PRCD")


class _Unreadable(Exception):
    """One entry that cannot become a line; the message is the `Problem`'s reason."""


@cache
def _qualified(namespace: str, path: str) -> str:
    return "/".join(f"{{{namespace}}}{step}" for step in path.split("/"))


@dataclass(frozen=True, slots=True)
class _Paths:
    """Element lookups by namespace-free paths ("RltdPties/Dbtr/Nm") in one camt.053 namespace."""

    namespace: str

    def find(self, element: ET.Element, *paths: str) -> ET.Element | None:
        for path in paths:
            found = element.find(_qualified(self.namespace, path))
            if found is not None:
                return found
        return None

    def all(self, element: ET.Element, path: str) -> list[ET.Element]:
        return element.findall(_qualified(self.namespace, path))

    def text(self, element: ET.Element, *paths: str) -> str | None:
        """The first non-blank text among `paths`, stripped."""
        for path in paths:
            for found in self.all(element, path):
                if found.text and found.text.strip():
                    return found.text.strip()
        return None

    def texts(self, element: ET.Element, path: str) -> list[str]:
        return [found.text.strip() for found in self.all(element, path) if found.text and found.text.strip()]


def _sign(indicator: str | None) -> int:
    if indicator == "CRDT":
        return 1
    if indicator == "DBIT":
        return -1
    raise _Unreadable(f"credit/debit indicator is {indicator!r}, expected CRDT or DBIT")


def _money(paths: _Paths, element: ET.Element, path: str, sign: int) -> Money:
    """The signed amount at `path` (an `Amt` with a `Ccy` attribute)."""
    found = paths.find(element, path)
    if found is None:
        raise _Unreadable(f"no {path}")
    currency = found.get("Ccy")
    if not currency:
        raise _Unreadable(f"{path} has no Ccy")
    return Money.written(_signed(_unsigned(found.text, path), sign), currency)


def _signed(value: Decimal, sign: int) -> Decimal:
    """Exactly (multiplying rounds to the context's 28 digits)."""
    return value if sign > 0 else value.copy_negate()


def _unsigned(text: str | None, path: str) -> Decimal:
    """An `Amt`: never negative (the schema's minimum is 0; `CdtDbtInd` gives the direction)."""
    try:
        value = xs_decimal(text)
    except MoneyError as exc:
        raise _Unreadable(f"{path} {exc}") from None
    if value < 0 or (text or "").strip().startswith("-"):
        written = (text or "").strip()
        raise _Unreadable(f"{path} is {written}: an amount is never negative, CdtDbtInd signs it")
    return value


def _date(paths: _Paths, element: ET.Element, path: str) -> dt.date | None:
    """The date of a `Dt` or the date part of a `DtTm` under `path`, as the bank wrote it."""
    text = paths.text(element, f"{path}/Dt", f"{path}/DtTm")
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        raise _Unreadable(f"{path} {text!r} is not a date") from exc


class Camt053Parser:
    """The `DocumentParser` for CAMT.053 files (see the module docstring for the rules)."""

    format = SOURCE
    lines_name_no_account = True  # one line's text may stand on two accounts: two lines (quarantine)

    def sniff(self, head: bytes, name: str) -> bool:
        """A camt.053.001.02–.13 namespace in the first bytes (an envelope's header before it is short):
        specific, and cheap."""
        return _SNIFF.search(head[:SNIFF_BYTES]) is not None

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        reader = _Reader(name)
        try:
            yield from reader.read(xml_events(path))
        except BrokenXml as exc:
            reason = f"{exc}; nothing after entry {reader.entry_no} could be read"
            # Its own row (the first entry not read): entry N may be a problem of its own, kept apart.
            yield give_up(name, reader.anything_read, reason, reader.entry_no + 1)


class _Reader:
    """The state of one file's read: the namespace, the open `Stmt` and the running counters."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.paths: _Paths | None = None
        self.root = ""  # the file's root element's tag, once read
        self.anything_read = False
        self.entry_no = 0  # entries in the file, for Origin.row
        # Occurrence numbers of entries alike: a statement's pages (one Stmt each) count its identical
        # payments on, as one Stmt would; a Stmt opening as an earlier one did counts them again.
        self.alike = AlikeLines()
        self.opened: ET.Element | None = None  # the Stmt whose opening the count knows
        self.account: str | None = None
        self.former = FormerIds()  # the ids earlier versions gave its lines

    def read(self, events: Iterator[tuple[str, ET.Element]]) -> Iterator[Parsed]:
        open_: list[ET.Element] = []  # the elements around the current one
        statement: ET.Element | None = None
        for event, element in events:
            name = local_name(element.tag)
            if event == "start":
                if self.paths is None:
                    self.paths = self._open(element, open_[0].tag if open_ else element.tag)
                elif name == "Stmt":
                    statement, self.account = element, None
                    self.former.statement_starts()
                open_.append(element)
                continue
            open_.pop()
            parent = open_[-1] if open_ else None
            if name == "Ntry" and parent is statement and statement is not None and self.paths is not None:
                self.entry_no += 1
                self.former.entry_starts()
                yield from self._entry(self.paths, statement, element)
                statement.remove(element)
                self.anything_read = True
            elif name == "Stmt" and self.paths is not None:
                yield self._statement(self.paths, element)
                element.clear()
                statement = None
                self.anything_read = True
        if self.paths is None:  # a root, or a wrapper, holding no Document
            raise FileFormatError(f"{self.file}: not a camt.053 document (root {self.root!r})")

    def _open(self, element: ET.Element, root: str) -> _Paths | None:
        """The paths of the camt.053 `Document` starting at `element`; None while the elements are a
        wrapper's (an envelope, its application header) before it."""
        self.root = root
        if local_name(element.tag) != "Document":
            return None
        namespace = element.tag[1:].partition("}")[0] if element.tag.startswith("{") else ""
        if not _NAMESPACE.fullmatch(namespace):
            where = f"root {root!r}" if element.tag == root else f"{element.tag!r} in root {root!r}"
            raise FileFormatError(f"{self.file}: not a camt.053 document ({where})")
        return _Paths(namespace)

    def _account(self, paths: _Paths, statement: ET.Element) -> str | None:
        if self.account is None:
            self.account = compact_account(paths.text(statement, "Acct/Id/IBAN", "Acct/Id/Othr/Id"))
        return self.account

    def _entry(self, paths: _Paths, statement: ET.Element, entry: ET.Element) -> Iterator[Parsed]:
        origin = Origin(self.file, self.entry_no, raw_xml(entry, paths.namespace))
        status = paths.text(entry, "Sts/Cd", "Sts")
        if status != "BOOK":
            unbooked = f"entry status {status or 'missing'}, not booked"
            yield Problem(
                origin, "pending entry, not booked" if status == "PDNG" else unbooked, unbooked=True
            )
            return
        try:
            lines = list(self._lines(paths, statement, entry, origin))  # one entry's lines: all or none
        except (_Unreadable, MoneyError) as exc:
            yield Problem(origin, f"entry not readable: {exc}")
            return
        yield from lines

    def _lines(
        self, paths: _Paths, statement: ET.Element, entry: ET.Element, origin: Origin
    ) -> Iterator[Document]:
        sign = _sign(paths.text(entry, "CdtDbtInd"))
        amount = _money(paths, entry, "Amt", sign)
        value_date = _date(paths, entry, "ValDt")
        date = _date(paths, entry, "BookgDt") or value_date
        if date is None:
            raise _Unreadable("neither BookgDt nor ValDt")
        line = _Line(
            paths=paths,
            account=self._account(paths, statement),
            date=date,
            value_date=value_date,
            reversal=_reverses(paths, entry) or any(_returned(paths, tx) for tx in paths.all(entry, _TXS)),
            notes=tuple(paths.texts(entry, "AddtlNtryInf")),
            bank_ref=given(written := paths.text(entry, "AcctSvcrRef")),
        )
        transactions = paths.all(entry, _TXS)
        occurrence = ""
        if written is None:  # as the versions before 29187ec counted it (`camt053_former`)
            former = self.former.occurrence(line.account, line.identity(transactions, amount, before=True))
            line = dataclasses.replace(line, before=(None, self.former.position, former))
        elif line.bank_ref is None:
            line = dataclasses.replace(line, before=(written, 0, 0))
        if line.bank_ref is None:
            if self.opened is not statement:
                self.opened = statement
                later_page = (paths.text(statement, "StmtPgntn/PgNb") or "1").lstrip("0") not in ("", "1")
                opening = _balance_as_written(paths, statement, _OPENING)
                if not later_page and opening is not None:  # a later page counts on
                    sequence = paths.text(statement, "ElctrncSeqNb") or paths.text(statement, "LglSeqNb")
                    self.alike.statement_opens(line.account, opening, sequence)
                if (closing := _balance_as_written(paths, statement, ("CLBD",))) is not None:
                    self.alike.statement_closes(line.account, closing)
            occurrence = str(self.alike.next(line.account, line.identity(transactions, amount)))
        parts = _split(paths, transactions, amount)
        batched = len(transactions) > 1 or (paths.text(entry, "NtryDtls/Btch/NbOfTxs") or "1") != "1"
        if line.bank_ref is not None and (parts is not None or batched):
            line = dataclasses.replace(line, batch=line.bank_ref, batch_amount=amount)
        if parts is None:
            yield line.document(transactions, amount, occurrence, None, origin)
            return
        whole_reversed = _reverses(paths, entry)
        for number, (transaction, part) in enumerate(parts, start=1):
            part_origin = Origin(self.file, self.entry_no, raw_xml(transaction, paths.namespace))
            # A collection's one returned transfer is a return; its other transactions are receipts.
            part_line = dataclasses.replace(line, reversal=whole_reversed or _returned(paths, transaction))
            yield part_line.document([transaction], part, f"{occurrence}.{number}", number, part_origin)

    def _statement(self, paths: _Paths, statement: ET.Element) -> Statement | Problem:
        origin = Origin(self.file, None, raw_xml(statement, paths.namespace))  # its entries are gone
        account = self._account(paths, statement)
        balances = paths.all(statement, "Bal")
        currency = paths.text(statement, "Acct/Ccy")
        if currency is None and balances:
            currency = _currency_of(paths, balances[0])
        if account is None or currency is None:
            return Problem(
                origin, "statement without an account id (Acct/Id) or a currency (Acct/Ccy)", header=True
            )
        try:
            by_code = {
                code: (
                    _balance(paths, balance),
                    _date_part(paths.text(balance, "Dt/Dt") or paths.text(balance, "Dt/DtTm")),
                )
                for balance in balances
                if (code := paths.text(balance, "Tp/CdOrPrtry/Cd")) in (*_OPENING, "CLBD")
                and _currency_of(paths, balance) in (None, currency)  # a multi-currency account's others
            }
            opening = next((by_code[code] for code in _OPENING if code in by_code), None)
            closing = by_code.get("CLBD")
            start = _date_part(paths.text(statement, "FrToDt/FrDtTm"))
            end = _date_part(paths.text(statement, "FrToDt/ToDtTm"))
            from_balances = start is None and end is None  # FrToDt is optional: the balances' dates then
            return Statement(
                source=SOURCE,
                account=account,
                currency=currency_code(currency),
                origin=origin,
                statement_id=paths.text(statement, "Id"),
                period_start=opening[1] if from_balances and opening else start,
                period_end=closing[1] if from_balances and closing else end,
                opening=opening[0] if opening else None,
                closing=closing[0] if closing else None,
                period_from_balances=from_balances,
            )
        except (_Unreadable, MoneyError) as exc:
            return Problem(origin, f"statement header not readable: {exc}", header=True)


# Bank transaction sub-families of a return (ISO 20022 external code set): an unpaid or reversed direct
# debit (UPDD, RCDD, PRDD), a returned transfer (RRTN, ARET). Like a reversal, the line undoes another.
_RETURN_FAMILIES = frozenset({"UPDD", "RCDD", "PRDD", "RRTN", "ARET"})


_TXS = "NtryDtls/TxDtls"
_FAMILY = "BkTxCd/Domn/Fmly/SubFmlyCd"


def _reverses(paths: _Paths, entry: ET.Element) -> bool:
    """Whether the whole entry undoes another: RvslInd, or a return's code on the entry itself."""
    return paths.text(entry, "RvslInd") in ("true", "1") or paths.text(entry, _FAMILY) in _RETURN_FAMILIES


def _returned(paths: _Paths, transaction: ET.Element) -> bool:
    """A transaction the bank returns without RvslInd: its return information, or its code."""
    return (
        paths.find(transaction, "RtrInf") is not None or paths.text(transaction, _FAMILY) in _RETURN_FAMILIES
    )


def _reason(paths: _Paths, info: ET.Element) -> tuple[str | None, str | None]:
    """One `RtrInf`'s reason: its code `Rsn/Cd`, else its proprietary `Rsn/Prtry` (free text: a code only
    as `common.is_return_code` says), and its `AddtlInf`."""
    code = paths.text(info, "Rsn/Cd")
    proprietary = None if code else paths.text(info, "Rsn/Prtry")
    return return_reason(code or proprietary, *paths.texts(info, "AddtlInf"), proprietary=bool(proprietary))


def _return_reason(paths: _Paths, transactions: list[ET.Element]) -> tuple[str | None, str | None]:
    """What the transactions' return information says, as (the reason codes with their meaning, the
    bank's words; `common.return_reason`): each `RtrInf`'s `Rsn/Cd` (or `Rsn/Prtry`) and its `AddtlInf`,
    each once; None for a side none says anything of."""
    reasons = [
        _reason(paths, info) for transaction in transactions for info in paths.all(transaction, "RtrInf")
    ]
    codes, words = unique_texts(code for code, _ in reasons), unique_texts(said for _, said in reasons)
    return "; ".join(codes) or None, "; ".join(words) or None


def _balance_as_written(
    paths: _Paths, statement: ET.Element, codes: tuple[str, ...]
) -> tuple[str | None, ...] | None:
    """The statement's first balance of one of `codes` as written (amount, currency, side, date)."""
    for balance in paths.all(statement, "Bal"):
        if paths.text(balance, "Tp/CdOrPrtry/Cd") in codes:
            amount = paths.find(balance, "Amt")
            return (
                amount.text if amount is not None else None,
                _currency_of(paths, balance),
                paths.text(balance, "CdtDbtInd"),
                paths.text(balance, "Dt/Dt") or paths.text(balance, "Dt/DtTm"),
            )
    return None


def _currency_of(paths: _Paths, balance: ET.Element) -> str | None:
    amount = paths.find(balance, "Amt")
    return amount.get("Ccy") if amount is not None else None


def _balance(paths: _Paths, balance: ET.Element) -> Money:
    return _money(paths, balance, "Amt", _sign(paths.text(balance, "CdtDbtInd")))


def _date_part(text: str | None) -> dt.date | None:
    """The date of an ISO date-time as written (its own offset), or None."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        raise _Unreadable(f"{text!r} is not a date") from exc


def _split(
    paths: _Paths, transactions: list[ET.Element], entry: Money
) -> list[tuple[ET.Element, Money]] | None:
    """Each transaction of a batched entry with its own signed amount, or None when the entry has to
    stay whole: fewer than two transactions, an amount missing or in another currency, or amounts
    that do not add up to the booked entry."""
    if len(transactions) < 2:
        return None
    parts: list[tuple[ET.Element, Money]] = []
    for transaction in transactions:
        found = paths.find(transaction, "AmtDtls/TxAmt/Amt", "Amt")
        if found is None or found.get("Ccy") != entry.currency:
            return None
        indicator = paths.text(transaction, "CdtDbtInd")
        try:
            sign = _sign(indicator) if indicator else (1 if entry.minor >= 0 else -1)
            amount = _signed(_unsigned(found.text, "TxAmt"), sign)
            parts.append((transaction, Money.of(amount, entry.currency)))
        except (_Unreadable, MoneyError):
            return None
    if sum(part.minor for _, part in parts) != entry.minor:
        return None
    return parts


@dataclass(frozen=True, slots=True)
class _Line:
    """What every line of one entry shares; `document` adds one transaction's (or all of them)."""

    paths: _Paths
    account: str | None
    date: dt.date
    value_date: dt.date | None
    reversal: bool
    notes: tuple[str, ...]
    bank_ref: str | None
    batch: str | None = None  # the bank's reference of a batched entry (see `Document.batch`)
    batch_amount: Money | None = None  # and its booked amount (`Document.batch_amount`)
    # Without a bank reference: the AcctSvcrRef placeholder, else the entry's position in its Stmt and
    # its occurrence, as the versions before 29187ec read them (`camt053_former`).
    before: tuple[str | None, int, int] | None = None

    def document(
        self,
        transactions: list[ET.Element],
        amount: Money,
        occurrence: str,
        number: int | None,
        origin: Origin,
    ) -> Document:
        paths = self.paths
        ends, unstructured = self._ends_and_unstructured(transactions)
        structured = [text for tx in transactions for text in paths.texts(tx, "RmtInf/Strd/CdtrRefInf/Ref")]
        extra = [text for tx in transactions for text in paths.texts(tx, "AddtlTxInf")]
        marker = [REVERSAL_MARKER] if self.reversal else []
        external_id = self._external_id(amount, occurrence, number, ends, unstructured)
        references = unique_texts([*structured, *unstructured, *ends, *extra, *self.notes, *marker])
        known_as: tuple[str, ...] = ()
        references_before: tuple[tuple[str, ...], ...] = ()
        if self.before is not None:
            written, position, former = self.before
            ends_then = ends_before(self._end_to_end_ids(transactions))
            fields = (self.date.isoformat(), abs(amount.minor), amount.currency, _indicator(amount))
            known_as = tuple(
                known
                for known in former_ids(
                    account=self.account,
                    written_ref=written,
                    fields=(*fields, "\n".join(ends_then), "\n".join(unstructured)),
                    counts=(position, former),
                    number=number,
                )
                if known != external_id
            )
            read = unique_texts([*structured, *unstructured, *ends_then, *extra, *self.notes, *marker])
            references_before = (read,) if read != references else ()
        # A bank line is never edited: its AcctSvcrRef with other money is the bank's id re-used (numbered
        # per day or per statement), another transaction, posted under this alias (`common.money_suffix`).
        alias = external_id + money_suffix(self.date, amount) if self.bank_ref else None
        reason, words = _return_reason(paths, transactions) if self.reversal else (None, None)
        return Document(
            kind="bank_line",
            source=SOURCE,
            external_id=external_id,
            date=self.date,
            amount=amount,
            origin=origin,
            party=self._party(transactions, amount),
            value_date=self.value_date,
            references=references,
            bank_reversal=self.reversal,
            account=self.account,
            alias=alias,
            known_as=known_as,
            references_before=references_before,
            content_id=self.bank_ref is None,  # a composite id: its text changed, it comes back as another
            batch=self.batch,
            batch_amount=self.batch_amount,
            return_reason=reason,
            return_words=words,
        )

    def _end_to_end_ids(self, transactions: list[ET.Element]) -> list[str]:
        return [ref for tx in transactions for ref in self.paths.texts(tx, "Refs/EndToEndId")]

    def _ends_and_unstructured(self, transactions: list[ET.Element]) -> tuple[list[str], list[str]]:
        ends = [ref for ref in self._end_to_end_ids(transactions) if given(ref)]
        return ends, [text for tx in transactions for text in self.paths.texts(tx, "RmtInf/Ustrd")]

    def identity(self, transactions: list[ET.Element], amount: Money, *, before: bool = False) -> str:
        """What an entry without `AcctSvcrRef` is known by: two such entries of one statement alike in
        it are told apart by their order, not by their place among the statement's other entries
        (`before`: with the EndToEndIds the versions before 29187ec read, `camt053_former`)."""
        ends, unstructured = self._ends_and_unstructured(transactions)
        if before:
            ends = ends_before(self._end_to_end_ids(transactions))
        return "\x1f".join(
            [
                self.date.isoformat(),
                str(amount.minor),
                amount.currency,
                "\n".join(ends),
                "\n".join(unstructured),
            ]
        )

    def _external_id(
        self, amount: Money, occurrence: str, number: int | None, ends: list[str], unstructured: list[str]
    ) -> str:
        if self.bank_ref:
            return self.bank_ref if number is None else f"{self.bank_ref}#{number}"
        return composite_id(
            SOURCE,
            self.account,
            self.date.isoformat(),
            abs(amount.minor),
            amount.currency,
            _indicator(amount),
            "\n".join(ends),
            "\n".join(unstructured),
            occurrence,
        )

    def _party(self, transactions: list[ET.Element], amount: Money) -> Party:
        """The counterparty when every transaction names the same one (a merged batch may not)."""
        incoming = (amount.minor >= 0) != self.reversal
        role = "Dbtr" if incoming else "Cdtr"
        parties = {_party(self.paths, tx, role) for tx in transactions}
        return parties.pop() if len(parties) == 1 else Party()


def _indicator(amount: Money) -> str:
    return "CRDT" if amount.minor >= 0 else "DBIT"


def _party(paths: _Paths, transaction: ET.Element, role: str) -> Party:
    name = paths.text(
        transaction,
        f"RltdPties/{role}/Nm",
        f"RltdPties/{role}/Pty/Nm",
        f"RltdPties/Ultmt{role}/Nm",
        f"RltdPties/Ultmt{role}/Pty/Nm",
    )
    account = paths.text(transaction, f"RltdPties/{role}Acct/Id/IBAN", f"RltdPties/{role}Acct/Id/Othr/Id")
    return Party(name=" ".join(name.split()) if name else None, bank_account=compact_account(account))
