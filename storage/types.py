"""Column types: encrypted text/JSON and timezone-aware UTC timestamps on every backend."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator

from storage import crypto

log = logging.getLogger(__name__)


class Sealed(TypeDecorator[Any]):
    """A value stored only as a padded v2 token (storage.crypto): every stored value of the
    column has the same length, None included, unless it is longer than `size` bytes.

    `size` is fixed per column from what may be typed there (e.g. a 500-character note is at
    most 1,500 bytes of UTF-8). `grows=True` is for staff texts without a tight limit (a
    broadcast): they take the next multiple of `size`. A teacher's value over its size is a
    bug in a limit, logged without the value.
    """

    impl = Text
    cache_ok = True

    def __init__(self, size: int, *, grows: bool = False) -> None:
        super().__init__()
        self.size = size
        self.grows = grows

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, content: bytes) -> Any:
        raise NotImplementedError

    def process_bind_param(self, value: Any, dialect: Any) -> str:
        content = None if value is None else self.encode(value)
        if content is not None and not self.grows and crypto.padded_size(len(content), self.size) > self.size:
            log.warning("a value of %d bytes exceeds its column's padded size %d", len(content), self.size)
        return crypto.active().seal(content, self.size)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        if value is None:
            return None
        content = crypto.active().open(value)
        return None if content is None else self.decode(content)


class EncryptedText(Sealed):
    """Free text, chat ids, file references."""

    cache_ok = True  # SQLAlchemy does not inherit it

    def encode(self, value: str) -> bytes:
        return value.encode()

    def decode(self, content: bytes) -> str:
        return content.decode()


class EncryptedJSON(Sealed):
    """Answers, results, scores, flags: JSON inside the token."""

    cache_ok = True

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    def decode(self, content: bytes) -> Any:
        return json.loads(content)


def text_size(limit: int) -> int:
    """Padded size for text of at most `limit` UTF-16 code units (Telegram's measure): a code
    unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4)."""
    return 3 * limit + 2


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC out; SQLite has no time zones, so store naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)
