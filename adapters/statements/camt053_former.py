"""The ids earlier versions gave a CAMT.053 line, so that a line imported by one of them is found again
(`Document.known_as`: the line under such an id is this line when it holds it unchanged).

Every recipe hashed with `common.composite_id` under the tag `camt053/v1`, edited in place twice, so an
id alone does not say which recipe made it. The recipes, oldest first:

- **by position** (346f259 to 82496f1): an entry without `AcctSvcrRef` was `composite_id("camt053",
  account, date, |amount| minor units, currency, CRDT|DBIT, EndToEndIds, Ustrd lines, position)`,
  position the entry's 1-based place among its `Stmt`'s `Ntry` elements (unbooked and unreadable ones
  count), `"3.2"` for the second transaction of a split one.
- **by occurrence, placeholders as text** (6100c1a to 07ebd81): the fields of today's recipe, the
  occurrence counting entries alike in them over the file per account (per `Stmt` up to b03e0ad).
- **today's** (29187ec on, `camt053.py`).

Both earlier recipes left out only an EndToEndId written `NOTPROVIDED` (`NONREF`, `N/A`, `NONE` or
`notprovided` were in the id and the references: `Document.references_before` keeps the latter for the
print stored with the line), and took an `AcctSvcrRef` placeholder for the bank's reference: the line's
id was `NOTPROVIDED` (`NOTPROVIDED#2` for a split entry's second transaction, scoped `@ACCOUNT` when
another account's line held it).

Not covered: a line those versions took for another (identical payments on pages of one statement
before 74a6d8f, a second entry of one placeholder `AcctSvcrRef`), which they never posted, and a return
or reversal imported before it was one (61dc070, 0c79548): it comes back changed, the import reverses it
and posts it as what it is. The next change of the recipe takes the tag `camt053/v2` and adds the
current recipe here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from adapters.statements.common import composite_id
from connector.documents import on_account

SOURCE = "camt053"
# The only EndToEndId placeholder the earlier recipes left out (`ends_before`).
_LEFT_OUT = "NOTPROVIDED"


def ends_before(end_to_end_ids: Sequence[str]) -> list[str]:
    """The EndToEndIds the earlier recipes read: all but one written `NOTPROVIDED`."""
    return [end for end in end_to_end_ids if end != _LEFT_OUT]


class FormerIds:
    """One file's ids of its lines under the earlier recipes (the counts they kept)."""

    def __init__(self) -> None:
        self.position = 0  # of the entry now in its Stmt
        self._alike: dict[str | None, Counter[str]] = {}

    def statement_starts(self) -> None:
        self.position = 0

    def entry_starts(self) -> None:
        self.position += 1

    def occurrence(self, account: str | None, identity: str) -> int:
        """The occurrence of one more entry of `account` alike in `identity` (as read before)."""
        counts = self._alike.setdefault(account, Counter())
        counts[identity] += 1
        return counts[identity]


def former_ids(
    *,
    account: str | None,
    written_ref: str | None,
    fields: tuple[str, int, str, str, str, str],
    counts: tuple[int, int],
    number: int | None,
) -> tuple[str, ...]:
    """The ids the earlier recipes gave the line: `written_ref` the entry's `AcctSvcrRef` as written
    (a placeholder too); else `fields` (date, |amount| minor units, currency, CRDT|DBIT, EndToEndIds and
    Ustrd lines as read before) and `counts` (the entry's position in its Stmt, its occurrence), `number`
    its transaction's in a split entry."""
    part = "" if number is None else f".{number}"
    if written_ref:
        held = written_ref if number is None else f"{written_ref}#{number}"
        return (held,) if account is None else (held, on_account(held, account))
    position, occurrence = counts
    return tuple(
        dict.fromkeys(
            composite_id(SOURCE, account, *fields, f"{count}{part}") for count in (position, occurrence)
        )
    )
