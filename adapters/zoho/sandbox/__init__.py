"""A faithful local Zoho CRM (v8 API + accounts server) for the adapter's end-to-end tests.

`SandboxServer(SandboxConfig(seed=1, contacts=10_000))` serves it on 127.0.0.1 over real HTTP;
`build_app(config)` gives the bare ASGI app. The `Sandbox` object behind both (`server.sandbox`)
is the Python-side test helper: edit records as a CRM user would, read what the API wrote, flip faults.
"""

from __future__ import annotations

from adapters.zoho.sandbox.app import build_app
from adapters.zoho.sandbox.config import FaultConfig, SandboxConfig
from adapters.zoho.sandbox.server import SandboxServer
from adapters.zoho.sandbox.state import Sandbox
from adapters.zoho.sandbox.timeutil import ManualClock

__all__ = ["FaultConfig", "ManualClock", "Sandbox", "SandboxConfig", "SandboxServer", "build_app"]
