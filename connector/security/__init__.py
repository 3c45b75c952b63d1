"""Encryption of personal data at rest: key ring, AES-GCM field cipher, blind indexes."""

from __future__ import annotations
