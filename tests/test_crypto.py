"""Encryption at rest, blind index, pseudonyms, local key generation, rotation."""

import base64
import stat

import pytest
from cryptography.fernet import Fernet

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
    assert not rotated.is_current(token)
    fresh = rotated.rotate(token, 64)
    assert rotated.is_current(fresh)
    only_new = crypto.Crypto.from_keys([new_key], TEST_HMAC)
    assert only_new.decrypt(fresh) == "note"
    with pytest.raises(crypto.UnreadableToken):
        only_new.decrypt(token)


def test_length_tells_nothing_within_the_size(test_crypto):
    """A short and a long value, and no value at all, give tokens of one length."""
    tokens = [test_crypto.seal(content, 100) for content in (None, b"", b"1", "ә".encode() * 49)]
    assert {len(token) for token in tokens} == {crypto.token_length(100)}
    assert [test_crypto.open(token) for token in tokens] == [None, b"", b"1", "ә".encode() * 49]
    longer = test_crypto.seal(b"x" * 99, 100)  # over the size: the next multiple, still readable
    assert len(longer) == crypto.token_length(200) and test_crypto.open(longer) == b"x" * 99


def test_no_clear_write_time_and_tampering_is_refused(test_crypto):
    first, second = test_crypto.seal(b"same", 32), test_crypto.seal(b"same", 32)
    raw = [crypto._b64decode(t) for t in (first, second)]
    # Fernet puts an 8-byte timestamp after its version byte; a v2 token has the key id there:
    # the same for every token of one key, and nothing else in clear.
    assert raw[0][:5] == raw[1][:5] and raw[0][5:] != raw[1][5:]
    flipped = bytearray(raw[0])
    flipped[-1] ^= 1
    with pytest.raises(crypto.UnreadableToken):
        test_crypto.open(base64.urlsafe_b64encode(bytes(flipped)).decode())


def test_fernet_tokens_written_before_v2_are_read(test_crypto):
    legacy = Fernet(TEST_KEYS[0].encode()).encrypt("старая заметка".encode()).decode()
    assert test_crypto.decrypt(legacy) == "старая заметка"
    assert not test_crypto.is_current(legacy)


def test_blind_index_is_keyed_and_stable():
    a = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC)
    b = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC + "x")
    assert a.user_index(42) == a.user_index(42)
    assert a.user_index(42) != a.user_index(43)
    assert a.user_index(42) != b.user_index(42)
    assert "42" not in a.user_index(42)


def test_blind_indexes_are_remembered_within_a_bounded_memory():
    """Each update computes its user's index once (4-6 lookups a press); a country of users never
    grows the memory, and a forgotten index is computed again to the same value."""
    keys = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC)
    first = keys.user_index(1)
    for user in range(2, crypto.INDEXES_KEPT + 10):
        keys.user_index(user)
    assert len(keys._indexes) <= crypto.INDEXES_KEPT
    assert keys.user_index(1) == first == crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC).user_index(1)


def test_pseudonym_shape_and_stability():
    index = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC).user_index(1001)
    code = crypto.pseudonym_for(index)
    assert code == crypto.pseudonym_for(index)
    assert code.startswith("T-") and len(code) == 8
    assert not set(code[2:]) & set("ILOU")
    assert crypto.pseudonym_for(index, 1) != code


@pytest.mark.parametrize(
    ("keys", "hmac_key", "named"),
    [
        ([], TEST_HMAC, "security.encryption_keys"),
        (["nope"], TEST_HMAC, "encryption_keys[0]"),
        (TEST_KEYS, "short", "security.hmac_key"),
    ],
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
