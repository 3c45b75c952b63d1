"""Source paths no record of a batch holds: named, with the nearest path the records hold."""

from __future__ import annotations

from connector.mapping.model import MappingFile
from connector.mapping.unheld import UnheldPaths


def webhook(type_path: str) -> MappingFile:
    return MappingFile.model_validate(
        {
            "kind": "inbound",
            "source": "webhook.customers",
            "fields": [
                {"target": "external_id", "source": "data.id"},
                {"target": "customer_type", "source": type_path},
                {"target": "email", "source": "data.email"},
                {"target": "city", "source": "data.address.city"},
            ],
        }
    )


RECORDS = [
    {"type": "customer", "data": {"id": "c1", "type": "KA", "email": None, "address": {"city": "Köln"}}},
    {"type": "customer", "data": {"id": "c2", "type": "SME", "address": {"city": "Bonn"}}},
]


def test_a_misspelt_source_path_no_record_holds_is_named_with_the_path_the_records_hold_beside_it() -> None:
    unheld = UnheldPaths(webhook("data.typ"))
    unheld.see(RECORDS)

    assert [field.target for field in unheld.unheld] == ["customer_type"]
    assert unheld.note() == (
        "source paths the mapping webhook.customers reads are in none of the 2 record(s), so read as empty: "
        "'data.typ' (customer_type) — did you mean 'data.type'?; if the records name them otherwise, "
        "rename their `source`"
    )


def test_a_path_held_by_one_record_of_the_batch_or_held_empty_is_not_named() -> None:
    unheld = UnheldPaths(webhook("data.type"))
    assert list(unheld.watching((f"[{n}]", record) for n, record in enumerate(RECORDS))) == [
        ("[0]", RECORDS[0]),
        ("[1]", RECORDS[1]),
    ]
    assert unheld.note() is None  # data.email: null in the first record, absent from the second


def test_no_hint_when_nothing_the_records_hold_is_near_and_none_when_no_record_was_seen() -> None:
    unheld = UnheldPaths(webhook("payload.kind"))
    assert unheld.note() is None
    unheld.see(RECORDS)
    note = unheld.note()
    assert note is not None
    assert "read as empty: 'payload.kind' (customer_type); if" in note
