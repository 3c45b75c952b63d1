"""Adapters to external systems (CRMs, exports, bank statements); they never touch the ledger."""

from __future__ import annotations
