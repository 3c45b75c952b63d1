"""Serve a sandbox with uvicorn on 127.0.0.1 in a background thread: for tests, and for the CLI.

with SandboxServer(SandboxConfig(seed=1, contacts=10_000)) as server:
    server.base_url        # http://127.0.0.1:<free port>, also the accounts server
    server.sandbox         # records, tokens, faults, test helpers
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from adapters.zoho.sandbox.app import build_app
from adapters.zoho.sandbox.config import SandboxConfig
from adapters.zoho.sandbox.state import Sandbox

STARTUP_TIMEOUT_S = 15.0


class SandboxServer:
    """A running sandbox; a context manager that starts on enter and stops cleanly on exit."""

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.app = build_app(self.config)
        self.sandbox: Sandbox = self.app.state.sandbox
        self.host = host
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
        # and without it small answers wait ~40 ms for the client's delayed ACK (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://{host}:{self.port}"
        self.sandbox.base_url = self.base_url
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                http="h11",
                ws="none",
                loop="asyncio",
                timeout_keep_alive=30,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def accounts_url(self) -> str:
        """The accounts server (token endpoint) lives on the same origin as the API."""
        return self.base_url

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/v2/token"

    def start(self) -> SandboxServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="zoho-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Zoho sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None
        self.sandbox.close()
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
