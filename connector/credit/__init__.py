"""Credit: per-customer ledger figures (balances, aging, last payment), credit score and credit status.

`aging`, `score` and `rules` are pure (no I/O); `reads` holds the set-based queries and `figures`
assembles them into the figures the push to the CRM sends. Nothing is imported here: `rules` is
imported by `connector.settings`, which the database side imports in turn.
"""
