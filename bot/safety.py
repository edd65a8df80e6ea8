"""Crisis signals in free text. The phrase lists are locale data
(`locales/<lang>/crisis_phrases.txt`, one phrase per line), curated, not code."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from bot.config import LANGUAGES
from bot.paths import LOCALES

_NON_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lower case, ё as е, punctuation as spaces, padded so phrases match whole words."""
    text = text.lower().replace("ё", "е")
    return " " + _NON_WORD.sub(" ", text).strip() + " "


@lru_cache(maxsize=1)
def phrases(locales: Path = LOCALES) -> tuple[str, ...]:
    found = []
    for language in LANGUAGES:
        path = locales / language / "crisis_phrases.txt"
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(normalise(line))
    if not found:
        raise ValueError(f"no crisis phrases in {locales}")
    return tuple(found)


def is_crisis(text: str | None) -> bool:
    if not text:
        return False
    normalised = normalise(text)
    return any(phrase in normalised for phrase in phrases())
