"""Bank statement parsers: CAMT.053, MT940 and OFX/QFX files → `Document`s (bank lines), `Statement`s
and `Problem`s (see `connector.documents`).

All three follow the same rules. A file is streamed: one entry (CAMT `Ntry`, MT940 `:61:`, OFX
`STMTTRN`) is read, turned into a bank line and dropped before the next is read. A bank line is
signed from the account holder's side (money in positive) in the entry's own currency, in exact
minor units. An entry that cannot be read becomes a `Problem` with the file, its entry or line
number and its raw text, and the entries after it are still read; `FileFormatError` is raised only
when nothing in the file can be read. Each statement's `Statement` comes after its lines (MT940 and
OFX state the closing balance after them). Where the format has no transaction id, the id is a
documented composite hash (`common.composite_id`), stable across re-reads of the same file.
"""

from __future__ import annotations

from adapters.statements.camt053 import Camt053Parser
from adapters.statements.mt940 import Mt940Parser
from adapters.statements.ofx import OfxParser

__all__ = ["Camt053Parser", "Mt940Parser", "OfxParser"]
