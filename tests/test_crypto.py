"""Encryption at rest, blind index, pseudonyms, local key generation, rotation."""
import stat

import pytest
from cryptography.fernet import InvalidToken

from storage import crypto
from tests.conftest import TEST_HMAC, TEST_KEYS


def test_encrypt_roundtrip_and_randomised(test_crypto):
    first = test_crypto.encrypt("Мен шаршадым")
    assert first != test_crypto.encrypt("Мен шаршадым")
    assert "шаршадым" not in first
    assert test_crypto.decrypt(first) == "Мен шаршадым"


def test_first_key_encrypts_all_decrypt():
    old = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC)
    token = old.encrypt("note")
    new_key = crypto.generate_encryption_key()
    rotated = crypto.Crypto.from_keys([new_key, *TEST_KEYS], TEST_HMAC)
    assert rotated.decrypt(token) == "note"
    fresh = rotated.rotate(token)
    only_new = crypto.Crypto.from_keys([new_key], TEST_HMAC)
    assert only_new.decrypt(fresh) == "note"
    with pytest.raises(InvalidToken):
        only_new.decrypt(token)


def test_blind_index_is_keyed_and_stable():
    a = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC)
    b = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC + "x")
    assert a.user_index(42) == a.user_index(42)
    assert a.user_index(42) != a.user_index(43)
    assert a.user_index(42) != b.user_index(42)
    assert "42" not in a.user_index(42)


def test_pseudonym_shape_and_stability():
    index = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC).user_index(1001)
    code = crypto.pseudonym_for(index)
    assert code == crypto.pseudonym_for(index)
    assert code.startswith("T-") and len(code) == 8
    assert not set(code[2:]) & set("ILOU")
    assert crypto.pseudonym_for(index, 1) != code


@pytest.mark.parametrize(
    ("keys", "hmac_key", "named"),
    [([], TEST_HMAC, "security.encryption_keys"), (["nope"], TEST_HMAC, "encryption_keys[0]"), (TEST_KEYS, "short", "security.hmac_key")],
)
def test_bad_keys_name_the_key(keys, hmac_key, named):
    with pytest.raises(crypto.CryptoKeyError) as error:
        crypto.Crypto.from_keys(keys, hmac_key)
    assert named in str(error.value)


def test_local_keys_generated_once_with_mode_0600(tmp_path, caplog):
    keys, hmac_key = crypto.load_or_create_local_keys(tmp_path)
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "production" in caplog.text
    assert crypto.load_or_create_local_keys(tmp_path) == (keys, hmac_key)
    crypto.Crypto.from_keys(keys, hmac_key)
