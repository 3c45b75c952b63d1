"""Accounting exports read into domain documents (`connector.documents`).

- `tabular`: rows of CSV and XLSX files as text, streamed, with row numbers and raw text; encoding,
  delimiter and header found the way Chinese and Western accounting exports need.
- `mapped`: `MappedExport`, a `DocumentParser` driven by a `kind = "document"` mapping file
  (`mappings/export_*.toml`): Zoho Books, QuickBooks Online, Xero, Kingdee, Yonyou exports.
- `vouchers`: `VoucherExport`, general-ledger voucher (凭证) exports driven by a `kind = "voucher"`
  mapping file: the customers' receivable lines as invoices, receipts and credit notes.
- `iif`: `IifParser`, QuickBooks Desktop IIF transaction files.

Parsers only translate: they never touch the ledger (the import matches and posts what they yield).
"""

from __future__ import annotations

from adapters.exports.iif import IifParser
from adapters.exports.mapped import MappedExport
from adapters.exports.vouchers import VoucherExport

__all__ = ["IifParser", "MappedExport", "VoucherExport"]
