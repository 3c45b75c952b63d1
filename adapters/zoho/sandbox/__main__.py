"""Run a sandbox from the command line: `python -m adapters.zoho.sandbox --contacts 10000 --port 8765`."""

from __future__ import annotations

import argparse
import sys
import time

from adapters.zoho.sandbox.config import SandboxConfig
from adapters.zoho.sandbox.server import SandboxServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.zoho.sandbox", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--contacts", type=int, default=1_000)
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument(
        "--edition",
        default="enterprise",
        choices=["free", "standard", "professional", "enterprise", "ultimate"],
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    config = SandboxConfig(
        seed=args.seed, contacts=args.contacts, accounts=args.accounts, edition=args.edition
    )
    with SandboxServer(config, host=args.host, port=args.port) as server:
        sys.stdout.write(
            f"Zoho CRM sandbox at {server.base_url} (accounts server: {server.token_url})\n"
            f"client_id={config.client_id}\nclient_secret={config.client_secret}\n"
            f"refresh_token={config.refresh_token}\n"
        )
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
