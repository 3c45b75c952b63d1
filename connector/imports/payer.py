"""Who paid a receipt left for a person, as its file said (name, bank account, references): kept with
its reconciliation item, encrypted (personal data), so that whoever decides it sees what the bank or
the export said without opening the file."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

from connector.documents import REVERSAL_MARKER, Document, compact_account
from connector.master.identity import name_core
from connector.security.cipher import FieldCipher

PAYER_FIELD = "reconciliation_item.payer"
LINE_PAYER_FIELD = "imported_document.payer"


@dataclass(frozen=True)
class Payer:
    name: str | None = None
    bank_account: str | None = None
    references: tuple[str, ...] = ()

    @classmethod
    def of(cls, document: Document) -> Payer:
        """What `document` says of its payer; the reversal marker every bank reversal carries says nothing."""
        party = document.party
        references = tuple(r for r in document.references if r.strip() and r != REVERSAL_MARKER)
        return cls(party.name, party.bank_account, references)

    def seal(self, cipher: FieldCipher, field: str = PAYER_FIELD) -> str | None:
        """The encrypted record; none when the file said nothing about the payer."""
        if not (self.name or self.bank_account or self.references):
            return None
        record = {"name": self.name, "bank_account": self.bank_account, "references": list(self.references)}
        return cipher.encrypt(field, json.dumps(record, ensure_ascii=False))

    @classmethod
    def unseal(cls, cipher: FieldCipher, token: str | None, field: str = PAYER_FIELD) -> Payer:
        if token is None:
            return cls()
        record = json.loads(cipher.decrypt(field, token))
        references = tuple(r for r in record["references"] if r != REVERSAL_MARKER)  # as sealed before
        return cls(record["name"], record["bank_account"], references)

    def same_as(self, other: Payer) -> bool:
        """Whether the two name one payer: the same bank account (two accounts are two payers, whatever
        else they share), else, unless their names tell two payers apart, a reference in common (the
        end-to-end id a bank repeats on a return; two payers may write the same "Beitrag 2026") or the
        same name."""
        mine, theirs = compact_account(self.bank_account), compact_account(other.bank_account)
        if mine is not None and theirs is not None:
            return mine == theirs
        if self.plainly_not(other):
            return False
        if set(self.references) & set(other.references):
            return True
        return self.name is not None and other.name is not None and _same_name(self.name, other.name)

    def plainly_not(self, other: Payer) -> bool:
        """Whether the two are plainly two payers: two bank accounts that differ, else two names that
        differ beyond legal form, punctuation and a bank's cutting one short. Nothing to compare is no
        evidence."""
        mine, theirs = compact_account(self.bank_account), compact_account(other.bank_account)
        if mine is not None and theirs is not None:
            return mine != theirs
        if self.name and other.name:
            ones, twos = _spellings(name_core(self.name)), _spellings(name_core(other.name))
            if not all(ones | twos):
                return False
            return not any(one.startswith(two) or two.startswith(one) for one in ones for two in twos)
        return False

    def describe(self) -> str:
        """One line for a person: `paid by ACME GmbH from DE89370400440532013000, ref "INV-7 thanks"`."""
        parts = [f"paid by {self.name}" if self.name else "payer not named"]
        if self.bank_account:
            parts.append(f"from {self.bank_account}")
        if self.references:
            parts.append("ref " + "; ".join(json.dumps(r, ensure_ascii=False) for r in self.references))
        return " ".join(parts)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "bank_account": self.bank_account, "references": list(self.references)}


# Where banks cut a long name short: 27 or 35 characters (MT940's name fields), 70 (SEPA's). A name of
# one of these lengths (or one less: a space cut off its end) that the other starts with is that name;
# of another length it is a name of its own ("Müller GmbH" is not "Müller GmbH & Co. KG").
_BANK_CUTS = frozenset(length - gone for length in (27, 35, 70) for gone in (0, 1))


def _same_name(one: str, another: str) -> bool:
    """The same name, however a bank spelt it (MUELLER for Müller) or cut it short."""
    ones, anothers = _spellings(_folded(one)), _spellings(_folded(another))
    if ones & anothers:
        return True
    short, long = sorted((ones, anothers), key=lambda spellings: min(map(len, spellings)))
    cut = [spelling for spelling in short if len(spelling) in _BANK_CUTS]
    return any(whole.startswith(spelling) for spelling in cut for whole in long)


def _folded(name: str) -> str:
    return " ".join(name.casefold().split())


_TRANSLITERATED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa"})


def _spellings(name: str) -> set[str]:
    """A name (casefolded) as banks write it: its letters as they are, transliterated (Müller as MUELLER:
    SEPA's character set has no ü) and with their accents dropped (MULLER)."""
    return {name, _unaccented(name.translate(_TRANSLITERATED)), _unaccented(name)}


def _unaccented(text: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
