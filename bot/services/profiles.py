"""What a psychologist may write in the profile teachers see, and how its choices change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from bot.services.text import truncate_utf16, utf16_len
from storage.models import PsychologistProfile
from storage.models.booking import split_codes
from storage.repo.booking import profile_ready

# Free-text fields, their length limits and their columns.
TEXT_LIMITS = {"name": 64, "address": 200, "link": 200, "bio_kk": 600, "bio_ru": 600}
COLUMNS = {
    "name": "display_name",
    "address": "address",
    "link": "video_link",
    "bio_kk": "bio_kk",
    "bio_ru": "bio_ru",
}
Choice = Literal["languages", "formats", "regions"]


def valid_link(value: str) -> bool:
    """One https address a teacher can open: one line, no spaces, a host with a dot, within its
    limit (a link is refused, never cut: a shortened link leads elsewhere)."""
    if any(c.isspace() for c in value) or utf16_len(value) > TEXT_LIMITS["link"]:
        return False
    parts = urlsplit(value)
    return parts.scheme == "https" and "." in (parts.hostname or "")


def set_text(profile: PsychologistProfile, field: str, text: str) -> bool:
    """Sets a free-text field, cut to its limit in UTF-16 units as Telegram counts (empty clears
    it); False, nothing set, for a link that is not valid. The profile is shown to teachers only
    while it is complete."""
    value = text.strip()
    if field == "link":
        if value and not valid_link(value):
            return False
    else:
        value = truncate_utf16(value, TEXT_LIMITS.get(field, 0))
    if field in COLUMNS:
        setattr(profile, COLUMNS[field], value or ("" if field == "name" else None))
    profile.published = profile_ready(profile)
    return True


def toggle(profile: PsychologistProfile, column: Choice, code: str, allowed: Iterable[str]) -> None:
    """Adds or removes one code of a multiple choice, kept in the order of `allowed`; an unknown code
    changes nothing."""
    allowed = list(allowed)
    if code not in allowed:
        return
    codes = split_codes(getattr(profile, column))
    chosen = [c for c in codes if c != code] if code in codes else [*codes, code]
    setattr(profile, column, ",".join(c for c in allowed if c in chosen))
    profile.published = profile_ready(profile)
