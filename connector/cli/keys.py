"""`connector keys status|rotate`: the encryption key ring for personal data."""

from __future__ import annotations

import typer

from connector.cli.context import out, state
from connector.db import unit_of_work
from connector.security.cipher import FieldCipher
from connector.security.keys import save_keyring
from connector.security.rotation import keys_in_use, reencrypt_all

keys_app = typer.Typer(help="Encryption keys for personal data at rest.", no_args_is_help=True)


@keys_app.command("status")
def status(ctx: typer.Context) -> None:
    """Key ids in the ring (never the keys), the active one, and how many encrypted values use each;
    exit 1 when values are sealed with a key the ring lacks."""
    container = state(ctx).container()
    ring = container.keyring
    with unit_of_work(container.sessions) as session:
        counts = keys_in_use(session)
    for kid in ring.keys:
        marker = " (active)" if kid == ring.active_id else ""
        out.print(f"{kid}{marker}: {counts.pop(kid, 0)} encrypted value(s)")
    for kid, count in counts.items():
        out.print(f"{kid} (NOT IN THE RING): {count} value(s) cannot be decrypted", style="bold red")
    if counts:
        raise typer.Exit(1)


@keys_app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Make a new key active and re-encrypt all personal data under it.

    With a local key file the new key is generated and saved (older keys stay for old backups).
    With keys from security.encryption_keys, add the new key to that ring and make it active
    first; this then re-encrypts everything under it.
    """
    container = state(ctx).container()
    security = container.settings.security
    ring = container.keyring
    target = ring if security.encryption_keys is not None else ring.rotated()
    with unit_of_work(container.sessions) as session:
        if target is not ring:
            # Saved before the commit: if the commit fails, the data stays readable by the older key.
            save_keyring(security.keys_file, target)
        changed = reencrypt_all(session, FieldCipher(target))
    out.print(f"active key {target.active_id}; re-encrypted {changed} field(s) that used older keys")
    if target is not ring:
        out.print("a running daemon seals with it from its next job (it reads the key file again)")
