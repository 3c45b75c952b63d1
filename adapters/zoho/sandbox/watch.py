"""Notification channels (`/actions/watch`) and their callbacks: a real HTTP POST to each notify_url.

Channels are keyed by (channel_id, module). A write through the API or a simulated CRM user's edit calls
`dispatch`, which queues Zoho's callback body; a worker thread posts it, so neither the event loop nor a
test thread waits on the receiver. `deliveries` records what was sent and how the receiver answered.
"""

from __future__ import annotations

import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from adapters.zoho.sandbox.render import encode
from adapters.zoho.sandbox.responses import JSON_TYPE
from adapters.zoho.sandbox.store import whole_number
from adapters.zoho.sandbox.timeutil import format_time, parse_time, zone

EVENTS = frozenset({"create", "edit", "delete", "all"})
OPERATION_EVENT = {"insert": "create", "update": "edit", "delete": "delete"}
MAX_EXPIRY_S = 7 * 86_400
DEFAULT_EXPIRY_S = 3_600
MAX_TOKEN_LENGTH = 50


@dataclass
class Channel:
    channel_id: str
    module: str
    events: set[str]
    notify_url: str
    token: str | None
    expires_at: int
    return_affected_field_values: bool = False
    notify_on_related_action: bool = False


@dataclass
class Delivery:
    """One callback as sent: target, body, and the receiver's HTTP status (or the transport error)."""

    url: str
    body: dict[str, Any]
    status: int | None = None
    error: str | None = None


@dataclass
class ChannelError(Exception):
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


