"""Ports between the core and the adapters: small protocols, one capability each."""

from __future__ import annotations

from typing import Any, Protocol


class RecordSource(Protocol):
    """Raw records of one stream of a backend (e.g. `Contacts` of `zoho`), for previews and pulls.

    Raw records never leave the mapping layer: the inbound mapping turns them into canonical fields.
    """

    def sample(self, stream: str, limit: int) -> list[tuple[str, Any]]:
        """Up to `limit` current records as (reference, raw record)."""
        ...
