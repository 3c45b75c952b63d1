"""Sync bookkeeping: run history, quarantine, the mapping sets in force."""
