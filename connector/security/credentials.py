"""One shared access token per provider, refreshed under a lock by whichever thread or replica needs it.

Providers limit how many access tokens a refresh token may mint (Zoho: 10 per 10 minutes), so every
thread of every daemon replica uses the token stored in the database. The token is refreshed a margin
before it expires, or when the provider rejects it, by one caller at a time: a process-wide lock for
threads, the database row lock (`SELECT … FOR UPDATE` on PostgreSQL, SQLite's write lock) for
replicas. Whoever gets the lock second finds the fresh token and uses it. Tokens are stored encrypted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.db import unit_of_work
from connector.errors import AuthenticationError, TransientRemoteError
from connector.security.cipher import FieldCipher
from connector.security.models import RemoteCredential

REFRESH_FIELD = "remote_credential.refresh_token"
ACCESS_FIELD = "remote_credential.access_token"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    api_domain: str | None
    expires_at: datetime

    def fresh(self, now: datetime, margin: timedelta) -> bool:
        return self.expires_at - margin > now


Refresh = Callable[[str], IssuedToken]  # refresh token → a new access token (raises RemoteError)


@dataclass(frozen=True)
class TokenLimits:
    margin: timedelta = timedelta(minutes=5)  # refresh this long before expiry
    per_window: int = 10  # tokens a refresh token may mint per window
    window: timedelta = timedelta(minutes=10)


class CredentialStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: FieldCipher,
        limits: TokenLimits = TokenLimits(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, IssuedToken] = {}

    def save_refresh_token(self, provider: str, refresh_token: str) -> None:
        """Store (or replace) the provider's refresh token; any access token minted from the old one goes."""
        sealed = self.cipher.encrypt(REFRESH_FIELD, refresh_token)
        with unit_of_work(self.sessions) as session:
            row = session.get(RemoteCredential, provider)
            if row is None:
                session.add(RemoteCredential(provider=provider, refresh_token_enc=sealed))
            else:
                row.refresh_token_enc, row.access_token_enc, row.expires_at = sealed, None, None
        self._cached.pop(provider, None)

    def has_refresh_token(self, provider: str) -> bool:
        with unit_of_work(self.sessions) as session:
            return session.get(RemoteCredential, provider) is not None

    def access_token(self, provider: str, refresh: Refresh, rejected: str | None = None) -> IssuedToken:
        """A usable access token: the cached one, the stored one, or a new one minted under the lock.

        `rejected` is a token the provider just refused (INVALID_TOKEN): it is replaced even if it
        looks fresh, unless another caller has replaced it already.
        """
        cached = self._cached.get(provider)
        if (
            cached is not None
            and cached.access_token != rejected
            and cached.fresh(self.clock(), self.limits.margin)
        ):
            return cached
        with self._lock:
            issued = self._refresh_locked(provider, refresh, rejected)
            self._cached[provider] = issued
            return issued

    def _refresh_locked(self, provider: str, refresh: Refresh, rejected: str | None) -> IssuedToken:
        with unit_of_work(self.sessions) as session:
            row = self._locked_row(session, provider)
            now = self.clock()
            stored = self._stored(row)
            if (
                stored is not None
                and stored.access_token != rejected
                and stored.fresh(now, self.limits.margin)
            ):
                return stored  # another thread or replica refreshed it while we waited
            if row.window_started_at is None or now - _aware(row.window_started_at) >= self.limits.window:
                row.window_started_at, row.issued_in_window = now, 0
            if row.issued_in_window >= self.limits.per_window:
                wait = (_aware(row.window_started_at) + self.limits.window - now).total_seconds()
                raise TransientRemoteError(
                    f"{provider}: {row.issued_in_window} access tokens minted in this window, the provider's "
                    "limit; waiting for the window to pass",
                    retry_after=max(1.0, wait),
                )
            issued = refresh(self.cipher.decrypt(REFRESH_FIELD, row.refresh_token_enc))
            row.issued_in_window += 1
            row.access_token_enc = self.cipher.encrypt(ACCESS_FIELD, issued.access_token)
            row.api_domain, row.expires_at = issued.api_domain, issued.expires_at
            return issued

    def _locked_row(self, session: Session, provider: str) -> RemoteCredential:
        if session.get_bind().dialect.name == "sqlite":
            # A no-op write takes SQLite's database write lock for the rest of the transaction.
            session.execute(
                update(RemoteCredential)
                .where(RemoteCredential.provider == provider)
                .values(issued_in_window=RemoteCredential.issued_in_window)
            )
        row = session.scalars(
            select(RemoteCredential).where(RemoteCredential.provider == provider).with_for_update()
        ).first()
        if row is None:
            raise AuthenticationError(f"{provider}: no refresh token stored; authorize the connector first")
        return row

    def _stored(self, row: RemoteCredential) -> IssuedToken | None:
        if row.access_token_enc is None or row.expires_at is None:
            return None
        token = self.cipher.decrypt(ACCESS_FIELD, row.access_token_enc)
        return IssuedToken(token, row.api_domain, _aware(row.expires_at))


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
