"""What a bank's corrections (OFX `CORRECTFITID` with `CORRECTACTION`) do to the lines of one statement.

A line a later line replaces (REPLACE) is no longer the bank's: neither counted nor matched. A deletion
(DELETE) repeats the line it deletes, negated, so the two cancel on the statement. The corrected line is
found as the import finds it: the one line on the correction's account, no deletion itself, under the
id it names or under an id that one was extended into (`named#…`: a FITID the bank re-issued); a
correction naming several lines corrects none (the import holds it for a person).

A line corrected twice is corrected by the first correction, as the import does: it finds the line
reversed when the second comes, so a second deletion posts nothing (it is in no balance) and a second
replacement posts in full (it counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector.documents import Document

if TYPE_CHECKING:
    from connector.imports.statement_check import ImportRecord


@dataclass(frozen=True)
class Corrections:
    lines: Sequence[Document]
    replaced: Mapping[int, int]  # the index of a line a later line replaces → the replacement's
    # The index of a line of a deletion pair, or of a correction of a line already corrected → what it is.
    notes: Mapping[int, str]
    # The index of a deletion of a line already corrected: applied no more, in no balance → its reason.
    spent: Mapping[int, str]

    @classmethod
    def of(cls, lines: Sequence[Document]) -> Corrections:
        corrected, again = _corrected_lines(lines)
        replaced = {index: by for index, by in corrected.items() if lines[by].replaces is not None}
        notes = _deletion_pairs(lines, corrected, again)
        spent: dict[int, str] = {}
        for by, index in again.items():
            first = f"corrects {_row(lines[index])}, which {_row(lines[corrected[index]])} already corrected"
            if lines[by].reverses is not None:
                spent[by] = f"{first} (an OFX correction): not counted, the import posts nothing for it"
            else:
                notes[by] = f"{first} (an OFX correction): it counts in full"
        return cls(lines, replaced, notes, spent)

    @property
    def left_out(self) -> set[int]:
        """The lines in no balance, neither matched nor missing: replaced, or deleting a line already
        corrected."""
        return set(self.replaced) | set(self.spent)

    def left_out_reason(self, index: int) -> str:
        """Why the line at `index` (one of `left_out`) is in no balance."""
        return self.spent.get(index) or self.replaced_reason(index)

    def replaced_reason(self, index: int) -> str:
        """Why the line at `index`, which a later line replaces, is in no balance: the bank's balance holds
        the end of the chain of replacements instead (a replacement replaced in turn)."""
        by = self.replaced[index]
        end, seen = by, {index}
        while end in self.replaced and end not in seen:  # a cycle (lines replacing each other) ends
            seen.add(end)
            end = self.replaced[end]
        replacement, last = self.lines[by], self.lines[end]
        how = f"{_row(replacement)} (an OFX correction)"
        if end != by:
            how = f"{_row(replacement)}, then by {_row(last)} (OFX corrections)"
        return f"replaced by {how}: not counted, the bank's balance holds {last.amount} instead"

    def entry_notes(
        self, imported: Mapping[tuple[str, str], ImportRecord], quarantined: Mapping[tuple[str, str], str]
    ) -> dict[int, str]:
        """Entry id → why an entry a replaced line posted stands: the replacement is not imported yet
        (importing it reverses the entry), or quarantined, or held for a person when it comes (the
        replaced line is linked: its entry is a receipt another record posted, which a person reverses)."""
        notes: dict[int, str] = {}
        for index, by in self.replaced.items():
            line = self.lines[index]
            record = imported.get((line.source, line.external_id))
            if record is not None and record.entry_id is not None:
                replacement = self.lines[by]
                key = (replacement.source, replacement.external_id)
                why = ""
                if (held := quarantined.get(key)) is not None:
                    why = f": {_row(replacement)} is quarantined: {held}"
                elif key not in imported and record.status == "linked":
                    why = (
                        f": importing the statement holds {_row(replacement)} for a person, who reverses "
                        "this receipt (`connector ledger reverse`)"
                    )
                elif key not in imported:
                    why = ": importing the statement reverses it"
                notes[record.entry_id] = (
                    f"posted for {_row(line)}, which {_row(replacement)} replaces (an OFX correction){why}"
                )
        return notes


def _corrected_lines(lines: Sequence[Document]) -> tuple[dict[int, int], dict[int, int]]:
    """The lines another line of the statement corrects, by index → the (first) correction's index; and
    the corrections of a line an earlier one corrected, by index → that line's index."""
    found: dict[int, int] = {}
    again: dict[int, int] = {}
    for by, correction in enumerate(lines):
        named = correction.replaces or correction.reverses
        if named is None:
            continue
        lines_named = [
            index
            for index, line in enumerate(lines)
            if index != by
            and line.source == correction.source
            and line.account == correction.account
            and line.reverses is None
            and (line.external_id == named or line.external_id.startswith(f"{named}#"))
        ]
        if len(lines_named) == 1 and lines_named[0] in found:
            again[by] = lines_named[0]
        elif len(lines_named) == 1:
            found[lines_named[0]] = by
    return found, again


def _deletion_pairs(
    lines: Sequence[Document], corrected: Mapping[int, int], again: Mapping[int, int]
) -> dict[int, str]:
    pairs: dict[int, str] = {}
    for index, by in corrected.items():
        if lines[by].reverses is not None:
            pairs[by] = f"deletes {_row(lines[index])} (an OFX correction): the pair cancels"
            pairs[index] = f"deleted by {_row(lines[by])} (an OFX correction): the pair cancels"
    for index, line in enumerate(lines):
        if line.reverses is not None and index not in pairs and index not in again:
            pairs[index] = f"deletes {line.reverses} (an OFX correction), not a line of this statement"
    return pairs


def _row(line: Document) -> str:
    return f"row {line.origin.row}" if line.origin.row is not None else line.external_id
