"""What a bank's corrections (OFX `CORRECTFITID` with `CORRECTACTION`) do to the lines of one statement.

A line a later line replaces (REPLACE) is no longer the bank's: neither counted nor matched. A deletion
(DELETE) repeats the line it deletes, negated, so the two cancel on the statement. The corrected line is
found as the import finds it: the one line on the correction's account, no deletion itself, under the
id it names or under an id that one was extended into (`named#…`: a FITID the bank re-issued); a
correction naming several lines corrects none (the import holds it for a person).
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
    deletions: Mapping[int, str]  # the index of a line of a deletion pair → what it is

    @classmethod
    def of(cls, lines: Sequence[Document]) -> Corrections:
        corrected = _corrected_lines(lines)
        replaced = {index: by for index, by in corrected.items() if lines[by].replaces is not None}
        return cls(lines, replaced, _deletion_pairs(lines, corrected))

    def replaced_reason(self, index: int) -> str:
        """Why the line at `index`, which a later line replaces, is in no balance."""
        replacement = self.lines[self.replaced[index]]
        return (
            f"replaced by {_row(replacement)} (an OFX correction): not counted, the bank's balance holds "
            f"{replacement.amount} instead"
        )

    def entry_notes(self, imported: Mapping[tuple[str, str], ImportRecord]) -> dict[int, str]:
        """Entry id → why an entry a replaced line posted stands: the replacement is not imported yet."""
        notes: dict[int, str] = {}
        for index, by in self.replaced.items():
            line = self.lines[index]
            record = imported.get((line.source, line.external_id))
            if record is not None and record.entry_id is not None:
                replacement = self.lines[by]
                pending = (replacement.source, replacement.external_id) not in imported
                notes[record.entry_id] = (
                    f"posted for {_row(line)}, which {_row(replacement)} replaces (an OFX correction)"
                    + (": importing the statement reverses it" if pending else "")
                )
        return notes


def _corrected_lines(lines: Sequence[Document]) -> dict[int, int]:
    """The lines another line of the statement corrects, by index → the correction's index."""
    found: dict[int, int] = {}
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
        if len(lines_named) == 1:
            found.setdefault(lines_named[0], by)
    return found


def _deletion_pairs(lines: Sequence[Document], corrected: Mapping[int, int]) -> dict[int, str]:
    pairs: dict[int, str] = {}
    for index, by in corrected.items():
        if lines[by].reverses is not None:
            pairs[by] = f"deletes {_row(lines[index])} (an OFX correction): the pair cancels"
            pairs[index] = f"deleted by {_row(lines[by])} (an OFX correction): the pair cancels"
    for index, line in enumerate(lines):
        if line.reverses is not None and index not in pairs:
            pairs[index] = f"deletes {line.reverses} (an OFX correction), not a line of this statement"
    return pairs


def _row(line: Document) -> str:
    return f"row {line.origin.row}" if line.origin.row is not None else line.external_id
