"""The `connector` command line: a thin layer over the services wired in `connector.bootstrap`."""

from __future__ import annotations

from connector.cli.app import app, main

__all__ = ["app", "main"]
