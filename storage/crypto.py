"""Encryption at rest, blind indexes and pseudonyms.

Telegram ids never reach the database: look-ups go through an HMAC-SHA256 blind index,
and what must be read back (the chat id to send to, free text, answers) is encrypted
with MultiFernet (AES-128-CBC + HMAC-SHA256): the first key encrypts, every key
decrypts, which is what key rotation needs.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, MultiFernet

log = logging.getLogger(__name__)

# Crockford's base32 without I, L, O, U: nothing a teacher could misread or read as a word.
_PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PSEUDONYM_LENGTH = 6


class CryptoKeyError(ValueError):
    """A configured key is not usable."""


@dataclass(frozen=True)
class Crypto:
    fernet: MultiFernet
    hmac_key: bytes

    @classmethod
    def from_keys(cls, encryption_keys: list[str], hmac_key: str) -> Crypto:
        if not encryption_keys:
            raise CryptoKeyError("security.encryption_keys: at least one key is needed")
        fernets = []
        for position, key in enumerate(encryption_keys):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except (ValueError, TypeError):
                raise CryptoKeyError(
                    f"security.encryption_keys[{position}]: not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with `python -m bot keys generate`)"
                ) from None
        if len(hmac_key.strip()) < 32:
            raise CryptoKeyError("security.hmac_key: must be at least 32 characters")
        return cls(MultiFernet(fernets), hmac_key.strip().encode())

    def encrypt(self, plaintext: str) -> str:
        return self.fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self.fernet.decrypt(token.encode("ascii")).decode()

    def rotate(self, token: str) -> str:
        """Re-encrypt under the first key (MultiFernet decrypts with any)."""
        return self.fernet.rotate(token.encode("ascii")).decode("ascii")

    def blind_index(self, namespace: str, value: str | int) -> str:
        message = f"{namespace}:{value}".encode()
        return hmac.new(self.hmac_key, message, hashlib.sha256).hexdigest()

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
    """Keys for a fresh checkout: generated once into data/ (mode 0600) and reused."""
    path = data_dir / "keys.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return stored["encryption_keys"], stored["hmac_key"]
    data_dir.mkdir(parents=True, exist_ok=True)
    stored = {"encryption_keys": [generate_encryption_key()], "hmac_key": generate_hmac_key()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(stored, handle)
    log.warning(
        "No encryption keys configured: generated new ones into %s (mode 0600). "
        "Fine for trying Demeu out; in production set DEMEU_ENCRYPTION_KEYS and DEMEU_HMAC_KEY "
        "and keep a copy: without the keys the data cannot be read.",
        path,
    )
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


def json_dumps_encrypted(value: Any) -> str:
    return active().encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def json_loads_encrypted(token: str) -> Any:
    return json.loads(active().decrypt(token))
