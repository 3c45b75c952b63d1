"""CRM notification channels: subscribe the daemon's callback URL per module, renew before expiry, stop.

Zoho's Notification API calls `zoho.callback_url` (this daemon's `/zoho/notify`) with the ids of the
records that changed. One channel per watched module (`<Module>.all`), each with its own random token
(≤ 50 characters, stored encrypted) that Zoho echoes in every callback, and an expiry of one week, the
longest Zoho grants: `renew_channels` (scheduled, and `connector zoho watch --renew`) renews those
that expire within a margin. Notifications only speed things up: polling (`zoho pull`) stays the
safety net for anything a lost callback or a lapsed channel misses.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import retry
from connector.db import aware, unit_of_work
from connector.errors import BudgetExhaustedError, ConfigError, RemoteError, StoppingError
from connector.sync.notification_models import NotificationChannel

if TYPE_CHECKING:
    from connector.bootstrap import Container

log = logging.getLogger(__name__)

BACKEND = "zoho"
NOTIFY_PATH = "/zoho/notify"
TOKEN_FIELD = "notification_channel.token"  # the ciphertext's associated data
LONGEST_EXPIRY = timedelta(days=7)  # Zoho's maximum; a longer request silently gets one hour
CLOCK_SLACK = timedelta(minutes=5)  # asked for a little less, so clock skew never exceeds the maximum
DEFAULT_RENEW_MARGIN = timedelta(days=1)
TOKEN_BYTES = 36  # token_urlsafe(36) is 48 characters; Zoho takes at most 50

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


# --- the port ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelRequest:
    """A channel as subscribed or renewed: the token is the secret the CRM echoes back."""

    channel_id: str
    events: tuple[str, ...]
    notify_url: str
    token: str = field(repr=False)  # never in a repr, a log line or an error
    expires_at: datetime


@dataclass(frozen=True)
class RemoteChannel:
    """A channel as the CRM lists it (without its token)."""

    channel_id: str
    events: tuple[str, ...]
    notify_url: str
    expires_at: datetime | None


class ChannelApi(Protocol):
    """A CRM's notification subscriptions."""

    def subscribe(self, request: ChannelRequest) -> datetime:
        """Create the channel; returns the expiry the CRM granted."""
        ...

    def renew(self, request: ChannelRequest) -> datetime:
        """Update the channel with a new expiry (re-creating it if the CRM forgot it)."""
        ...

    def listing(self) -> list[RemoteChannel]: ...

    def unsubscribe(self, channel_ids: Sequence[str]) -> None: ...


def zoho_channels(container: Container) -> ChannelApi:
    """The Zoho org's notification channels, wired with the rest of the connection."""
    return container.zoho.channels


# --- channels ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelView:
    channel_id: str
    module: str
    events: tuple[str, ...]
    notify_url: str
    expires_at: datetime
    renewed_at: datetime | None = None
    error: str | None = None  # why renewing it failed, when it did


def _view(row: NotificationChannel, error: str | None = None) -> ChannelView:
    return ChannelView(
        row.channel_id,
        row.module,
        tuple(e for e in row.events.split(",") if e),
        row.notify_url,
        aware(row.expires_at),
        aware(row.renewed_at),
        error,
    )


