"""The double-entry customer ledger (accounts-receivable subledger with its control account)."""

from __future__ import annotations
