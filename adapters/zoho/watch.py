"""Zoho's Notification API (`/actions/watch`) as the connector's `ChannelApi`.

POST creates channels, PUT updates one (a new expiry renews it), GET lists them, DELETE
`?channel_ids=` removes them. Each channel's answer is in `watch[]`; the expiry Zoho granted is read
back, since Zoho quietly grants one hour for a request it finds too long. Tokens go out in request
bodies only: they are never part of an error message, and listings are read without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.zoho.client import ZohoApi, ZohoResponse
from connector.errors import AuthenticationError, PermanentRemoteError
from connector.sync.channels import ChannelRequest, RemoteChannel

PATH = "/actions/watch"
LISTING_PAGE = 200  # the most channels Zoho lists on one page


def zoho_time(moment: datetime) -> str:
    """Zoho's datetime text: ISO 8601 to the second, with an offset."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _item(request: ChannelRequest) -> dict[str, Any]:
    return {
        "channel_id": request.channel_id,
        "events": list(request.events),
        "notify_url": request.notify_url,
        "token": request.token,
        "channel_expiry": zoho_time(request.expires_at),
        "return_affected_field_values": False,
        "notify_on_related_action": False,
    }


def _granted(response: ZohoResponse, request: ChannelRequest, what: str) -> datetime:
    """The expiry Zoho granted the channel, or the error its `watch[0]` answer stands for."""
    answers = (response.body or {}).get("watch")
    answer = answers[0] if isinstance(answers, list) and answers and isinstance(answers[0], dict) else {}
    raw_details = answer.get("details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    if answer.get("status") != "success":
        named = f" ({details.get('api_name')})" if details.get("api_name") else ""
        raise PermanentRemoteError(
            f"{what}: {answer.get('code', 'no answer')}{named}: {answer.get('message', '')}".rstrip(),
            status=response.status,
            code=answer.get("code") if isinstance(answer.get("code"), str) else None,
        )
    events = details.get("events")
    expiries = [
        moment
        for event in (events if isinstance(events, list) else [])
        if isinstance(event, dict) and (moment := _instant(event.get("channel_expiry"))) is not None
    ]
    return min(expiries) if expiries else request.expires_at


class ZohoChannels:
    """Notification channels of one Zoho CRM org."""

    def __init__(self, api: ZohoApi) -> None:
        self.api = api

    def _send(self, method: str, request: ChannelRequest, what: str) -> datetime:
        response = self.api.call(method, PATH, body={"watch": [_item(request)]}, what=what)
        return _granted(response, request, what)

    def subscribe(self, request: ChannelRequest) -> datetime:
        return self._send(
            "POST", request, f"zoho: watch {','.join(request.events)} (channel {request.channel_id})"
        )

    def renew(self, request: ChannelRequest) -> datetime:
        what = f"zoho: renew channel {request.channel_id}"
        try:
            return self._send("PUT", request, what)
        except PermanentRemoteError as exc:
            if isinstance(exc, AuthenticationError) or exc.status not in (400, 404):
                raise
        # Zoho no longer knows the channel (it lapsed): subscribe it again under the same id and token.
        return self._send("POST", request, f"{what} (subscribing it again)")

    def listing(self) -> list[RemoteChannel]:
        """Every channel of the org: Zoho lists them a page at a time."""
        found: list[RemoteChannel] = []
        page = 1
        while True:
            response = self.api.call(
                "GET",
                PATH,
                params={"page": str(page), "per_page": str(LISTING_PAGE)},
                what=f"zoho: list notification channels (page {page})",
            )
            items = (response.body or {}).get("watch")
            if not isinstance(items, list) or not items:  # 204, no body: past the last channel
                return found
            for item in items:
                if not isinstance(item, dict) or item.get("channel_id") is None:
                    continue
                events = item.get("events")
                found.append(
                    RemoteChannel(
                        str(item["channel_id"]),
                        tuple(str(e) for e in events) if isinstance(events, list) else (),
                        str(item.get("notify_url") or ""),
                        _instant(item.get("channel_expiry")),
                    )
                )
            if not response.info.get("more_records"):
                return found
            page += 1

    def unsubscribe(self, channel_ids: Sequence[str]) -> None:
        if channel_ids:
            self.api.call(
                "DELETE",
                PATH,
                params={"channel_ids": ",".join(channel_ids)},
                what=f"zoho: stop channel(s) {', '.join(channel_ids)}",
            )
