from __future__ import annotations

import base64
import errno
import json
import logging
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

import connector.bootstrap  # noqa: F401  (every model registered with the metadata)
from connector.db import Base
from connector.errors import DecryptionError, KeyStoreError
from connector.security.cipher import FieldCipher, key_id_of
from connector.security.keys import KeyRing, load_or_create_keyring, save_keyring
from connector.security.rotation import ENCRYPTED_COLUMNS
from connector.settings import SecuritySettings


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(KeyRing.generate())


def test_fields_round_trip_and_the_ciphertext_hides_the_value(cipher: FieldCipher) -> None:
    token = cipher.encrypt("customer.name", "上海明远贸易有限公司")
    assert "明远" not in token
    assert key_id_of(token) == cipher.ring.active_id
    assert cipher.decrypt("customer.name", token) == "上海明远贸易有限公司"


def test_encrypting_twice_gives_different_ciphertexts(cipher: FieldCipher) -> None:
    assert cipher.encrypt("customer.email", "a@b.cn") != cipher.encrypt("customer.email", "a@b.cn")


def test_a_ciphertext_moved_to_another_field_does_not_decrypt(cipher: FieldCipher) -> None:
    token = cipher.encrypt("customer.email", "a@b.cn")
    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.decrypt("customer.phone", token)


def test_a_tampered_ciphertext_does_not_decrypt(cipher: FieldCipher) -> None:
    token = cipher.encrypt("customer.name", "Northwind")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(DecryptionError):
        cipher.decrypt("customer.name", tampered)


def test_a_ciphertext_under_an_unknown_key_names_the_key_id(cipher: FieldCipher) -> None:
    other = FieldCipher(KeyRing.generate())
    with pytest.raises(DecryptionError, match="not in the key ring"):
        cipher.decrypt("customer.name", other.encrypt("customer.name", "x"))


def test_a_rotated_ring_reads_old_ciphertexts_and_writes_with_the_new_key(cipher: FieldCipher) -> None:
    old_token = cipher.encrypt("customer.name", "王小明")
    rotated = FieldCipher(cipher.ring.rotated())
    assert rotated.decrypt("customer.name", old_token) == "王小明"
    assert key_id_of(rotated.encrypt("customer.name", "x")) == rotated.ring.active_id != cipher.ring.active_id


def test_blind_index_matches_normalised_values_and_survives_rotation(cipher: FieldCipher) -> None:
    assert cipher.blind_index("email", " Finance@Example.CN ") == cipher.blind_index(
        "email", "finance@example.cn"
    )
    assert cipher.blind_index("phone", "+86 138-0013-8000") == cipher.blind_index("phone", "+8613800138000")
    assert cipher.blind_index("bank_account", "gb29 nwbk 6016") == cipher.blind_index(
        "bank_account", "GB29NWBK6016"
    )
    assert cipher.blind_index("email", "a@b.cn") != cipher.blind_index("phone", "a@b.cn")
    extension = cipher.blind_index("phone", "+861065123456;ext=101")
    assert extension not in {
        cipher.blind_index("phone", n) for n in ("+861065123456", "+861065123456;ext=205")
    }
    assert extension != cipher.blind_index("phone", "+861065123456101")  # digits run on are another number
    rotated = FieldCipher(cipher.ring.rotated())
    assert rotated.blind_index("email", "a@b.cn") == cipher.blind_index("email", "a@b.cn")


def test_the_key_ring_repr_never_shows_key_material() -> None:
    ring = KeyRing.generate()
    text = repr(ring)
    assert ring.active_id in text
    encoded = [base64.b64encode(key).decode() for key in [*ring.keys.values(), ring.index_key]]
    assert all(value in ring.to_json() and value not in text for value in encoded)


def test_without_configured_keys_a_0600_key_file_is_created_once_and_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = SecuritySettings(keys_file=tmp_path / "keys.json")
    with caplog.at_level(logging.WARNING):
        first = load_or_create_keyring(settings)
        second = load_or_create_keyring(settings)
    assert first == second
    assert stat.S_IMODE(os.stat(settings.keys_file).st_mode) == 0o600
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "created the local key file" in caplog.records[0].message


def test_a_key_file_another_process_created_meanwhile_is_read_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = SecuritySettings(keys_file=tmp_path / "keys.json")
    theirs = KeyRing.generate()
    generate = KeyRing.generate

    def generated_as_another_process_saves_its_own() -> KeyRing:
        save_keyring(settings.keys_file, theirs)  # it found no key file either, a moment earlier
        return generate()

    monkeypatch.setattr(KeyRing, "generate", generated_as_another_process_saves_its_own)
    with caplog.at_level(logging.WARNING):
        ring = load_or_create_keyring(settings)
    assert ring == theirs
    assert load_or_create_keyring(settings) == theirs
    assert "created the local key file" not in caplog.text
    assert [path.name for path in tmp_path.iterdir()] == ["keys.json"]


@pytest.mark.parametrize("made_meanwhile", [False, True], ids=["none-yet", "made-meanwhile"])
def test_a_key_file_is_made_where_the_file_system_has_no_hard_links_and_one_made_meanwhile_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made_meanwhile: bool
) -> None:
    settings = SecuritySettings(keys_file=tmp_path / "keys.json")
    theirs = KeyRing.generate()

    def no_hard_links(source: str, destination: str, *_: object, **__: object) -> None:
        if made_meanwhile:
            save_keyring(settings.keys_file, theirs)
        raise PermissionError(errno.EPERM, "Operation not permitted", source, None, destination)

    monkeypatch.setattr(os, "link", no_hard_links)
    ring = load_or_create_keyring(settings)

    assert (ring == theirs) is made_meanwhile
    assert load_or_create_keyring(settings) == ring
    assert stat.S_IMODE(os.stat(settings.keys_file).st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["keys.json"]


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    save_keyring(path, KeyRing.generate())
    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        load_or_create_keyring(SecuritySettings(keys_file=path))


def test_a_key_file_saved_in_another_encoding_is_refused_with_a_reason_not_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    save_keyring(path, KeyRing.generate())
    path.write_bytes(path.read_text().encode("utf-16"))
    with pytest.raises(KeyStoreError, match="not UTF-8 text"):
        load_or_create_keyring(SecuritySettings(keys_file=path))


def test_keys_from_settings_are_validated_with_a_clear_reason() -> None:
    with pytest.raises(KeyStoreError, match="not JSON"):
        load_or_create_keyring(SecuritySettings(encryption_keys=SecretStr("nope")))
    with pytest.raises(KeyStoreError, match="must be 32 bytes"):
        load_or_create_keyring(
            SecuritySettings(
                encryption_keys=SecretStr('{"active":"a","keys":{"a":"AAAA"},"index_key":"AAAA"}')
            )
        )
    without_active = json.loads(KeyRing.generate().to_json())
    del without_active["active"]
    with pytest.raises(KeyStoreError, match=r"'active' .* is missing"):
        load_or_create_keyring(SecuritySettings(encryption_keys=SecretStr(json.dumps(without_active))))
    ring = KeyRing.generate()
    loaded = load_or_create_keyring(SecuritySettings(encryption_keys=SecretStr(ring.to_json())))
    assert loaded == ring


def test_key_rotation_knows_every_encrypted_column_of_the_schema() -> None:
    encrypted = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_enc")
    }
    rotated = {(model.__tablename__, attribute) for model, attribute, _ in ENCRYPTED_COLUMNS}
    assert encrypted == rotated
