"""Behaviour of the local Zoho CRM sandbox, over real loopback HTTP."""

from __future__ import annotations
