"""Imports of accounting exports and bank statements: files, documents, matching, posting, reconciliation."""
