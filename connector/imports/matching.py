"""Which customer a receipt (or an invoice) belongs to: tiered rules as pure functions over `Known`.

1. a reference, memo or remittance line names an invoice number, an account number or a record id
   the connector knows (or the document carries the account number or customer id itself); the text is
   read with full-width characters folded, and an account or card number printed in groups of four
   ("6217 0000 1111 1234", "DE89 3704 0044 …") is one identifier, never four;
2. the payer's bank account is one a customer is known to pay from;
3. the payer's name is close to exactly one customer's (`name_core`: legal forms, width, case and
   punctuation ignored), with the same bracketed qualifiers (`name_qualifiers`: the （香港） company is
   not its mainland namesake); a tie or a score under the threshold is no match;
4. the amount equals an invoice of exactly one customer still wholly open, dated within the window
   before it. The receipt names no invoice by this: once applied, it pays the oldest open items first.

The first tier that finds anybody decides; within it, several customers are ambiguous. Every
candidate carries its tier, score (0-100) and why, in words, for the match record and the queue.
An identifier found only in the free text (a memo's "March 2026" passing for invoice 2026), or an
invoice an allocation names (a receipt's 源单编号 settling another customer's invoice), while the document
names another customer by exactly its name does not decide: both wait for a person. The customer's own
account number or id in the document decides whatever its name (a company renamed). Nor does
an identifier of a few digits only (up to six: invoice 1002, record id 2026) found only in the free
text of a payment that names no payer, or whose payer's name is like none of the customers it names
(another company quoting its own supplier's invoice 1002, "Rent March 2026"); a longer one (an 8-digit
fapiao number) or one with letters decides.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from connector.documents import Document
from connector.imports.rules import is_receipt
from connector.money import Money
from connector.settings import MatchingSettings

_SHORT_NUMBER = re.compile(r"\d{1,6}")  # an invoice number too short to tell one company's from another's
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-/_.]*[A-Za-z0-9])?")
# Numbers printed in groups of four: a card or account number (16–19 digits), an IBAN (country and check
# digits first). Joined, none of their groups passes for an invoice number (a list of four or more
# four-digit invoice numbers is joined too: it then names nothing, and the receipt waits for a person).
_CARD = re.compile(r"(?<![A-Za-z0-9\-/_.])\d{4}(?: \d{4}){3}(?: \d{1,3})?(?![A-Za-z0-9\-/_.])")
_IBAN = re.compile(
    r"(?<![A-Za-z0-9\-/_.])[A-Za-z]{2}\d{2}(?: [A-Za-z0-9]{4}){2,}(?: [A-Za-z0-9]{1,3})?(?![A-Za-z0-9\-/_.])"
)
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Candidate:
    account_no: str
    tier: int
    score: int
    why: str


@dataclass(frozen=True, slots=True)
class Match:
    """The candidates of the deciding tier (best first) and the invoice numbers the document named."""

    candidates: tuple[Candidate, ...] = ()
    invoices: tuple[str, ...] = ()
    doubted: bool = False  # the one customer found is in doubt: a person decides

    @property
    def sure(self) -> Candidate | None:
        """The one customer, when the deciding tier found exactly one beyond doubt."""
        one = len({c.account_no for c in self.candidates}) == 1
        return self.candidates[0] if one and not self.doubted else None

    def posts_by_itself(self, auto_post_tiers: int) -> Candidate | None:
        found = self.sure
        return found if found is not None and found.tier <= auto_post_tiers else None


class Known(Protocol):
    """What the connector knows about customers, as the matcher asks it (see `known.KnownCustomers`)."""

    def by_token(self, token: str) -> Sequence[tuple[str, str, str]]:
        """(account number, what it is, how it is written) of each invoice number, account number or
        record id that `token` is, whatever its case."""
        ...

    def by_bank_account(self, account: str) -> Sequence[str]: ...

    def by_name(self, name: str, threshold: int) -> Sequence[tuple[str, int]]:
        """(account number, score) of the customers whose names score at least `threshold`, best first."""
        ...

    def by_exact_name(self, name: str) -> Sequence[str]:
        """The account numbers of the customers whose name has the core of `name` (`name_core`)."""
        ...

    def by_open_invoice(self, amount: Money, on: date, window_days: int) -> Sequence[tuple[str, str]]:
        """(account number, invoice number) of invoices of exactly `amount`, none of it paid yet, dated
        within the window."""
        ...


def tokens(texts: Iterable[str | None]) -> list[str]:
    """Candidate identifiers in free text, upper-cased, in order, once each ("货款INV-2026-0001" → INV-…).

    Full-width characters are folded (ＩＮＶ－００１ is INV-001); a number printed in groups of four is
    one token without its spaces, so that no group of it passes for an invoice number; identifiers
    joined by "/" ("INV-001/INV-002") are each a token too, when every part has letters and digits.
    """
    found: dict[str, None] = {}
    for text in texts:
        if text:
            folded = unicodedata.normalize("NFKC", text)
            folded = _CARD.sub(_without_spaces, _IBAN.sub(_without_spaces, folded))
            for token in _TOKEN.findall(folded):
                token = token.upper()
                found.setdefault(token, None)
                if "/" in token:
                    parts = [part.strip("-_.") for part in token.split("/")]
                    if all(_LETTER.search(part) and _DIGIT.search(part) for part in parts):
                        found.update(dict.fromkeys(parts))
    return list(found)


def _without_spaces(grouped: re.Match[str]) -> str:
    return grouped.group().replace(" ", "")


_NAMED = re.compile(r"^(account number|record id|invoice) (.+?) in the document")


def named_reason(why: str, written: str) -> str:
    """A tier-1 match's reason: what of a customer's the document names (`named_in` reads it back)."""
    return f"{why} {written} in the document"


def named_in(reason: str) -> tuple[str, str] | None:
    """What a tier-1 match's reason (`named_reason`) says the document named: (what, as written)."""
    said = _NAMED.match(reason)
    return (said.group(1), said.group(2)) if said is not None else None


