"""Zoho CRM: the adapter's pieces and a local sandbox that speaks the CRM's v8 API over real HTTP."""

from __future__ import annotations
