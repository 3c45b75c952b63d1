"""Mapped source records as the customer master sees them, and what applying one came to."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from connector.security.cipher import FieldCipher

Outcome = Literal[
    "created", "updated", "unchanged", "stale", "linked", "review", "reactivated", "dismissed", "failed"
]
CONTACT_FIELDS = ("name", "email", "phone", "address")
# What the master itself reads of a mapped record (the policy's rules may read more).
MASTER_FIELDS = (*CONTACT_FIELDS, "external_id", "currency", "company", "city", "province", "country")
BINDING_RECORD = "customer_binding.record"
REVIEW_RECORD = "identity_review.record"


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    customer_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class SourceRecord:
    """A mapped record and where it comes from: what bindings, reviews and events are made of."""

    backend: str
    external_id: str
    values: Mapping[str, Any]
    content_hash: str
    mapping_digest: str

    def text(self, field: str) -> str | None:
        return text_of(self.values, field)

    def sealed(self, cipher: FieldCipher, field: str) -> str:
        return cipher.encrypt(field, record_json(self.values))


def record_json(values: Mapping[str, Any]) -> str:
    """The record as JSON in its mapping's field order, as reviews keep it (encrypted) for people."""
    return json.dumps(values, default=str, ensure_ascii=False)


_CANONICAL = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))


def canonical_json(values: Mapping[str, Any]) -> str:
    """The record as JSON independent of key order: what its content hash is taken of, and what its
    binding keeps (encrypted)."""
    return _CANONICAL.encode(values)


def hash_of(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


def content_hash(values: Mapping[str, Any]) -> str:
    """Hash of a mapped record, independent of key order: equal hashes mean nothing to apply."""
    return hash_of(canonical_json(values))


def modified_at(record: Mapping[str, Any]) -> datetime | None:
    """When its source last changed the record (`modified_at`: a datetime mapped, or the ISO text a
    binding keeps), as an aware instant; None when it does not say."""
    value = record.get("modified_at")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def text_of(record: Mapping[str, Any], field: str) -> str | None:
    """A field as stripped text; absent, None and blank are all None."""
    value = record.get(field)
    if value is None:
        return None
    return str(value).strip() or None
