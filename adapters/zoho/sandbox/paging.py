"""Server-side page tokens: opaque, bound to the user and the original query, valid 24 h, 100,000 records.

A token stores a keyset cursor (the last `(sort key, id)` served), so following it is a bisect, and a
record edited while a client pages by Modified_Time moves behind the cursor and is served again, as it
would be by the real CRM.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from adapters.zoho.sandbox.store import Key


@dataclass(frozen=True)
class PageCursor:
    token: str
    binding: tuple[str, ...]
    after: Key
    served: int  # records handed out before the page this token fetches
    page: int  # page number of the page this token fetches
    expires_at: float


class PageTokens:
    """Issued page tokens of one sandbox (thread-safe)."""

    def __init__(self, lifetime_s: int, clock: Callable[[], float]) -> None:
        self.lifetime_s = lifetime_s
        self.clock = clock
        self._tokens: dict[str, PageCursor] = {}
        self._lock = threading.Lock()

    def issue(self, binding: tuple[str, ...], after: Key, served: int, page: int) -> PageCursor:
        now = self.clock()
        cursor = PageCursor(secrets.token_hex(40), binding, after, served, page, now + self.lifetime_s)
        with self._lock:
            if len(self._tokens) > 50_000:
                self._tokens = {t: c for t, c in self._tokens.items() if c.expires_at > now}
            self._tokens[cursor.token] = cursor
        return cursor

    def find(self, token: str) -> PageCursor | None:
        with self._lock:
            return self._tokens.get(token)
