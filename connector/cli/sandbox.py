"""`connector sandbox zoho`: the bundled Zoho CRM sandbox on loopback, for demos, trials and tests."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from adapters.zoho.sandbox.config import SandboxConfig
from adapters.zoho.sandbox.server import SandboxServer
from connector.cli.context import err, out

sandbox_app = typer.Typer(help="Local sandboxes of the CRMs the connector talks to.", no_args_is_help=True)


@sandbox_app.command("zoho")
def zoho(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    seed: Annotated[int, typer.Option(help="The same seed gives the same records and ids.")] = 1,
    contacts: Annotated[int, typer.Option(min=0, help="Contacts to generate (accounts: a quarter).")] = 1_000,
) -> None:
    """Serve a Zoho CRM org (accounts server and CRM API) until interrupted."""
    config = SandboxConfig(seed=seed, contacts=contacts)
    try:
        server = SandboxServer(config, port=port)
    except OSError as exc:  # the port is taken, or not this host's to listen on
        err.print(f"error: the sandbox cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")
        raise typer.Exit(1) from None
    with server:
        code = server.sandbox.grant_code()
        out.print(
            f"Zoho CRM sandbox at {server.base_url} — {contacts} contacts, "
            f"{config.account_count()} accounts (seed {seed})\n"
            "Settings to use it:\n"
            "  [zoho]\n  enabled = true\n"
            f'  accounts_url = "{server.accounts_url}"\n'
            f'  client_id = "{config.client_id}"\n'
            f'  client_secret = "{config.client_secret}"\n'
            f"Then, within 3 minutes: connector zoho authorize --code {code}\n"
            "Stop with Ctrl+C."
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return
