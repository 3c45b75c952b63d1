"""AES-GCM encryption of personal-data fields and keyed-hash blind indexes for look-ups.

A ciphertext is the text `KEYID:BASE64URL(nonce || ciphertext+tag)`; the field name is the
associated data, so a ciphertext moved to another column fails to decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connector.errors import DecryptionError
from connector.security.keys import KeyRing

NONCE_BYTES = 12


def key_id_of(token: str) -> str:
    return token.split(":", 1)[0]


class FieldCipher:
    def __init__(self, ring: KeyRing) -> None:
        self.use(ring)

    def use(self, ring: KeyRing) -> None:
        """Seal with `ring` from now on (a rotated key file, read again by a running process); every
        holder of this cipher follows. One assignment: a thread sealing meanwhile sees either ring."""
        self._state = (ring, {kid: AESGCM(key) for kid, key in ring.keys.items()})

    @property
    def ring(self) -> KeyRing:
        return self._state[0]

    def encrypt(self, field: str, plaintext: str) -> str:
        ring, aead = self._state
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead[ring.active_id].encrypt(nonce, plaintext.encode(), field.encode())
        return f"{ring.active_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, field: str, token: str) -> str:
        kid, _, body = token.partition(":")
        aead = self._state[1].get(kid)
        if aead is None:
            raise DecryptionError(f"{field}: ciphertext uses key id {kid!r}, which is not in the key ring")
        try:
            raw = base64.urlsafe_b64decode(body)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], field.encode()).decode()
        except (InvalidTag, ValueError):
            raise DecryptionError(f"{field}: ciphertext failed authentication (key {kid!r})") from None

    def encrypt_optional(self, field: str, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(field, plaintext)

    def decrypt_optional(self, field: str, token: str | None) -> str | None:
        return None if token is None else self.decrypt(field, token)

    def blind_index(self, kind: str, value: str) -> str:
        """A keyed hash of the normalised value: equal inputs match, the value itself is not revealed."""
        normalised = normalise_for_index(kind, value)
        digest = hmac.new(self.ring.index_key, f"{kind}\x00{normalised}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


def normalise_for_index(kind: str, value: str) -> str:
    """Canonical form for look-ups: e-mails case-folded and without a +tag (li+shop@ is li@'s mailbox),
    phones (and their extension) and bank accounts reduced to their digits."""
    text = unicodedata.normalize("NFKC", value).strip()
    if kind == "email":
        local, at, domain = text.casefold().rpartition("@")
        return f"{local.split('+', 1)[0] or local}{at}{domain}" if at else text.casefold()
    if kind == "phone":
        number, _, extension = text.partition(";ext=")  # the `phone` converter's RFC 3966 extension
        digits = ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)
        return digits + (";ext=" + re.sub(r"\D", "", extension) if extension else "")
    if kind == "bank_account":
        return re.sub(r"[\s\-]", "", text).upper()
    return text
