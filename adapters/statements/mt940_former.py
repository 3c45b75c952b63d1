"""The ids earlier versions gave an MT940 line, so that a line imported by one of them is found again
(`Document.known_as`: the line under such an id is this line when it holds it unchanged).

Every recipe hashed with `common.composite_id` under the tag `mt940/v1`: the recipe was edited in place
twice, so an id alone does not say which recipe made it. The recipes, oldest first:

- **v1 by position** (up to commit 81af49b): `composite_id("mt940", account, :28C: as written, value
  date, |amount| minor units, currency, mark, :61: customer reference, :61: bank reference, position)`,
  position the line's 1-based place among its statement's `:61:` fields (malformed ones count).
- **v1 by text** (f1fb9eb to 1bdd1c4): `composite_id("mt940", account, entry date, value date, |amount|
  minor units, currency, mark, :61: customer reference, :61: bank reference as written ("NONREF"
  too), the references, occurrence)`. The references were read as now except that placeholders
  (EREF+NOTPROVIDED) counted as text (only a :61: customer reference "NONREF" was left out) and only
  RC/RD lines carried the reversal marker; occurrence counted lines alike in all of that over the file.
- **v1 by bank reference** (91d1bce on, `mt940.py`): the current one.

Not covered: a line whose text an earlier version decoded otherwise (a short Latin-1 file read as
cp775 before f0183a5), a return without RC/RD and without a bank reference imported before 62b4838
(it was money out then, with other references), and occurrence numbers of intraday statements
re-covered by the day's in one file before aaba669. The next change of the recipe takes the tag
`mt940/v2` and adds the current recipe here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from adapters.statements.common import composite_id

SOURCE = "mt940"


class FormerIds:
    """One file's ids of its lines under the earlier recipes (the occurrence counts they kept)."""

    def __init__(self) -> None:
        self._alike: Counter[int] = Counter()  # by hash of the line's identity: small for a big file

    def of(
        self,
        *,
        account: str | None,
        statement_no: str | None,
        position: int,
        dates: tuple[dt.date | None, dt.date],
        minor: int,
        currency: str,
        mark: str,
        customer_ref: str,
        bank_ref: str,
        references: tuple[str, ...],
    ) -> tuple[str, str]:
        """The line's ids by position and by text (see the module docstring); `dates`: its entry date
        (None when not given) and its value date; `references` as the recipe by text read them."""
        entry, value = dates
        by_position = composite_id(
            SOURCE,
            account,
            statement_no,
            value.isoformat(),
            minor,
            currency,
            mark,
            customer_ref,
            bank_ref,
            position,
        )
        identity = (
            account,
            entry.isoformat() if entry else "",
            value.isoformat(),
            minor,
            currency,
            mark,
            customer_ref,
            bank_ref,
            "\n".join(" ".join(reference.split()) for reference in references),
        )
        key = hash("\x1e".join(map(str, identity)))
        self._alike[key] += 1
        return by_position, composite_id(SOURCE, *identity, self._alike[key])
