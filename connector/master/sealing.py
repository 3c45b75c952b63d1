"""`FieldCipher.encrypt` and `FieldCipher.blind_index` for many values at once: the same ciphertext
format and the same indexes, at about half the cost per value.

* Blind indexes: HMAC-SHA256 with the key's inner and outer pads hashed once (RFC 2104), so a value
  costs two SHA-256 copies instead of a new HMAC and its key schedule.
* Encryption: the nonces of a batch drawn from the OS in one call; each value still gets its own random
  96-bit nonce, and the token is `FieldCipher`'s `KEYID:BASE64URL(nonce || ciphertext+tag)`.

Both check themselves on a probe against the `FieldCipher` they stand in for when made, and use it
instead when they disagree, so that a change to its format or its index normalisation makes them slow
rather than wrong. (They belong in `FieldCipher` itself, as `encrypt_many` and a faster `blind_index`.)
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connector.errors import DecryptionError
from connector.security.cipher import NONCE_BYTES, FieldCipher, key_id_of, normalise_for_index

_BLOCK = 64  # SHA-256 block size: HMAC pads the key to it


class BlindIndexer:
    """`cipher.blind_index(kind, value)` with the key's pads hashed once."""

    def __init__(self, cipher: FieldCipher) -> None:
        self.cipher = cipher
        key = cipher.ring.index_key
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
        probes = (("email", "Probe@Example.com "), ("phone", "+86 138 0013 8000"), ("name", "明远"))
        self.exact = all(
            self._index(kind, value) == cipher.blind_index(kind, value) for kind, value in probes
        )

    def __call__(self, kind: str, value: str) -> str:
        return self._index(kind, value) if self.exact else self.cipher.blind_index(kind, value)

    def _index(self, kind: str, value: str) -> str:
        inner = self._inner.copy()
        inner.update(f"{kind}\x00{normalise_for_index(kind, value)}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]


class BatchEncrypter:
    """`cipher.encrypt(field, plaintext)` for a sequence of (field, plaintext), with the active key."""

    def __init__(self, cipher: FieldCipher) -> None:
        self.cipher = cipher
        self.key_id = cipher.ring.active_id
        self._aead = AESGCM(cipher.ring.keys[self.key_id])
        self.exact = True
        probe = "明远 probe"
        ours, theirs = self.encrypt([("probe", probe)])[0], cipher.encrypt("probe", probe)
        try:
            same_shape = (len(ours), key_id_of(ours)) == (len(theirs), key_id_of(theirs))
            self.exact = same_shape and cipher.decrypt("probe", ours) == probe
        except DecryptionError:
            self.exact = False

    def encrypt(self, values: Sequence[tuple[str, str]]) -> list[str]:
        if not self.exact:
            return [self.cipher.encrypt(field, plaintext) for field, plaintext in values]
        nonces = os.urandom(NONCE_BYTES * len(values))
        seal, encode, prefix = self._aead.encrypt, base64.urlsafe_b64encode, f"{self.key_id}:"
        tokens = []
        start = 0
        for field, plaintext in values:
            nonce = nonces[start : start + NONCE_BYTES]
            start += NONCE_BYTES
            tokens.append(prefix + encode(nonce + seal(nonce, plaintext.encode(), field.encode())).decode())
        return tokens
