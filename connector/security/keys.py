"""The key ring: AES-256 data keys by id (one active), plus the separate key for blind indexes.

The blind-index key never rotates with the data keys: rotating it would break every look-up.
A local key file is JSON, written with mode 0600:
    {"active": "k20261123a1b2", "keys": {"k20261123a1b2": "<base64 32 bytes>"}, "index_key": "<base64>"}
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connector.errors import KeyStoreError
from connector.settings import SecuritySettings

log = logging.getLogger(__name__)
KEY_BYTES = 32
# A key id a message may quote: the ids new_key_id makes and names written by hand, never a key written
# in an id's place (a base64 key is 44 characters): a key ring's error is printed in clear.
_QUOTABLE_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _decode_key(value: object, what: str, origin: str) -> bytes:
    try:
        raw = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise KeyStoreError(f"{origin}: {what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyStoreError(f"{origin}: {what} must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def entry_name(kid: str, position: int) -> str:
    """A key of the ring as a message names it: by its id when that is one, else by its place."""
    return f"key {kid!r}" if _QUOTABLE_ID.fullmatch(kid) else f"the key of entry {position} of keys"


def new_key_id() -> str:
    return f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(3)}"


@dataclass(frozen=True)
class KeyRing:
    active_id: str
    keys: Mapping[str, bytes] = field(repr=False)
    index_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            if _QUOTABLE_ID.fullmatch(self.active_id):
                raise KeyStoreError(f"active key id {self.active_id!r} is not in the key ring")
            raise KeyStoreError("active names no key of the key ring")
        for position, kid in enumerate(self.keys, 1):
            if ":" in kid or not kid:
                raise KeyStoreError(f"the id of entry {position} of keys is empty or contains ':'")

    @classmethod
    def generate(cls) -> KeyRing:
        kid = new_key_id()
        return cls(kid, {kid: secrets.token_bytes(KEY_BYTES)}, secrets.token_bytes(KEY_BYTES))

    def rotated(self) -> KeyRing:
        """A ring with a fresh active key; older keys stay so existing ciphertexts still decrypt."""
        kid = new_key_id()
        while kid in self.keys:
            kid = new_key_id()
        return KeyRing(kid, {**self.keys, kid: secrets.token_bytes(KEY_BYTES)}, self.index_key)

    @classmethod
    def from_json(cls, text: str, origin: str) -> KeyRing:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyStoreError(f"{origin}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), dict) or not data["keys"]:
            raise KeyStoreError(
                f"{origin}: expected {{'active': id, 'keys': {{id: base64}}, 'index_key': base64}}"
            )
        keys = {
            str(kid): _decode_key(value, entry_name(kid, position), origin)
            for position, (kid, value) in enumerate(data["keys"].items(), 1)
        }
        if "index_key" not in data:
            raise KeyStoreError(f"{origin}: 'index_key' is missing")
        if not isinstance(data.get("active"), str):
            raise KeyStoreError(f"{origin}: 'active' (the id of the key that encrypts) is missing")
        return cls(data["active"], keys, _decode_key(data["index_key"], "index_key", origin))

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active_id,
                "keys": {kid: base64.b64encode(key).decode() for kid, key in self.keys.items()},
                "index_key": base64.b64encode(self.index_key).decode(),
            },
            indent=2,
        )


def save_keyring(path: Path, ring: KeyRing) -> None:
    """Write the key file atomically with mode 0600 (never readable by group or others)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    _write_new(temporary, ring)
    os.replace(temporary, path)


def _create_keyring_file(path: Path, ring: KeyRing) -> KeyRing:
    """Save `ring` as the key file unless one exists by now, whole and at once: the ring the file holds.
    Two processes starting together on a new database both find no key file; the second must read the
    first's key, not replace it (what the first sealed would be unreadable)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    _write_new(temporary, ring)
    try:
        os.link(temporary, path)  # fails when the file exists, unlike a rename
    except FileExistsError:
        return _read_once_whole(path)
    except OSError:  # a file system without hard links (vfat, some network shares): made in place
        try:
            _write_new(path, ring)
        except FileExistsError:
            return _read_once_whole(path)
    finally:
        temporary.unlink()
    return ring


def _write_new(path: Path, ring: KeyRing) -> None:
    """`ring` written and synced to `path`, a new file of mode 0600 (`FileExistsError` if it exists)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(ring.to_json())
        handle.flush()
        os.fsync(handle.fileno())


def _read_once_whole(path: Path, attempts: int = 20) -> KeyRing:
    """The key file another process created: made in place (no hard links), it may be being written."""
    for _ in range(attempts - 1):
        try:
            return read_keyring_file(path)
        except KeyStoreError:
            time.sleep(0.1)
    return read_keyring_file(path)


def read_keyring_file(path: Path) -> KeyRing:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyStoreError(f"{path}: mode {mode:o} lets others read the keys; run `chmod 600 {path}`")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise KeyStoreError(
            f"{path}: not UTF-8 text (a key file the connector wrote is JSON in UTF-8)"
        ) from None
    return KeyRing.from_json(text, str(path))


def ring_origin(security: SecuritySettings) -> str:
    """Where the configured key ring is read from, as a message names it."""
    if security.encryption_keys is not None:
        return "security.encryption_keys"
    return str(security.keys_file.resolve())


def load_keyring(security: SecuritySettings) -> KeyRing | None:
    """The configured key ring, or None when neither keys nor a key file exist yet."""
    if security.encryption_keys is not None:
        return KeyRing.from_json(security.encryption_keys.get_secret_value(), "security.encryption_keys")
    if security.keys_file.exists():
        return read_keyring_file(security.keys_file)
    return None


BACK_IT_UP = "Back it up: personal data cannot be read without it."


def backup_reminder(security: SecuritySettings, key_id: str) -> str:
    """What to keep after `key_id` became the key the data is sealed with: backups of the ring made
    before hold no key for what it sealed."""
    if security.encryption_keys is not None:
        return (
            f"the data is sealed with key {key_id} now, which only the ring in security.encryption_keys "
            "holds: update that stored secret everywhere it is kept (every machine, every secret store "
            "and its backups); personal data cannot be read without it."
        )
    return (
        f"the key file {security.keys_file.resolve()} holds the new key {key_id}, which earlier backups of "
        f"it lack. {BACK_IT_UP}"
    )


def load_or_create_keyring(
    security: SecuritySettings, holds_encrypted: Callable[[], bool] = lambda: False
) -> KeyRing:
    """The configured key ring; with none configured, create the local key file (and say so, once).

    Never when `holds_encrypted()`: the database has data sealed with a key. That key file was moved,
    lost, or is not where this process looks (`keys_file` is relative to the working directory); a new
    key would leave the data unreadable and every e-mail and phone look-up missing (duplicate customers)."""
    found = load_keyring(security)
    if found is not None:
        return found
    path = security.keys_file
    if holds_encrypted():
        raise KeyStoreError(
            f"{path.resolve()}: no key file, but the database holds data encrypted with one: restore it "
            "(from its backup, or run where it is), or give the keys with security.encryption_keys"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    made = KeyRing.generate()
    ring = _create_keyring_file(path, made)
    if ring is made:
        log.warning(
            "no encryption key was configured: created the local key file %s (mode 0600). %s",
            path,
            BACK_IT_UP,
        )
    return ring
