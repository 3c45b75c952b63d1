"""Zoho CRM: the REST adapter (auth, pull, push) and a local sandbox that speaks the same API."""
