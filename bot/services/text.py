"""Text lengths as Telegram counts them: in UTF-16 code units (an emoji is usually two)."""

from __future__ import annotations


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate_utf16(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` code units, never splitting a surrogate pair."""
    if utf16_len(text) <= limit:
        return text
    units = text.encode("utf-16-le")[: 2 * limit]
    return units.decode("utf-16-le", errors="ignore")
