"""Files and folders that hold personal data in clear or the keys to it: this user's alone."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def make_private(path: Path, mode: int = 0o600) -> None:
    """Set `path`'s mode, whatever the umask let through when it was made."""
    with contextlib.suppress(OSError):  # a mount that keeps no modes: left as it is
        path.chmod(mode)


def create_private_file(path: Path) -> None:
    """Make an empty `path` with mode 0600 when there is none (one that exists, an admin's choice of
    mode included, is left as it is)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
    make_private(path)
