"""CRM integration connector: customers from CRMs, documents from exports, a double-entry customer ledger."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