def match_document(
    document: Document, known: Known, *, name_threshold: int, window_days: int, tiers: int = 4
) -> Match:
    """The deciding tier's candidates for `document`, trying tiers 1 to `tiers`."""
    party = document.party
    named = [a.invoice_number for a in document.allocations]
    own = tokens([party.account_no, party.external_id])  # the customer the document says it is
    stated = tokens([*own, *named])  # the document's own fields
    words = tokens([*stated, *document.references])
    first: list[Candidate] = []
    invoices: list[str] = []
    from_fields = from_party = False
    short_only = True  # every identifier found is a few digits only
    for token in words:
        for account_no, why, written in known.by_token(token):
            first.append(Candidate(account_no, 1, 100, named_reason(why, written)))
            from_fields = from_fields or token in stated
            from_party = from_party or token in own
            short_only = short_only and _SHORT_NUMBER.fullmatch(token) is not None
            if why == "invoice":
                invoices.append(written)
    if first:
        if not from_party and tiers >= 3:
            # An invoice, an allocation's too, is some customer's: a payer named exactly as another
            # customer may be paying it for them, or have its allocation keyed to the wrong bill.
            hits = len(first)
            if party.name:
                first += _named_otherwise(party.name, first, known)
            if not from_fields and short_only and len(first) == hits:
                return _unless_another_paid(party.name, first, invoices, known, name_threshold)
        return Match(_ranked(first), tuple(dict.fromkeys(invoices)))
    if tiers >= 2 and party.bank_account:
        found = known.by_bank_account(party.bank_account)
        if found:
            why = "pays from a known bank account"
            return Match(_ranked(Candidate(account_no, 2, 100, why) for account_no in found))
    if tiers >= 3 and party.name:
        scored = known.by_name(party.name, name_threshold)
        if scored:
            best = scored[0][1]
            tied = [(account_no, score) for account_no, score in scored if score == best]
            why = "payer name {score}% like the customer's" + (" (a tie: no match)" if len(tied) > 1 else "")
            return Match(_ranked(Candidate(a, 3, s, why.format(score=s)) for a, s in tied))
    if tiers >= 4 and document.amount.minor > 0:
        open_invoices = known.by_open_invoice(document.amount, document.date, window_days)
        if open_invoices:
            return Match(
                _ranked(
                    Candidate(account_no, 4, 80, f"same amount as open invoice {number}")
                    for account_no, number in open_invoices
                )
            )
    return Match()


def matched(document: Document, known: Known, settings: MatchingSettings) -> Match:
    """`match_document` as an import asks it: a receipt through the four tiers, names at the settings'
    threshold, amounts within their window; another document through tiers 1-3, a name only exactly."""
    receipt = is_receipt(document)
    return match_document(
        document,
        known,
        name_threshold=settings.name_threshold if receipt else 100,
        window_days=settings.amount_window_days,
        tiers=4 if receipt else 3,
    )


def _unless_another_paid(
    name: str | None, found: list[Candidate], invoices: list[str], known: Known, threshold: int
) -> Match:
    """The customers whose identifiers, a few digits only (invoice numbers, record ids), the free text
    gave, in doubt when the payer's name is like none of theirs, or the payment names no payer: such
    numbers repeat between sources and companies (QuickBooks numbers its own from 1001) and pass for
    other numbers (a year, a branch, an order), and another company quoting one may be paying its own
    supplier's invoice of that number."""
    like = {account_no for account_no, _ in known.by_name(name, threshold)} if name else set()
    ranked = _ranked(found)
    if like & {candidate.account_no for candidate in ranked}:
        return Match(ranked, tuple(dict.fromkeys(invoices)))
    doubt = "; but the payer's name is not like the customer's" if name else "; but no payer is named"
    doubted = tuple(dataclasses.replace(c, why=c.why + doubt) for c in ranked)
    return Match(doubted, tuple(dict.fromkeys(invoices)), doubted=True)


def _named_otherwise(name: str, found: Sequence[Candidate], known: Known) -> list[Candidate]:
    """The one customer `name` is exactly, when the identifiers the free text or the allocations gave
    found others."""
    exactly = set(known.by_exact_name(name))
    if len(exactly) != 1 or exactly & {candidate.account_no for candidate in found}:
        return []
    return [Candidate(exactly.pop(), 3, 100, "named in the document (its name exactly)")]


def _ranked(candidates: Iterable[Candidate]) -> tuple[Candidate, ...]:
    """Best first, one per customer (its best reason)."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        held = best.get(candidate.account_no)
        if held is None or (candidate.tier, -candidate.score) < (held.tier, -held.score):
            best[candidate.account_no] = candidate
    return tuple(sorted(best.values(), key=lambda c: (c.tier, -c.score, c.account_no)))
