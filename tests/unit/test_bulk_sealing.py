from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.master.identity import Incoming, rules_asked
from connector.master.sealing import BatchEncrypter, BlindIndexer
from connector.security.cipher import FieldCipher, key_id_of
from connector.security.keys import KeyRing

CIPHER = FieldCipher(KeyRing.generate())
INDEXER = BlindIndexer(CIPHER)


@settings(max_examples=300)
@given(kind=st.sampled_from(["name", "email", "phone", "bank_account"]), value=st.text())
def test_bulk_blind_indexes_are_the_ciphers_own(kind: str, value: str) -> None:
    assert INDEXER.exact
    assert INDEXER(kind, value) == CIPHER.blind_index(kind, value)


def test_bulk_ciphertexts_decrypt_with_the_cipher_and_each_has_its_own_nonce() -> None:
    values = [
        ("customer.name", "上海明远贸易有限公司"),
        ("customer.email", "a@b.cn"),
        ("customer.name", "上海明远贸易有限公司"),
    ]
    tokens = BatchEncrypter(CIPHER).encrypt(values)
    assert [CIPHER.decrypt(field, token) for (field, _), token in zip(values, tokens, strict=True)] == [
        value for _, value in values
    ]
    assert {key_id_of(token) for token in tokens} == {CIPHER.ring.active_id}
    assert tokens[0] != tokens[2]
    assert BatchEncrypter(CIPHER).encrypt([]) == []


class OtherIndexes(FieldCipher):
    """A cipher whose blind indexes are computed some other way than the stand-in assumes."""

    def blind_index(self, kind: str, value: str) -> str:
        return "x" + super().blind_index(kind, value)[1:]


class OtherFormat(FieldCipher):
    """A cipher whose ciphertexts look different from what the stand-in writes."""

    def encrypt(self, field: str, plaintext: str) -> str:
        return "v2:" + super().encrypt(field, plaintext)

    def decrypt(self, field: str, token: str) -> str:
        return super().decrypt(field, token.removeprefix("v2:"))


@pytest.mark.parametrize("cipher_class", [OtherIndexes, OtherFormat])
def test_the_stand_ins_use_the_cipher_itself_when_they_would_differ_from_it(
    cipher_class: type[FieldCipher],
) -> None:
    cipher = cipher_class(KeyRing.generate())
    indexer, encrypter = BlindIndexer(cipher), BatchEncrypter(cipher)
    assert indexer("email", "a@b.cn") == cipher.blind_index("email", "a@b.cn")
    [token] = encrypter.encrypt([("customer.email", "a@b.cn")])
    assert cipher.decrypt("customer.email", token) == "a@b.cn"
    assert (indexer.exact, encrypter.exact) == (
        cipher_class is not OtherIndexes,
        cipher_class is not OtherFormat,
    )


def test_only_the_rules_whose_identifiers_a_record_has_look_for_customers() -> None:
    order = ("external_id", "email", "phone", "name_region")
    assert rules_asked(Incoming("zoho", "1", "a@b.cn", None, "A", "SH"), order) == ("email", "name_region")
    assert rules_asked(Incoming("zoho", "1", None, "+861", None, "SH"), order) == ("phone",)
    assert rules_asked(Incoming("zoho", "1", "a@b.cn", "+861", "A", None), ("external_id", "phone")) == (
        "phone",
    )
