"""Sandbox servers on free ports, a token-holding HTTP client, and a receiver for watch callbacks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from adapters.zoho.sandbox import ManualClock, SandboxConfig, SandboxServer

EPOCH = SandboxConfig().epoch.timestamp()


@dataclass
class Api:
    """An httpx client on one sandbox holding an access token, as the adapter will hold one."""

    server: SandboxServer
    http: httpx.Client
    token: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.token}", **(extra or {})}

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return self.http.get(f"/crm/v8{path}", params=params, headers=self.headers(headers))

    def send(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        return self.http.request(method, f"/crm/v8{path}", json=body, params=params, headers=self.headers())

    def refresh(self) -> httpx.Response:
        config = self.server.config
        return self.http.post(
            "/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": config.refresh_token,
                "client_id": config.client_id,
                "client_secret": config.client_secret,
            },
        )


_OPEN_CLIENTS: list[httpx.Client] = []


def connect(server: SandboxServer) -> Api:
    """A client with a fresh access token (closed by the `start` fixture's teardown)."""
    http = httpx.Client(base_url=server.base_url, timeout=10)
    _OPEN_CLIENTS.append(http)
    api = Api(server, http, "")
    answer = api.refresh()
    assert answer.status_code == 200, answer.text
    api.token = answer.json()["access_token"]
    return api


@pytest.fixture
def start() -> Iterator[Callable[..., SandboxServer]]:
    """`start(contacts=…, …)` runs a sandbox (ManualClock at the seed epoch unless a clock is given)."""
    running: list[SandboxServer] = []

    def run(**options: Any) -> SandboxServer:
        options.setdefault("clock", ManualClock(EPOCH + 3600))
        options.setdefault("contacts", 200)
        server = SandboxServer(SandboxConfig(**options)).start()
        running.append(server)
        return server

    yield run
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().close()
    for server in running:
        server.stop()


@pytest.fixture
def api(start: Callable[..., SandboxServer]) -> Api:
    """A client on a default small sandbox (200 contacts, 50 accounts)."""
    return connect(start())


@dataclass
class Receiver:
    """A local HTTP endpoint collecting the JSON bodies POSTed to it (a notify_url)."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    collected = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            collected.bodies.append(json.loads(self.rfile.read(length)))
            collected.arrived.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    collected.url = f"http://127.0.0.1:{server.server_address[1]}/zoho/notify?source=crm"
    yield collected
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