class Notifier:
    """Posts queued callbacks from a daemon thread; `wait_idle` lets a test wait for them."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._timeout_s = timeout_s
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="zoho-sandbox-notifier", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def send(self, delivery: Delivery) -> None:
        with self._idle:
            self._pending += 1
        self.start()
        self._queue.put(delivery)

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def _run(self) -> None:
        while (delivery := self._queue.get()) is not None:
            self._post(delivery)
            with self._idle:
                self.deliveries.append(delivery)
                self._pending -= 1
                self._idle.notify_all()

    def _post(self, delivery: Delivery) -> None:
        """POST one callback. urllib, not httpx: httpx logs every request, and this runs in a
        background thread that may outlive whatever logging set-up the host process had."""
        request = urllib.request.Request(
            delivery.url, data=encode(delivery.body), headers={"Content-Type": JSON_TYPE}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as answer:
                delivery.status = answer.status
        except urllib.error.HTTPError as exc:
            delivery.status = exc.code
            exc.close()
        except (OSError, ValueError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"


def _channel_id(raw: Any, path: str) -> str:
    text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if whole_number(text) is None:
        raise ChannelError(
            "INVALID_DATA",
            "invalid data",
            {"expected_data_type": "long", "api_name": "channel_id", "json_path": path},
        )
    return text


def _expiry(raw: Any, now: int, path: str) -> int:
    """Requested expiry; omitted or beyond one week means one hour from now (Zoho's rule)."""
    if raw is None:
        return now + DEFAULT_EXPIRY_S
    seconds = parse_time(raw) if isinstance(raw, str) else None
    if seconds is None or seconds <= now:
        raise ChannelError("INVALID_DATA", "invalid data", {"api_name": "channel_expiry", "json_path": path})
    return seconds if seconds - now <= MAX_EXPIRY_S else now + DEFAULT_EXPIRY_S


class WatchRegistry:
    """The org's notification channels."""

    def __init__(self, modules: Mapping[str, int], offset_minutes: int, notifier: Notifier) -> None:
        self.modules = modules  # module api name → module id
        self.tz = zone(offset_minutes)
        self.notifier = notifier
        self.channels: dict[tuple[str, str], Channel] = {}
        self._lock = threading.Lock()

    def _events(self, raw: Any, path: str) -> dict[str, set[str]]:
        if not isinstance(raw, list) or not raw:
            raise ChannelError(
                "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "events", "json_path": path}
            )
        wanted: dict[str, set[str]] = {}
        for n, item in enumerate(raw):
            module, _, event = str(item).partition(".")
            if module not in self.modules or event not in EVENTS:
                details = {"api_name": "events", "json_path": f"{path}[{n}]"}
                raise ChannelError("INVALID_DATA", "invalid data", details)
            wanted.setdefault(module, set()).add(event)
        return wanted

    def subscribe(self, item: Mapping[str, Any], index: int, now: int, base_url: str) -> dict[str, Any]:
        """Create or replace the channel(s) one `watch[]` item describes; Zoho's per-item result."""
        path = f"$.watch[{index}]"
        try:
            for required in ("channel_id", "notify_url", "events"):
                if item.get(required) in (None, "", []):
                    raise ChannelError(
                        "MANDATORY_NOT_FOUND",
                        "required field not found",
                        {"api_name": required, "json_path": f"{path}.{required}"},
                    )
            channel_id = _channel_id(item["channel_id"], f"{path}.channel_id")
            url = str(item["notify_url"])
            if urlsplit(url).scheme not in {"http", "https"}:
                raise ChannelError(
                    "INVALID_DATA",
                    "invalid data",
                    {"api_name": "notify_url", "json_path": f"{path}.notify_url"},
                )
            token = item.get("token")
            if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH):
                details = {
                    "maximum_length": MAX_TOKEN_LENGTH,
                    "api_name": "token",
                    "json_path": f"{path}.token",
                }
                raise ChannelError("INVALID_DATA", "invalid data", details)
            expires = _expiry(item.get("channel_expiry"), now, f"{path}.channel_expiry")
            wanted = self._events(item["events"], f"{path}.events")
        except ChannelError as exc:
            return exc.body()
        created = []
        with self._lock:
            for module, events in wanted.items():
                self.channels[(channel_id, module)] = Channel(
                    channel_id,
                    module,
                    events,
                    url,
                    token,
                    expires,
                    bool(item.get("return_affected_field_values", False)),
                    bool(item.get("notify_on_related_action", False)),
                )
                created.append(self._event_details(channel_id, module, expires, base_url))
        return {
            "code": "SUCCESS",
            "details": {"events": created},
            "message": "Successfully subscribed for actions-watch of the given module",
            "status": "success",
        }

    def _event_details(self, channel_id: str, module: str, expires: int, base_url: str) -> dict[str, Any]:
        return {
            "channel_expiry": format_time(expires, self.tz),
            "resource_uri": f"{base_url}/crm/v8/{module}",
            "resource_id": str(self.modules[module]),
            "resource_name": module,
            "channel_id": channel_id,
        }

    def change_events(self, item: Mapping[str, Any], index: int, base_url: str) -> dict[str, Any]:
        """PATCH: add events to a channel, or remove them with `_delete_events: true`."""
        path = f"$.watch[{index}]"
        try:
            channel_id = _channel_id(item.get("channel_id"), f"{path}.channel_id")
            wanted = self._events(item.get("events"), f"{path}.events")
        except ChannelError as exc:
            return exc.body()
        remove = bool(item.get("_delete_events", False))
        changed = []
        with self._lock:
            for module, events in wanted.items():
                channel = self.channels.get((channel_id, module))
                if channel is None:
                    details = {"api_name": "channel_id", "json_path": f"{path}.channel_id"}
                    return ChannelError("INVALID_DATA", "invalid data", details).body()
                channel.events = channel.events - events if remove else channel.events | events
                if not channel.events:
                    del self.channels[(channel_id, module)]
                changed.append(self._event_details(channel_id, module, channel.expires_at, base_url))
        return {
            "code": "SUCCESS",
            "details": {"events": changed},
            "message": "Successfully updated the notify events",
            "status": "success",
        }

    def unsubscribe(self, channel_ids: list[str], base_url: str) -> list[dict[str, Any]]:
        results = []
        with self._lock:
            for channel_id in channel_ids:
                found = [key for key in self.channels if key[0] == channel_id]
                if not found:
                    details = {"channel_id": channel_id}
                    results.append(ChannelError("INVALID_DATA", "invalid data", details).body())
                for key in found:
                    del self.channels[key]
                    results.append(
                        {
                            "code": "SUCCESS",
                            "details": {
                                "resource_uri": f"{base_url}/crm/v8/{key[1]}",
                                "resource_id": str(self.modules[key[1]]),
                                "channel_id": channel_id,
                            },
                            "message": "Successfully un-subscribed from actions-watch",
                            "status": "success",
                        }
                    )
        return results

    def listing(self, now: int, base_url: str) -> list[dict[str, Any]]:
        with self._lock:
            live = [c for c in self.channels.values() if c.expires_at > now]
        return [
            {
                "notify_on_related_action": c.notify_on_related_action,
                "channel_expiry": format_time(c.expires_at, self.tz),
                "return_affected_field_values": c.return_affected_field_values,
                "resource_uri": f"{base_url}/crm/v8/{c.module}",
                "resource_id": str(self.modules[c.module]),
                "notify_url": c.notify_url,
                "resource_name": c.module,
                "fields": None,
                "notification_condition": None,
                "channel_id": c.channel_id,
                "events": sorted(f"{c.module}.{e}" for e in c.events),
                "token": c.token,
            }
            for c in live
        ]

    def dispatch(
        self,
        module: str,
        operation: str,
        changes: Mapping[str, Mapping[str, Any]],
        now_ms: int,
        base_url: str,
    ) -> int:
        """Queue callbacks for a write of `changes` (record id → changed values); returns how many."""
        if not changes:
            return 0
        event = OPERATION_EVENT[operation]
        with self._lock:
            targets = [
                c
                for c in self.channels.values()
                if c.module == module and c.expires_at * 1000 > now_ms and ({event, "all"} & c.events)
            ]
        for channel in targets:
            body: dict[str, Any] = {
                "server_time": now_ms,
                "query_params": dict(parse_qsl(urlsplit(channel.notify_url).query)),
                "module": module,
                "resource_uri": f"{base_url}/crm/v8/{module}",
                "ids": list(changes),
                "affected_fields": (
                    [{record_id: sorted(values)} for record_id, values in changes.items()]
                    if operation == "update"
                    else []
                ),
                "operation": operation,
                "channel_id": channel.channel_id,
                "token": channel.token,
            }
            if channel.return_affected_field_values and operation == "update":
                body["affected_values"] = [
                    {"record_id": record_id, "values": dict(values)} for record_id, values in changes.items()
                ]
            self.notifier.send(Delivery(channel.notify_url, body))
        return len(targets)
