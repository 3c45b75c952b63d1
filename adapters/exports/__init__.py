"""Accounting exports read into domain documents (`connector.documents`).

- `tabular`: rows of CSV and XLSX files as text, streamed, with row numbers and raw text; encoding,
  delimiter and header found the way Chinese and Western accounting exports need.
- `mapped`: `MappedExport`, a `DocumentParser` driven by a `kind = "document"` mapping file
  (`mappings/export_*.toml`): Zoho Books, QuickBooks Online, Xero, Kingdee, Yonyou exports.
- `iif`: `IifParser`, QuickBooks Desktop IIF transaction files.

Parsers only translate: they never touch the ledger (the import matches and posts what they yield).
"""

from __future__ import annotations

from adapters.exports.iif import IifParser
from adapters.exports.mapped import MappedExport

__all__ = ["IifParser", "MappedExport"]