def callback_url(container: Container) -> str:
    url = container.settings.zoho.callback_url
    if not url:
        raise ConfigError(
            "zoho.callback_url is not set",
            [
                f"set it to this daemon's public URL ending in {NOTIFY_PATH}, e.g. https://connector.example.com{NOTIFY_PATH}"
            ],
        )
    if not urlsplit(url).path.endswith(NOTIFY_PATH):
        raise ConfigError(
            f"zoho.callback_url must end in {NOTIFY_PATH} (the daemon's notification endpoint)",
            [f"e.g. https://connector.example.com{NOTIFY_PATH}"],
        )
    return url


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_channel_id() -> str:
    """Zoho channel ids are numbers (longs): 18 random digits."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def expiry_from(now: datetime) -> datetime:
    return (now + LONGEST_EXPIRY - CLOCK_SLACK).replace(microsecond=0)


def _rows(session: Session) -> list[NotificationChannel]:
    return list(
        session.scalars(
            select(NotificationChannel)
            .where(NotificationChannel.backend == BACKEND)
            .order_by(NotificationChannel.module)
        )
    )


def list_channels(container: Container) -> list[ChannelView]:
    with unit_of_work(container.sessions) as session:
        return [_view(row) for row in _rows(session)]


def _request(container: Container, row: NotificationChannel, url: str, expires: datetime) -> ChannelRequest:
    token = container.cipher.decrypt(TOKEN_FIELD, row.token_enc)
    return ChannelRequest(row.channel_id, tuple(row.events.split(",")), url, token, expires)


def watch_modules(
    container: Container,
    modules: Sequence[str],
    *,
    channels: ChannelApi | None = None,
    clock: Clock = _now,
) -> list[ChannelView]:
    """A channel per module for `<Module>.all`: new ones subscribed, existing ones renewed for a week.

    Told to stop (`retry.STOPPING`), it stops between two modules: a module's channel subscribed is
    recorded first (a signal only sets the flag), so Zoho never holds a channel of ours we do not know.
    The modules left are those without a view in the answer."""
    url = callback_url(container)
    api = channels or zoho_channels(container)
    views = []
    for module in modules:
        if retry.STOPPING.is_set():
            break
        with unit_of_work(container.sessions) as session:
            row = session.scalars(
                select(NotificationChannel).where(
                    NotificationChannel.backend == BACKEND, NotificationChannel.module == module
                )
            ).first()
            renewing = row is not None
            request = (
                _request(container, row, url, expiry_from(clock()))
                if row is not None
                else ChannelRequest(
                    new_channel_id(), (f"{module}.all",), url, new_token(), expiry_from(clock())
                )
            )
        try:
            granted = api.renew(request) if renewing else api.subscribe(request)
        except StoppingError:  # told to stop while the call waited to be retried: the module is left
            break
        with unit_of_work(container.sessions) as session:
            row = session.get(NotificationChannel, request.channel_id)
            if row is None:
                row = NotificationChannel(
                    channel_id=request.channel_id,
                    backend=BACKEND,
                    module=module,
                    events=",".join(request.events),
                    token_enc=container.cipher.encrypt(TOKEN_FIELD, request.token),
                )
                session.add(row)
            else:
                row.renewed_at = clock()
            row.notify_url = url
            row.expires_at = granted.astimezone(UTC)
            session.flush()
            views.append(_view(row))
        log.info(
            "zoho notifications: channel %s watches %s.all until %s", request.channel_id, module, granted
        )
    return views


def renew_channels(
    container: Container,
    margin: timedelta = DEFAULT_RENEW_MARGIN,
    *,
    channels: ChannelApi | None = None,
    clock: Clock = _now,
) -> list[ChannelView]:
    """Renew every channel that expires within `margin` from now for another week; the others stay.

    A channel that cannot be renewed keeps its row (with the error in the answer) and is tried again
    next time; a spent API budget stops the round.
    """
    now = clock()
    with unit_of_work(container.sessions) as session:
        due = [row.channel_id for row in _rows(session) if aware(row.expires_at) <= now + margin]
    if not due:
        return []
    api = channels or zoho_channels(container)
    configured = container.settings.zoho.callback_url
    renewed = []
    for channel_id in due:
        with unit_of_work(container.sessions) as session:
            row = session.get_one(NotificationChannel, channel_id)
            request = _request(container, row, configured or row.notify_url, expiry_from(clock()))
        try:
            granted = api.renew(request)
        except BudgetExhaustedError:
            raise
        except RemoteError as exc:
            log.warning("zoho notifications: renewing channel %s failed: %s", channel_id, exc)
            renewed.append(_view(row, str(exc)))
            continue
        with unit_of_work(container.sessions) as session:
            row = session.get_one(NotificationChannel, channel_id)
            row.expires_at, row.renewed_at = granted.astimezone(UTC), clock()
            row.notify_url = request.notify_url
            session.flush()
            renewed.append(_view(row))
        log.info("zoho notifications: channel %s renewed until %s", channel_id, granted)
    return renewed


def stop_channels(container: Container, *, channels: ChannelApi | None = None) -> list[str]:
    """Unsubscribe this connector's channels (also any at the CRM still calling our URL); returns ids."""
    api = channels or zoho_channels(container)
    with unit_of_work(container.sessions) as session:
        ours = {row.channel_id for row in _rows(session)}
    url = container.settings.zoho.callback_url
    remote = api.listing()
    stale = {c.channel_id for c in remote if c.channel_id in ours or (url and c.notify_url == url)}
    if stale:
        api.unsubscribe(sorted(stale))
    with unit_of_work(container.sessions) as session:
        for row in _rows(session):
            session.delete(row)
    stopped = sorted(ours | stale)
    log.info("zoho notifications: stopped channel(s) %s", ", ".join(stopped) or "none")
    return stopped
