"""`connector keys status|rotate`: the encryption key ring for personal data."""

from __future__ import annotations

from typing import Annotated

import typer

from connector.bootstrap import Container
from connector.cli.context import out, state
from connector.db import unit_of_work
from connector.security.cipher import FieldCipher
from connector.security.key_checks import check_data_keys
from connector.security.keys import backup_reminder, ring_origin, save_keyring
from connector.security.rotation import (
    keys_in_use,
    older_keys_left,
    reencrypt_all,
    rotation_done,
    rotation_starts,
    rotation_under_way,
)
from connector.sync.leases import KEY_ROTATION, lease

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
def rotate(
    ctx: typer.Context,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Make another key even if a rotation was left part-way.")
    ] = False,
) -> None:
    """Make a new key active and re-encrypt all personal data under it.

    With a local key file the new key is generated and saved (older keys stay for old backups); a
    rotation stopped part-way is taken up with the key it made. With keys from
    security.encryption_keys, add the new key to that ring and make it active first; this then
    re-encrypts everything under it. Values no key opens are listed (exit 1); values another process
    sealed with an older key meanwhile are counted per column (exit 3: `keys rotate` again takes up the
    same key once that process reads the new one). Two rotations run one after the other: the second
    keeps the key the first made.
    """
    container = state(ctx).container()
    with lease(container.sessions, KEY_ROTATION):
        # Read again once it is this process's turn: a rotation that ran meanwhile saved its key there.
        container.refresh_keys()
        _rotate(container, new_key)


def _rotate(container: Container, new_key: bool) -> None:
    security = container.settings.security
    ring = container.keyring
    local = security.encryption_keys is None
    with unit_of_work(container.sessions) as session:
        resuming = local and not new_key and rotation_under_way(session) == ring.active_id
    target = ring.rotated() if local and not resuming else ring
    if resuming:
        out.print(f"taking up the rotation to {ring.active_id}, stopped part-way")
    if target is not ring:
        # Saved first: the values re-sealed batch by batch are read by it, the others by the older keys
        # it keeps; a rotation stopped part-way is taken up by the next `keys rotate`.
        save_keyring(security.keys_file, target)
        with unit_of_work(container.sessions) as session:
            check_data_keys(session, target, ring_origin(security))  # its check value, before it seals
            rotation_starts(session, target.active_id)
    done = reencrypt_all(container.sessions, FieldCipher(target))
    with unit_of_work(container.sessions) as session:
        # Written meanwhile by a process still sealing with an older key (it reads the key file again
        # at its next job or file): left for the next `keys rotate`, which takes up this key.
        left = older_keys_left(session, target.active_id, done.unreadable_by_column())
        if not left:
            rotation_done(session)  # what it could not read stays listed below; the next rotate makes a key
    out.print(f"active key {target.active_id}; re-encrypted {done.changed} field(s) that used older keys")
    if local or done.changed or left:
        out.print(backup_reminder(security, target.active_id), style="bold yellow", markup=False)
    else:  # the ring is the admin's to change: nothing made, nothing to keep anew
        out.print(
            f"no new key: the ring comes from security.encryption_keys, whose active key {target.active_id} "
            "seals every value already; to rotate, add a new key to that ring, make it active, and run "
            "`connector keys rotate` again",
            style="bold yellow",
            markup=False,
        )
    if done.moved_on and not left:
        out.print(f"{done.moved_on} field(s) changed meanwhile (by the daemon) were left as written")
    if target is not ring:
        out.print("a running daemon seals with it from its next job (it reads the key file again)")
    if left:
        out.print(
            f"{sum(left.values())} value(s) are still sealed with an older key, written meanwhile by a "
            f"process that still used it: {', '.join(f'{n} in {where}' for where, n in left.items())}; run "
            "`connector keys rotate` again once the running processes (the daemon, `inbox --watch`, an "
            "import) picked up the new key: "
            + ("their next job or file does" if local else "restart them with the new ring first"),
            style="bold yellow",
        )
    if done.unreadable:
        out.print(
            f"{len(done.unreadable)} value(s) no key of the ring opens, left as they are:", style="bold red"
        )
        for where in done.unreadable[:50]:
            out.print(f"  {where}")
        raise typer.Exit(1)
    if left:
        raise typer.Exit(3)
