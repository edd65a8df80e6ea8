"""Encryption at rest, blind indexes and pseudonyms.

Telegram ids never reach the database: look-ups go through an HMAC-SHA256 blind index,
and what must be read back (the chat id to send to, free text, answers) is encrypted.

Token format (v2): ``0x02 | key id (4) | nonce (12) | AES-256-GCM(padded plaintext) + tag (16)``,
url-safe base64. Unlike Fernet it carries no clear write time, and the plaintext is padded
before encryption (a marker byte, then 0x80 0x00…, ISO/IEC 7816-4) to a size fixed per column,
so a token's length says nothing about the value (a PHQ-9 total of 0 and of 27 look the same).
Rotation as with MultiFernet: the first key encrypts, every key decrypts (found by its id);
Fernet tokens written before v2 are still read, and `keys rotate` rewrites them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage import files

log = logging.getLogger(__name__)

# Crockford's base32 without I, L, O, U: nothing a teacher could misread or read as a word.
_PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PSEUDONYM_LENGTH = 6

VERSION = 2
_KEY_ID, _NONCE, _TAG = 4, 12, 16
_HEADER = 1 + _KEY_ID + _NONCE
# The first plaintext byte says whether the value is None, so "no note" and "a note" are the same size.
_NONE, _VALUE = b"\x00", b"\x01"
OVERHEAD = _HEADER + _TAG


class CryptoKeyError(ValueError):
    """A configured key is not usable."""


class UnreadableToken(ValueError):
    """A stored value that none of the configured keys can read (or that was tampered with)."""


def padded_size(length: int, size: int) -> int:
    """The plaintext size for `length` bytes of content: `size`, or a multiple of it when longer."""
    needed = length + 2  # the None marker and the padding's 0x80
    return size * max(1, -(-needed // size))


def token_length(size: int) -> int:
    """The stored length of a token for a value that fits `size`: the same for every such value."""
    return len(base64.urlsafe_b64encode(bytes(size + OVERHEAD)).rstrip(b"="))


def _pad(content: bytes | None, size: int) -> bytes:
    body = _NONE if content is None else _VALUE + content
    total = padded_size(len(body) - 1, size)
    return body + b"\x80" + bytes(total - len(body) - 1)


def _unpad(padded: bytes) -> bytes | None:
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x80") or end[:1] not in (_NONE, _VALUE):
        raise UnreadableToken("bad padding")
    return None if end[:1] == _NONE else end[1:-1]


def _b64decode(token: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise UnreadableToken("not base64") from None


@dataclass(frozen=True)
class _Key:
    id: bytes
    aead: AESGCM
    fernet: Fernet  # reads tokens written before v2

    @classmethod
    def from_config(cls, key: str) -> _Key:
        fernet = Fernet(key.strip().encode())
        raw = base64.urlsafe_b64decode(key.strip().encode())
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"demeu aes-256-gcm v2").derive(
            raw
        )
        key_id = hmac.new(raw, b"demeu key id", hashlib.sha256).digest()[:_KEY_ID]
        return cls(key_id, AESGCM(derived), fernet)


INDEXES_KEPT = 4096  # blind indexes remembered: a user's update computes each once, not 4-6 times


@dataclass(frozen=True)
class Crypto:
    keys: tuple[_Key, ...]
    hmac_key: bytes
    _indexes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_keys(cls, encryption_keys: list[str], hmac_key: str) -> Crypto:
        if not encryption_keys:
            raise CryptoKeyError("security.encryption_keys: at least one key is needed")
        keys = []
        for position, key in enumerate(encryption_keys):
            try:
                keys.append(_Key.from_config(key))
            except (ValueError, TypeError, binascii.Error):
                raise CryptoKeyError(
                    f"security.encryption_keys[{position}]: not a key "
                    "(32 url-safe base64-encoded bytes; make one with `python -m bot keys generate`)"
                ) from None
        if len(hmac_key.strip()) < 32:
            raise CryptoKeyError("security.hmac_key: must be at least 32 characters")
        return cls(tuple(keys), hmac_key.strip().encode())

    def seal(self, content: bytes | None, size: int) -> str:
        """Encrypt `content` (None included) padded to `size` bytes under the first key."""
        key, nonce = self.keys[0], os.urandom(_NONCE)
        header = bytes([VERSION]) + key.id + nonce
        sealed = key.aead.encrypt(nonce, _pad(content, size), header)
        return base64.urlsafe_b64encode(header + sealed).rstrip(b"=").decode("ascii")

    def open(self, token: str) -> bytes | None:
        """The content of a token written by `seal` (or a Fernet token written before v2)."""
        raw = _b64decode(token)
        if raw[:1] == bytes([VERSION]) and len(raw) >= OVERHEAD:
            key_id, nonce = raw[1 : 1 + _KEY_ID], raw[1 + _KEY_ID : _HEADER]
            for key in self.keys:
                if key.id == key_id:
                    try:
                        return _unpad(key.aead.decrypt(nonce, raw[_HEADER:], raw[:_HEADER]))
                    except InvalidTag:
                        raise UnreadableToken("tampered or wrong key") from None
            raise UnreadableToken("written under a key that is not configured")
        try:
            return MultiFernet([key.fernet for key in self.keys]).decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise UnreadableToken("no configured key reads it") from None

    def is_current(self, token: str) -> bool:
        """True when the token is v2 under the first key (nothing for `keys rotate` to do)."""
        raw = _b64decode(token)
        return raw[:1] == bytes([VERSION]) and raw[1 : 1 + _KEY_ID] == self.keys[0].id

    def rotate(self, token: str, size: int) -> str:
        """Re-encrypt under the first key, padded to `size` (raises UnreadableToken)."""
        return self.seal(self.open(token), size)

    def encrypt(self, plaintext: str, size: int = 256) -> str:
        return self.seal(plaintext.encode(), size)

    def decrypt(self, token: str) -> str:
        content = self.open(token)
        if content is None:
            raise UnreadableToken("the token holds no value")
        return content.decode()

    def blind_index(self, namespace: str, value: str | int) -> str:
        message = f"{namespace}:{value}"
        index = self._indexes.get(message)
        if index is None:
            if len(self._indexes) >= INDEXES_KEPT:
                self._indexes.clear()  # bounded; the next updates compute theirs again
            index = self._indexes[message] = hmac.new(
                self.hmac_key, message.encode(), hashlib.sha256
            ).hexdigest()
        return index

    def user_index(self, telegram_user_id: int) -> str:
        return self.blind_index("tg-user", telegram_user_id)


def pseudonym_for(blind_index: str, attempt: int = 0) -> str:
    """A short stable code such as T-7F3K9Q derived from the blind index.

    `attempt` > 0 derives the next candidate when a code is already taken.
    """
    digest = hashlib.sha256(f"{blind_index}:{attempt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(PSEUDONYM_LENGTH):
        number, rest = divmod(number, len(_PSEUDONYM_ALPHABET))
        chars.append(_PSEUDONYM_ALPHABET[rest])
    return "T-" + "".join(chars)


def generate_encryption_key() -> str:
    return Fernet.generate_key().decode("ascii")


def generate_hmac_key() -> str:
    return secrets.token_urlsafe(48)


def load_or_create_local_keys(data_dir: Path) -> tuple[list[str], str]:
    """Keys for a fresh checkout: generated once into data/ (mode 0600, the folder 0700) and reused.

    Two processes starting at once (the bot and `invite`) must end with the same keys: each
    writes a complete file aside and links it into place, which only the first one does."""
    path = data_dir / "keys.json"
    if not path.exists():
        files.private_dir(data_dir)
        stored = {"encryption_keys": [generate_encryption_key()], "hmac_key": generate_hmac_key()}
        aside = data_dir / f".keys.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(stored, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(aside, path)
            log.warning(
                "No encryption keys configured: generated new ones into %s (mode 0600). "
                "Fine for trying Demeu out; in production set DEMEU_ENCRYPTION_KEYS and DEMEU_HMAC_KEY "
                "and keep a copy: without the keys the data cannot be read.",
                path,
            )
        except FileExistsError:
            pass  # another process was first: its keys are the ones
        finally:
            aside.unlink()
    stored = json.loads(path.read_text())
    return stored["encryption_keys"], stored["hmac_key"]


# The active Crypto used by the encrypted column types. A deployment has one set of keys,
# so a process-wide holder is enough; tests that need other keys install their own.
_active: Crypto | None = None


def install(crypto: Crypto) -> None:
    global _active
    _active = crypto


def active() -> Crypto:
    if _active is None:
        raise RuntimeError("encryption keys are not installed (storage.crypto.install)")
    return _active


# Conversation state and data in Redis: padded like the database's FSM columns (bot/telegram/fsm.py).
FSM_DATA_SIZE = 4096


def json_dumps_encrypted(value: Any) -> str:
    return active().encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")), FSM_DATA_SIZE)


def json_loads_encrypted(token: str) -> Any:
    return json.loads(active().decrypt(token))
